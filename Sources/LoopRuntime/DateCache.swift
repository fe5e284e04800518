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

    private static let days: StaticString = "SunMonTueWedThuFriSat"
    private static let months: StaticString = "JanFebMarAprMayJunJulAugSepOctNovDec"

    private func format(seconds: Int) {
        second = seconds
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        let out = line + 6
        func put(_ i: Int, _ b: UInt8) { out.storeBytes(of: b, toByteOffset: i, as: UInt8.self) }
        func two(_ i: Int, _ v: Int32) { put(i, UInt8(0x30 + v / 10)); put(i + 1, UInt8(0x30 + v % 10)) }
        let d = Int(parts.tm_wday) * 3, m = Int(parts.tm_mon) * 3
        for k in 0..<3 {
            put(k, DateCache.days.utf8Start[d + k])
            put(8 + k, DateCache.months.utf8Start[m + k])
        }
        put(3, 0x2C); put(4, 0x20)
        two(5, parts.tm_mday); put(7, 0x20); put(11, 0x20)
        let year = parts.tm_year + 1900
        two(12, year / 100); two(14, year % 100); put(16, 0x20)
        two(17, parts.tm_hour); put(19, 0x3A); two(20, parts.tm_min); put(22, 0x3A); two(23, parts.tm_sec)
        put(25, 0x20); put(26, 0x47); put(27, 0x4D); put(28, 0x54)  // " GMT"
    }
}
