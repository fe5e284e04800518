import Glibc
import LoopRuntime

/// RFC 9110's validators and byte ranges for static files, on bytes: no
/// String and no allocation per request (output goes to the caller's arena
/// memory).
///
/// - `ETag`: strong, `"<inode>-<size>-<mtime in ns>"` in hex, so any change
///   of content through the file system (a rewrite, a rename over it) gives a
///   new tag.
/// - `Last-Modified`: the file's mtime as an IMF-fixdate.
/// - Conditionals, in RFC 9110 section 13.2.2's order for GET and HEAD:
///   `If-None-Match` (weak comparison; `*` matches any file) and, only when
///   it is absent, `If-Modified-Since` (a date in the future is ignored);
///   either gives 304. `If-Range` (strong comparison, or the exact date)
///   decides whether `Range` applies.
/// - `Range`: `bytes=` ranges (`a-b`, `a-`, `-n`): one gives 206 with
///   `Content-Range`; up to `maxRanges` ascending, disjoint ones give 206
///   `multipart/byteranges`; more, or out of order or overlapping, the whole
///   file (200: RFC 9110 lets a server ignore Range, and many small or
///   overlapping ranges are a known way to make a server work for little);
///   only unsatisfiable ones (starting at or past the end) give 416 with
///   `Content-Range: bytes */LENGTH`; anything not `bytes=` is ignored.
enum FileValidators {
    /// The longest ETag: two quotes, three 16-digit hex numbers, two dashes.
    static let maxETagBytes = 52

    /// Writes the strong ETag of a file into `out`; returns its length.
    /// (Static helpers, not nested functions: a nested function that captures
    /// a `var` boxes it on the heap in unoptimized builds, which the
    /// allocation tests run.)
    static func etag(inode: UInt64, size: Int, mtimeNanoseconds: Int, into out: UnsafeMutableRawBufferPointer) -> Int {
        var n = 0
        out[n] = 0x22; n += 1
        n = appendHex(inode, out, at: n)
        out[n] = 0x2D; n += 1
        n = appendHex(UInt64(max(size, 0)), out, at: n)
        out[n] = 0x2D; n += 1
        n = appendHex(UInt64(bitPattern: Int64(mtimeNanoseconds)), out, at: n)
        out[n] = 0x22; n += 1
        return n
    }

    /// Lowercase hex without leading zeros at `at`; returns the end.
    static func appendHex(_ value: UInt64, _ out: UnsafeMutableRawBufferPointer, at: Int) -> Int {
        var digits = 1
        while digits < 16 && value >> (4 * UInt64(digits)) != 0 { digits += 1 }
        for i in 0..<digits {
            let nibble = UInt8((value >> (4 * UInt64(digits - 1 - i))) & 0xF)
            out[at + i] = nibble < 10 ? 0x30 + nibble : 0x61 + nibble - 10
        }
        return at + digits
    }

    /// Decimal at `at`; returns the end.
    static func appendDecimal(_ value: Int, _ out: UnsafeMutableRawBufferPointer, at: Int) -> Int {
        var width = 1, rest = value
        while rest >= 10 { rest /= 10; width += 1 }
        rest = value
        for i in stride(from: width - 1, through: 0, by: -1) {
            out[at + i] = UInt8(0x30 + rest % 10)
            rest /= 10
        }
        return at + width
    }

    /// The IMF-fixdate of `seconds` (29 bytes) into `out` (LoopRuntime's `HTTPDate`).
    static func httpDate(_ seconds: Int, into out: UnsafeMutableRawBufferPointer) {
        HTTPDate.format(seconds, into: out.baseAddress!)
    }

    /// Seconds since the epoch of an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`);
    /// nil for anything else (the obsolete forms are not accepted: a
    /// conditional the server cannot read is ignored, never wrongly applied).
    static func parseHTTPDate(_ b: UnsafeRawBufferPointer) -> Int? {
        guard b.count == 29, b[3] == 0x2C, b[4] == 0x20, b[7] == 0x20, b[11] == 0x20, b[16] == 0x20,
              b[19] == 0x3A, b[22] == 0x3A, b[25] == 0x20, b[26] == 0x47, b[27] == 0x4D, b[28] == 0x54 else { return nil }
        guard let month = HTTPDate.month(UnsafeRawBufferPointer(rebasing: b[8..<11])), let day = number(b, 5, 2), let year = number(b, 12, 4), let hour = number(b, 17, 2),
              let minute = number(b, 20, 2), let second = number(b, 23, 2),
              (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        return Int(timegm(&parts))
    }

    private static func number(_ b: UnsafeRawBufferPointer, _ at: Int, _ digits: Int) -> Int? {
        var value = 0
        for i in at..<(at + digits) {
            guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }
            value = value * 10 + Int(b[i] - 0x30)
        }
        return value
    }

    /// `If-None-Match`: `*`, or a list of entity tags one of which equals
    /// `etag` by weak comparison (a `W/` prefix on either side ignored).
    static func noneMatch(_ header: UnsafeRawBufferPointer, etag: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        skipSpace(header, &i)
        if i < header.count && header[i] == 0x2A { return true }  // "*"
        return anyTag(header, from: i, equals: etag, weak: true)
    }

    /// `If-Range` holding an entity tag: strong comparison.
    static func rangeTagMatches(_ header: UnsafeRawBufferPointer, etag: UnsafeRawBufferPointer) -> Bool {
        guard header.count >= 2, header[0] == 0x22 else { return false }  // a weak tag never matches here
        return equal(header, etag)
    }

    private static func anyTag(_ header: UnsafeRawBufferPointer, from start: Int, equals etag: UnsafeRawBufferPointer, weak: Bool) -> Bool {
        var i = start
        while i < header.count {
            skipSpace(header, &i)
            if i + 1 < header.count && header[i] == 0x57 && header[i + 1] == 0x2F { i += 2 }  // W/
            guard i < header.count, header[i] == 0x22 else { return false }  // malformed: no match
            var end = i + 1
            while end < header.count && header[end] != 0x22 { end += 1 }
            guard end < header.count else { return false }
            if equal(UnsafeRawBufferPointer(rebasing: header[i...end]), etag) { return true }
            i = end + 1
            skipSpace(header, &i)
            guard i == header.count || header[i] == 0x2C else { return false }
            i += 1
        }
        return false
    }

    private static func skipSpace(_ b: UnsafeRawBufferPointer, _ i: inout Int) {
        while i < b.count && (b[i] == 0x20 || b[i] == 0x09) { i += 1 }
    }

    private static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        a.count == b.count && (a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
    }

    /// What a `Range` header asks of a file.
    enum Ranges: Equatable {
        /// Serve the whole file: no `bytes=` unit, malformed, an inverted
        /// range, more than `maxRanges`, or ranges out of order or overlapping.
        case whole
        /// Every range starts at or past the end (416).
        case unsatisfiable
        /// This many ranges, written to the caller's memory, ascending and
        /// disjoint (1: a single part; more: `multipart/byteranges`).
        case parts(Int)
    }

    /// The most ranges one request gets; more is answered with the whole
    /// file (many small ranges cost more than the file: RFC 9110 section 14.2
    /// lets a server ignore them).
    static let maxRanges = 8

    /// A run of decimal digits at `i` (moved past it); nil if none, or too large.
    private static func digits(_ header: UnsafeRawBufferPointer, _ i: inout Int) -> Int? {
        let start = i
        var value = 0
        while i < header.count && header[i] >= 0x30 && header[i] <= 0x39 {
            guard value < Int.max / 10 - 10 else { return nil }  // overflow: not a range we can serve
            value = value * 10 + Int(header[i] - 0x30)
            i += 1
        }
        return i > start ? value : nil
    }

    /// Parses `Range` for a file of `size` bytes into `out` (room for
    /// `maxRanges`). Unsatisfiable ranges among satisfiable ones are dropped.
    static func ranges(_ header: UnsafeRawBufferPointer, size: Int,
                       into out: UnsafeMutablePointer<(offset: Int, count: Int)>) -> Ranges {
        let unit: StaticString = "bytes="
        guard header.count > unit.utf8CodeUnitCount else { return .whole }
        for k in 0..<unit.utf8CodeUnitCount where header[k] | 0x20 != unit.utf8Start[k] | 0x20 { return .whole }
        var i = unit.utf8CodeUnitCount
        var count = 0
        var any = false
        while true {
            skipSpace(header, &i)
            if i < header.count && header[i] == 0x2C { i += 1; continue }  // an empty list element
            guard i < header.count else { break }
            let first = digits(header, &i)
            guard i < header.count, header[i] == 0x2D else { return .whole }
            i += 1
            let last = digits(header, &i)
            any = true
            switch (first, last) {
            case (nil, nil):
                return .whole
            case (nil, let suffix?):  // the last `suffix` bytes
                if suffix > 0 && size > 0 {
                    guard count < maxRanges else { return .whole }
                    let length = min(suffix, size)
                    out[count] = (size - length, length)
                    count += 1
                }
            case (let start?, let end):
                if let end, end < start { return .whole }  // invalid: the header is ignored
                if start < size {
                    guard count < maxRanges else { return .whole }
                    out[count] = (start, min(end ?? size - 1, size - 1) - start + 1)
                    count += 1
                }
            }
            skipSpace(header, &i)
            guard i == header.count || header[i] == 0x2C else { return .whole }
        }
        guard any else { return .whole }
        guard count > 0 else { return .unsatisfiable }
        for k in 1..<max(count, 1) where out[k].offset < out[k - 1].offset + out[k - 1].count {
            return .whole  // out of order or overlapping: the whole file, once
        }
        return .parts(count)
    }
}
