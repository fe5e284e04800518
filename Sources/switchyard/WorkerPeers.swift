import EngineCore
import Glibc
import Metrics

/// Process mode's `/metrics`: every worker (and the supervisor) answers on a
/// Unix socket of its own in the supervisor's run directory with its own
/// Prometheus text; the worker that gets the scrape reads them all and merges
/// them (`PrometheusMerge`), so any worker shows every worker's counters,
/// summed and per process. Scrapes are rare and control plane: the reads are
/// blocking, bounded by a short timeout per peer.
final class WorkerPeers: Sendable {
    let directory: String
    let ownFile: String
    private let answerer: MetricsAnswerer

    init(directory: String, slot: Int, generation: Int) {
        self.directory = directory
        ownFile = "worker-\(slot)-\(generation).sock"
        answerer = MetricsAnswerer(path: "\(directory)/\(ownFile)") { MetricsRegistry.shared.prometheusText() }
    }

    func startAnswering() { answerer.start() }
    func stopAnswering() { answerer.stop() }

    /// This worker's text and every peer's, merged.
    func mergedText() -> String {
        var parts: [(labels: String, text: String)] = []
        for file in Self.socketFiles(in: directory) {
            let labels = Self.labels(for: file)
            if file == ownFile {
                parts.append((labels, MetricsRegistry.shared.prometheusText()))
            } else if let text = MetricsAnswerer.read(path: "\(directory)/\(file)") {
                parts.append((labels, text))
            }
        }
        return PrometheusMerge.merge(parts)
    }

    /// `worker-2-5.sock` → `process="2",generation="5"`; `supervisor.sock` → `process="supervisor"`.
    static func labels(for file: String) -> String {
        let stem = file.hasSuffix(".sock") ? String(file.dropLast(5)) : file
        let parts = stem.split(separator: "-")
        if parts.count == 3, parts[0] == "worker" { return "process=\"\(parts[1])\",generation=\"\(parts[2])\"" }
        return "process=\"\(stem)\""
    }

    static func socketFiles(in directory: String) -> [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasSuffix(".sock") { names.append(name) }
        }
        return names.sorted()
    }
}

/// A Unix socket that answers each connection with `text()` and closes, on
/// a thread of its own.
final class MetricsAnswerer: @unchecked Sendable {
    // @unchecked Sendable: `fd` and `thread` are written by `start` and `stop`, on one thread.
    let path: String
    let text: @Sendable () -> String
    private var fd: Int32 = -1

    init(path: String, text: @escaping @Sendable () -> String) {
        self.path = path
        self.text = text
    }

    func start() {
        unlink(path)  // left by a predecessor in this slot that crashed
        let socket = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0, Self.withAddress(path, { bind(socket, $0, $1) }) == 0, listen(socket, 16) == 0 else {
            log("warning: cannot answer metrics peers at \(path): \(String(cString: strerror(errno)))", .warning)
            if socket >= 0 { close(socket) }
            return
        }
        fd = socket
        let text = self.text
        Thread.detach(name: "metrics-peer") {
            while true {
                let client = accept(socket, nil, nil)
                if client < 0 {
                    if errno == EINTR { continue }
                    return  // closed by stop
                }
                let bytes = Array(text().utf8)
                var sent = 0
                while sent < bytes.count {
                    let n = bytes.withUnsafeBytes { send(client, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
                    if n <= 0 { break }
                    sent += n
                }
                close(client)
            }
        }
    }

    func stop() {
        unlink(path)
        if fd >= 0 {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
            fd = -1
        }
    }

    /// A peer's text; nil if it is gone or slower than half a second.
    static func read(path: String) -> String? {
        let socket = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { return nil }
        defer { close(socket) }
        var timeout = timeval(tv_sec: 0, tv_usec: 500_000)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard withAddress(path, { connect(socket, $0, $1) }) == 0 else { return nil }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            if n > 0 { bytes += chunk[0..<n] } else if n == 0 { break } else { return nil }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func withAddress(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { errno = ENAMETOOLONG; return -1 }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }
}

