import EngineCore
import Glibc

/// A small blocking HTTP/1.1 server for the load generator's tests: one
/// thread per connection, keep-alive, pipelining, and two misbehaviours on
/// demand (a one-time stall, and garbage instead of some responses).
final class TestServer: Sendable {
    enum Mode: Sendable {
        case normal
        /// Every nth response (counted over the whole server) is garbage,
        /// after which that connection is closed.
        case garbageEvery(Int)
        /// Serves only the first n clients; later ones wait in the backlog
        /// (a server at its connection cap).
        case acceptAtMost(Int)
    }

    private struct State {
        var stallFrom: Int64 = .max
        var stallUntil: Int64 = .max
        var paths: [String: Int] = [:]
        /// Requests by the client's source address, and by connection (the
        /// order connections were accepted in).
        var byAddress: [String: Int] = [:]
        var byConnection: [Int: Int] = [:]
        var responses = 0
        var clients: Set<Int32> = []
        var stopped = false
    }

    let port: Int
    private let listener: Int32
    private let mode: Mode
    private let state = Locked(State())

    init(mode: Mode = .normal) throws {
        let (fd, port) = try Listener.open(host: "127.0.0.1", port: 0, backlog: 512)
        listener = fd
        self.port = port
        self.mode = mode
        Thread.detach(name: "test-accept") { [self] in acceptLoop() }
    }

    /// Every response due between `after` and `after + duration` seconds from
    /// now is held until the end of that window, as a GC pause would.
    func stall(after: Double, for duration: Double) {
        let from = Self.now() + Int64(after * 1e9)
        state.withLock {
            $0.stallFrom = from
            $0.stallUntil = from + Int64(duration * 1e9)
        }
    }

    /// Requests seen per path.
    var paths: [String: Int] { state.withLock { $0.paths } }
    var byAddress: [String: Int] { state.withLock { $0.byAddress } }
    var byConnection: [Int: Int] { state.withLock { $0.byConnection } }

    func stop() {
        // Under the lock: a connection thread removes its descriptor from
        // the set (under the lock) before closing it, so no descriptor shut
        // here can have been closed and reused by another test's socket.
        state.withLock {
            $0.stopped = true
            for fd in $0.clients { shutdown(fd, Int32(SHUT_RDWR)) }
        }
        shutdown(listener, Int32(SHUT_RDWR))
    }

    deinit { close(listener) }

    static func now() -> Int64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
    }

    private func acceptLoop() {
        var accepted = 0
        while true {
            if case .acceptAtMost(let most) = mode, accepted >= most {
                // Leave the rest in the kernel's backlog until stopped.
                while !state.withLock({ $0.stopped }) { usleep(10_000) }
                return
            }
            accepted += 1
            var peer = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let client = withUnsafeMutablePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listener, $0, &length) }
            }
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            let admitted = state.withLock {
                if $0.stopped { return false }
                $0.clients.insert(client)
                return true
            }
            guard admitted else {
                close(client)
                return
            }
            SocketOptions.setNoDelay(client)
            let address = String(cString: inet_ntoa(peer.sin_addr))
            let number = accepted
            Thread.detach(name: "test-conn") { [self] in serve(client, address: address, number: number) }
        }
    }

    private func serve(_ fd: Int32, address: String, number connection: Int) {
        defer {
            state.withLock { _ = $0.clients.remove(fd) }
            close(fd)
        }
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return }
            pending.append(contentsOf: chunk[0..<n])
            // Answer every complete request head in order (pipelining).
            while let end = Self.headEnd(pending) {
                let head = String(decoding: pending[0..<end], as: UTF8.self)
                pending.removeFirst(end + 4)
                let path = head.split(separator: " ", maxSplits: 2).dropFirst().first.map(String.init) ?? "?"
                let (number, holdUntil) = state.withLock { s -> (Int, Int64) in
                    s.paths[path, default: 0] += 1
                    s.byAddress[address, default: 0] += 1
                    s.byConnection[connection, default: 0] += 1
                    s.responses += 1
                    let now = Self.now()
                    let hold = now >= s.stallFrom && now < s.stallUntil ? s.stallUntil : 0
                    return (s.responses, hold)
                }
                if holdUntil > 0 {
                    let wait = holdUntil - Self.now()
                    if wait > 0 { usleep(UInt32(wait / 1000)) }
                }
                if case .garbageEvery(let every) = mode, number % every == 0 {
                    _ = Self.send(fd, "this is not HTTP at all\r\n\r\n")
                    return
                }
                let response: String
                if path == "/slow" { usleep(20_000) }  // a 20 ms request class
                if path == "/chunked" {
                    response = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n"
                } else if path == "/missing" {
                    response = "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"
                } else {
                    response = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!"
                }
                guard Self.send(fd, response) else { return }
            }
        }
    }

    private static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for k in 0...(bytes.count - 4)
        where bytes[k] == 13 && bytes[k + 1] == 10 && bytes[k + 2] == 13 && bytes[k + 3] == 10 {
            return k
        }
        return nil
    }

    private static func send(_ fd: Int32, _ text: String) -> Bool {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes {
                Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    /// A port nobody listens on: bound by us, then released.
    static func freePort() throws -> Int {
        let (fd, port) = try Listener.open(host: "127.0.0.1", port: 0, backlog: 1)
        close(fd)
        return port
    }
}

/// A value behind a pthread mutex. Synchronization.Mutex would do, but it is
/// built on futexes, which ThreadSanitizer cannot see, so `swift test
/// --sanitize=thread` would report false races in this server.
final class Locked<Value>: @unchecked Sendable {
    // safety: `value` is read and written only between lock and unlock.
    private var value: Value
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    init(_ value: Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func withLock<T>(_ body: (inout Value) -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body(&value)
    }
}
