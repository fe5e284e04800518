/// Character classes from RFC 9110 / RFC 3986 as 256-entry tables, so each
/// byte is classified with one load instead of a chain of comparisons.
enum ByteClass {
    /// tchar: "!#$%&'*+-.^_`|~" / DIGIT / ALPHA (RFC 9110 section 5.6.2).
    static let token: [Bool] = table { b in
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
            || "!#$%&'*+-.^_`|~".utf8.contains(b)
    }

    /// Bytes allowed inside a field value: HTAB, SP, VCHAR, obs-text.
    /// Excludes CR, LF, NUL, the other controls and DEL (RFC 9110 section 5.5).
    static let fieldValue: [Bool] = table { b in b == 0x09 || (b >= 0x20 && b != 0x7F) }

    /// Bytes allowed in a request target: RFC 3986 unreserved, reserved,
    /// '%' for pct-encoding. Controls, space, DEL, '"', '<', '>', '\', '^',
    /// '`', '{', '|', '}', '#' and non-ASCII are rejected.
    static let target: [Bool] = table { b in
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
            || "-._~:/?[]@!$&'()*+,;=%".utf8.contains(b)
    }

    /// Bytes allowed in a Host value: reg-name, IP-literal brackets, port.
    static let host: [Bool] = table { b in
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
            || "-._~!$&'()*+,;=%:[]".utf8.contains(b)
    }

    private static func table(_ member: (UInt8) -> Bool) -> [Bool] {
        (0...255).map { member(UInt8($0)) }
    }
}

extension Array where Element == Bool {
    @inline(__always)
    func contains(byte: UInt8) -> Bool {
        // safety: every table above has 256 entries, one per byte value.
        withUnsafeBufferPointer { $0[Int(byte)] }
    }
}

@inline(__always) func lowercased(_ b: UInt8) -> UInt8 { (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b }

/// Case-insensitive comparison of bytes with a lowercase ASCII name.
@inline(__always)
func equalsLowercase(_ bytes: UnsafeRawBufferPointer, _ name: StaticString) -> Bool {
    guard bytes.count == name.utf8CodeUnitCount else { return false }
    let p = name.utf8Start
    for i in 0..<bytes.count where lowercased(bytes[i]) != p[i] { return false }
    return true
}

@inline(__always) func isWhitespace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }
