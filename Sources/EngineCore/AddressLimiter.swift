import Glibc
import HTTP1
import Synchronization

/// The per-client-address connection limit (`--max-connections-per-address`),
/// shared by every loop of an engine: one client cannot take the whole
/// connection budget. Consulted once per accepted connection (a
/// `getpeername` and a short critical section) and only when the limit is
/// on; never per request.
public final class AddressLimiter: Sendable {
    /// An IPv4 or IPv6 peer address, without the port.
    public struct Key: Hashable, Sendable {
        let high: UInt64
        let low: UInt64
    }

    public let limit: Int
    private let open = Mutex([Key: Int]())

    public init(limit: Int) {
        self.limit = limit
    }

    /// The peer address of a connected socket; nil if it cannot be read
    /// (the peer already gone), in which case the connection is not counted.
    public static func peer(of fd: Int32) -> Key? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        guard status == 0 else { return nil }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafeBytes(of: &storage) { raw in
                let address = raw.load(fromByteOffset: MemoryLayout<sockaddr_in>.offset(of: \.sin_addr)!, as: UInt32.self)
                return Key(high: 0, low: UInt64(address))
            }
        case AF_INET6:
            return withUnsafeBytes(of: &storage) { raw in
                let offset = MemoryLayout<sockaddr_in6>.offset(of: \.sin6_addr)!
                return Key(high: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self),
                           low: raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self))
            }
        default:
            return nil
        }
    }

    /// Counts one more connection from `key`; false (nothing counted) if
    /// that would pass the limit.
    public func admit(_ key: Key) -> Bool {
        open.withLock { table in
            let count = table[key, default: 0]
            guard count < limit else { return false }
            table[key] = count + 1
            return true
        }
    }

    /// A connection from `key` closed.
    public func release(_ key: Key) {
        open.withLock { table in
            guard let count = table[key] else { return }
            if count <= 1 { table[key] = nil } else { table[key] = count - 1 }
        }
    }
}

/// The pre-serialized parts of the answer to a client past its address's
/// connection limit: 429 with Retry-After, then close.
public enum AddressLimitResponse {
    public static let prefix = StaticBytes("HTTP/1.1 429 Too Many Requests\r\n")
    public static let suffix = StaticBytes(
        "Retry-After: 1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 39\r\nConnection: close\r\n\r\ntoo many connections from your address\n")
}
