import CSwitchyardSIMD

/// Character classes from RFC 9110 / RFC 3986 in one 256-entry table of bit
/// flags, so each byte is classified with one load.
///
/// The table the parser reads is the C scanners' (`cswitchyard_byte_class`,
/// the same bits): a C global has no lazy initialization, so reading it
/// costs no `swift_once`. `fromDefinitions()` builds the table again from
/// the RFC's character lists, and a test checks the two agree.
struct ByteClasses: @unchecked Sendable {
    // safety: 256 bytes, initialized once, immutable, never freed.
    let flags: UnsafePointer<UInt8>

    static let token: UInt8 = 1       // tchar (RFC 9110 section 5.6.2)
    static let fieldValue: UInt8 = 2  // HTAB, SP, VCHAR, obs-text; not CR, LF, NUL, CTLs, DEL (section 5.5)
    static let target: UInt8 = 4      // RFC 3986 unreserved, reserved and '%'; not '#', '"', '<', '>', '\', '^', '`', '{', '|', '}'
    static let host: UInt8 = 8        // reg-name, IP-literal brackets, ':' port

    /// The C table (no lazy initialization: a plain load of its address).
    static var shared: ByteClasses { ByteClasses(flags: cswitchyard_byte_classes()) }

    private init(flags: UnsafePointer<UInt8>) { self.flags = flags }

    /// The table built from the definitions (tests), never freed.
    static func fromDefinitions() -> ByteClasses { ByteClasses() }

    private init() {
        let table = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        for value in 0...255 {
            let b = UInt8(value)
            let alnum = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
            var f: UInt8 = 0
            if alnum || "!#$%&'*+-.^_`|~".utf8.contains(b) { f |= Self.token }
            if b == 0x09 || (b >= 0x20 && b != 0x7F) { f |= Self.fieldValue }
            if alnum || "-._~:/?[]@!$&'()*+,;=%".utf8.contains(b) { f |= Self.target }
            if alnum || "-._~!$&'()*+,;=%:[]".utf8.contains(b) { f |= Self.host }
            table[value] = f
        }
        flags = UnsafePointer(table)
    }

    @inline(__always) func isToken(_ b: UInt8) -> Bool { flags[Int(b)] & Self.token != 0 }
    @inline(__always) func isFieldValue(_ b: UInt8) -> Bool { flags[Int(b)] & Self.fieldValue != 0 }
    @inline(__always) func isTarget(_ b: UInt8) -> Bool { flags[Int(b)] & Self.target != 0 }
    @inline(__always) func isHost(_ b: UInt8) -> Bool { flags[Int(b)] & Self.host != 0 }
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
