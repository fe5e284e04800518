import CSystem
import Glibc

/// Opening listening sockets, with errors an operator can act on.
public enum Listener {
    /// Binds and listens on `host:port`; returns the socket and the bound port.
    /// Event loops ask for a non-blocking socket: they accept until EAGAIN.
    /// With `reusePort`, `probeFirst` refuses a port someone else already holds.
    public static func open(host: String, port: Int, backlog: Int, reusePort: Bool = false,
                            nonBlocking: Bool = false, probeFirst: Bool = true) throws(EngineError) -> (fd: Int32, port: Int) {
        guard (0...65535).contains(port) else {
            throw EngineError("--port \(port): must be from 0 to 65535")
        }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &result)
        guard status == 0, let first = result else {
            throw EngineError("--host \(host): cannot resolve (\(String(cString: gai_strerror(status))))")
        }
        defer { freeaddrinfo(result) }

        let flags = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | (nonBlocking ? Int32(SOCK_NONBLOCK.rawValue) : 0)
        if reusePort && probeFirst && port != 0 {
            // SO_REUSEPORT lets a second server join a port another already
            // serves, silently splitting its traffic. A plain bind first
            // fails with EADDRINUSE if anyone holds the port.
            let probe = socket(first.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var one: Int32 = 1
            setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            let taken = bind(probe, first.pointee.ai_addr, first.pointee.ai_addrlen) != 0 && errno == EADDRINUSE
            Glibc.close(probe)
            if taken {
                throw EngineError("cannot listen on \(host):\(port): Address already in use (another server is using it; choose another --port)")
            }
        }
        let fd = socket(first.pointee.ai_family, flags, 0)
        guard fd >= 0 else { throw EngineError("cannot create a socket: \(errnoText())") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if reusePort {
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        guard bind(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            let text = errnoText()
            let hint = errno == EADDRINUSE ? " (another server is using it; choose another --port)" : ""
            Glibc.close(fd)
            throw EngineError("cannot listen on \(host):\(port): \(text)\(hint)")
        }
        guard listen(fd, Int32(backlog)) == 0 else {
            let text = errnoText()
            Glibc.close(fd)
            throw EngineError("listen on \(host):\(port) failed: \(text)")
        }
        return (fd, boundPort(of: fd))
    }

    /// Waits up to `milliseconds` for a non-blocking listener to have a
    /// connection (or for the time to pass, so the caller can look at its stop flag).
    public static func waitReadable(_ fd: Int32, milliseconds: Int32 = 100) {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        _ = poll(&poller, 1, milliseconds)
    }

    /// Stops a listening socket from starting new connections (a socket
    /// filter drops SYNs; see `switchyard_refuse_new_connections`) while the
    /// handshakes under way still complete, so that the drain's
    /// `acceptQueued` takes everyone who got in. Only for a stop: the filter
    /// applies to every process holding the socket.
    public static func refuseNewConnections(_ fd: Int32) {
        _ = switchyard_refuse_new_connections(fd)  // without it, the close may still reset a late client
    }

    /// Takes every connection the kernel has completed on a non-blocking
    /// listener that nobody has accepted yet, handing each to `take`; the
    /// last step of a drain before the listener closes. Closing a listener
    /// resets the connections still in its queue, whose clients may have
    /// sent their request already; taken in, they are answered (with
    /// `Connection: close`, the loop being in its drain). A client that
    /// connects after the close is refused, which it can retry.
    /// Each socket is non-blocking, as event loops want; `blocking` for a
    /// thread that waits in recv (the accepted socket does not inherit the
    /// listener's O_NONBLOCK).
    public static func acceptQueued(_ fd: Int32, blocking: Bool = false, _ take: (Int32) -> Void) {
        let flags = Int32(SOCK_CLOEXEC.rawValue) | (blocking ? 0 : Int32(SOCK_NONBLOCK.rawValue))
        while true {
            let client = accept4(fd, nil, nil, flags)
            if client >= 0 {
                take(client)
                continue
            }
            if errno == EINTR || errno == ECONNABORTED { continue }
            return  // EAGAIN: the queue is empty (or out of descriptors: nothing more can be taken)
        }
    }

    /// The local port a socket is bound to.
    public static func boundPort(of fd: Int32) -> Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard ok == 0 else { return 0 }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
            }
        case AF_INET6:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
            }
        default:
            return 0
        }
    }
}

public func errnoText() -> String { String(cString: strerror(errno)) }

/// Socket options every engine sets on accepted connections.
public enum SocketOptions {
    /// Writes a fixed response made of three pieces (status line, this
    /// second's Date line, the rest) in one `writev`, best effort: for the
    /// refusals (shedding, the per-address limit) that close straight after.
    public static func writeRefusal(_ fd: Int32, _ first: UnsafeRawBufferPointer, _ date: UnsafeRawBufferPointer,
                                    _ rest: UnsafeRawBufferPointer) {
        withUnsafeTemporaryAllocation(of: iovec.self, capacity: 3) { pieces in
            pieces[0] = iovec(iov_base: UnsafeMutableRawPointer(mutating: first.baseAddress!), iov_len: first.count)
            pieces[1] = iovec(iov_base: UnsafeMutableRawPointer(mutating: date.baseAddress!), iov_len: date.count)
            pieces[2] = iovec(iov_base: UnsafeMutableRawPointer(mutating: rest.baseAddress!), iov_len: rest.count)
            _ = writev(fd, pieces.baseAddress, 3)  // the client may already be gone
        }
    }

    /// Responses leave in one write, so Nagle's algorithm only adds delay.
    public static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Blocking reads give up after `seconds` (EAGAIN); 0 waits forever.
    public static func setReceiveTimeout(_ fd: Int32, seconds: Double) {
        guard seconds > 0 else { return }
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }
}
