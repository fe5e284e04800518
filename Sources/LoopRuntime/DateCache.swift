import Glibc

/// The serialized `Date` header line of the current second, one per thread.
///
/// Formatting a date costs far more than reading a coarse clock, so each
/// response only checks the clock (CLOCK_REALTIME_COARSE is served from the
/// vDSO: no system call) and re-formats at most once per second.
/// Ownership: the loop thread that created it (its `LoopContext`).
public final class DateCache {
    // safety: 37 bytes, "Date: " + IMF-fixdate (29) + CRLF, owned by this object.
    private let line: UnsafeMutableRawPointer
    private var second: Int = -1
    public static let lineLength = 37

    public init() {
        line = .allocate(byteCount: DateCache.lineLength, alignment: 8)
        let prefix: StaticString = "Date: "
        line.copyMemory(from: prefix.utf8Start, byteCount: 6)
        line.storeBytes(of: 0x0D, toByteOffset: 35, as: UInt8.self)
        line.storeBytes(of: 0x0A, toByteOffset: 36, as: UInt8.self)
        refresh()
    }

    deinit { line.deallocate() }

    /// "Date: Wed, 25 Nov 2026 20:37:35 GMT\r\n", current to the second.
    @inline(__always)
    public var headerLine: UnsafeRawBufferPointer {
        refresh()
        return UnsafeRawBufferPointer(start: line, count: DateCache.lineLength)
    }

    /// The line as of the last `refresh`; the memory stays put for the
    /// cache's lifetime, so writers may hold the pointer.
    public var linePointer: UnsafeRawPointer { UnsafeRawPointer(line) }

    @inline(__always)
    public func refresh() {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME_COARSE, &now)
        if now.tv_sec != second { format(seconds: now.tv_sec) }
    }

    private func format(seconds: Int) {
        second = seconds
        HTTPDate.format(seconds, into: line + 6)
    }
}

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 section 5.6.7),
/// formatted into caller memory: the one formatter of `Date` lines and of
/// `Last-Modified`.
public enum HTTPDate {
    public static let length = 29
    private static let days: StaticString = "SunMonTueWedThuFriSat"
    private static let months: StaticString = "JanFebMarAprMayJunJulAugSepOctNovDec"

    /// Writes the 29 bytes of `seconds` (since the epoch) at `out`.
    public static func format(_ seconds: Int, into out: UnsafeMutableRawPointer) {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        let d = Int(parts.tm_wday) * 3, m = Int(parts.tm_mon) * 3
        for k in 0..<3 {
            out.storeBytes(of: days.utf8Start[d + k], toByteOffset: k, as: UInt8.self)
            out.storeBytes(of: months.utf8Start[m + k], toByteOffset: 8 + k, as: UInt8.self)
        }
        put(out, 3, 0x2C); put(out, 4, 0x20)
        two(out, 5, parts.tm_mday); put(out, 7, 0x20); put(out, 11, 0x20)
        let year = parts.tm_year + 1900
        two(out, 12, year / 100); two(out, 14, year % 100); put(out, 16, 0x20)
        two(out, 17, parts.tm_hour); put(out, 19, 0x3A); two(out, 20, parts.tm_min); put(out, 22, 0x3A)
        two(out, 23, parts.tm_sec)
        put(out, 25, 0x20); put(out, 26, 0x47); put(out, 27, 0x4D); put(out, 28, 0x54)  // " GMT"
    }

    /// The month (0-11) whose three letters are at `b`, or nil.
    public static func month(_ b: UnsafeRawBufferPointer) -> Int? {
        guard b.count == 3 else { return nil }
        for m in 0..<12 where b[0] == months.utf8Start[3 * m] && b[1] == months.utf8Start[3 * m + 1] && b[2] == months.utf8Start[3 * m + 2] {
            return m
        }
        return nil
    }

    // Static helpers, not nested functions: a nested function capturing
    // state may allocate in unoptimized builds, which tests run.
    @inline(__always)
    private static func put(_ out: UnsafeMutableRawPointer, _ i: Int, _ b: UInt8) { out.storeBytes(of: b, toByteOffset: i, as: UInt8.self) }
    @inline(__always)
    private static func two(_ out: UnsafeMutableRawPointer, _ i: Int, _ v: Int32) {
        put(out, i, UInt8(0x30 + v / 10))
        put(out, i + 1, UInt8(0x30 + v % 10))
    }
}
