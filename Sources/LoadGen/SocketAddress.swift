import Glibc

/// Where the load goes: an IPv4 or IPv6 address and port, resolved once
/// before the I/O threads start, so connecting needs no lookup.
struct SocketAddress: @unchecked Sendable {
    // safety: sockaddr_storage is plain bytes; the value is copied, never shared mutably.
    private var storage = sockaddr_storage()
    private(set) var length: socklen_t = 0
    /// AF_INET or AF_INET6, for `socket`.
    var family: Int32 { Int32(storage.ss_family) }

    /// An IPv4 address in 127.0.0.0/8.
    var isIPv4Loopback: Bool {
        guard family == AF_INET else { return false }
        var copy = storage
        return withUnsafePointer(to: &copy) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) >> 24 == 127 }
        }
    }

    /// The address of `host` (an IPv4 or IPv6 literal, with or without
    /// brackets, "localhost", or a name for the resolver) at `port`; nil when
    /// nothing resolves. Literals are parsed without the resolver.
    static func resolve(_ host: String, port: Int) -> SocketAddress? {
        var name = host == "localhost" ? "127.0.0.1" : host
        if name.hasPrefix("["), name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        var result = SocketAddress()
        var v4 = sockaddr_in()
        if inet_pton(AF_INET, name, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = UInt16(port).bigEndian
            result.store(v4)
            return result
        }
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET6, name, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = UInt16(port).bigEndian
            result.store(v6)
            return result
        }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, String(port), &hints, &list) == 0, let first = list,
              let address = first.pointee.ai_addr else { return nil }
        defer { freeaddrinfo(list) }
        // safety: ai_addr points at ai_addrlen bytes, at most sizeof(sockaddr_storage).
        withUnsafeMutableBytes(of: &result.storage) { target in
            let count = min(Int(first.pointee.ai_addrlen), target.count)
            target.copyMemory(from: UnsafeRawBufferPointer(start: address, count: count))
        }
        result.length = first.pointee.ai_addrlen
        return result
    }

    /// `connect(fd)` to this address.
    func connect(_ fd: Int32) -> Int32 {
        var copy = storage
        // safety: sockaddr_storage is large and aligned enough for every
        // sockaddr; the pointer is used only during the call.
        return withUnsafePointer(to: &copy) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) }
        }
    }

    /// `127.0.0.1:8080` or `[::1]:8080`, for messages.
    var description: String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        var copy = storage
        let port: UInt16
        // safety: the storage holds a sockaddr_in or sockaddr_in6, as `family` says.
        if family == AF_INET6 {
            let v6 = withUnsafeBytes(of: &copy) { $0.load(as: sockaddr_in6.self) }
            var address = v6.sin6_addr
            inet_ntop(AF_INET6, &address, &text, socklen_t(text.count))
            port = UInt16(bigEndian: v6.sin6_port)
            return "[\(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))]:\(port)"
        }
        let v4 = withUnsafeBytes(of: &copy) { $0.load(as: sockaddr_in.self) }
        var address = v4.sin_addr
        inet_ntop(AF_INET, &address, &text, socklen_t(text.count))
        port = UInt16(bigEndian: v4.sin_port)
        return "\(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)):\(port)"
    }

    private mutating func store<T>(_ address: T) {
        // safety: T is sockaddr_in or sockaddr_in6, both smaller than sockaddr_storage.
        withUnsafeMutableBytes(of: &storage) { target in
            withUnsafeBytes(of: address) { target.copyMemory(from: $0) }
        }
        length = socklen_t(MemoryLayout<T>.size)
    }
}
