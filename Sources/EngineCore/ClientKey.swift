import Glibc

/// The key a hashing accept policy places a client by: its address, and
/// with `--hash-port` its port, folded into 64 bits. An IPv4 client seen
/// through a dual-stack listener (`::ffff:a.b.c.d`) has the same key as
/// through an IPv4 one, so a client keeps its loop whichever it reaches.
public enum ClientKey {
    /// The key of a peer address as `accept` filled it in; nil for a family
    /// other than IPv4 and IPv6 (placed as the caller decides).
    public static func of(_ address: UnsafePointer<sockaddr_storage>, withPort: Bool) -> UInt64? {
        switch Int32(address.pointee.ss_family) {
        case AF_INET:
            return address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                key(ipv4: UInt32(bigEndian: v4.pointee.sin_addr.s_addr),
                    port: withPort ? UInt16(bigEndian: v4.pointee.sin_port) : 0)
            }
        case AF_INET6:
            return address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                let port = withPort ? UInt16(bigEndian: v6.pointee.sin6_port) : 0
                return withUnsafeBytes(of: v6.pointee.sin6_addr) { raw in
                    var words = (UInt32(0), UInt32(0), UInt32(0), UInt32(0))
                    withUnsafeMutableBytes(of: &words) { $0.copyMemory(from: raw) }
                    let w = [words.0, words.1, words.2, words.3].map { UInt32(bigEndian: $0) }
                    if w[0] == 0 && w[1] == 0 && w[2] == 0xffff {
                        return key(ipv4: w[3], port: port)  // IPv4-mapped
                    }
                    return key(ipv6: w, port: port)
                }
            }
        default:
            return nil
        }
    }

    /// An IPv4 address (host order) and port (0 when not hashed).
    public static func key(ipv4: UInt32, port: UInt16) -> UInt64 {
        mix(UInt64(ipv4) | UInt64(port) << 32 | 4 << 56)
    }

    /// An IPv6 address as four host-order words, and port.
    public static func key(ipv6 words: [UInt32], port: UInt16) -> UInt64 {
        let high = UInt64(words[0]) << 32 | UInt64(words[1])
        let low = UInt64(words[2]) << 32 | UInt64(words[3])
        return mix(mix(high) ^ low ^ UInt64(port) << 48 ^ 6 << 56)
    }

    /// A 64-bit finaliser (splitmix64's): every input bit moves every output
    /// bit, so addresses that differ in one byte land far apart.
    @inline(__always)
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
