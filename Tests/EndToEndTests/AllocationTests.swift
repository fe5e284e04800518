import Glibc
import Testing

/// Zero heap allocations per request, checked on the real binary: each
/// engine runs in a child process under an LD_PRELOAD malloc counter built
/// by the test (experiments/malloc-count.c); after warm-up, thousands of
/// keep-alive and pipelined requests must not move the count.
@Suite("Allocations", .serialized)
struct AllocationTests {
    static let packageRoot: String = {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path
    }()

    /// The `switchyard` binary next to this test bundle.
    static var binary: String {
        let bundle = CommandLine.arguments[0]
        return String(bundle[..<bundle.lastIndex(of: "/")!]) + "/switchyard"
    }

    @Test("No allocation per request after warm-up", arguments: engineNames)
    func zeroAllocationsPerRequest(engine: String) throws {
        try requireAvailable(engine)
        let shim = try ChildServer.buildMallocCounter(root: Self.packageRoot)
        // Two workers for stealing, so that runs on another worker than the
        // connection's home (rebinding, foreign harvests, the mailbox) are covered.
        let threads = engine.hasPrefix("stealing") ? "2" : "1"
        let server = try ChildServer(binary: Self.binary, arguments: ["serve"] + engineVariant(engine).arguments + ["--port", "0", "--threads", threads,
                                                 "--static-dir", "\(Self.packageRoot)/Tests/cli"],
                                     preload: shim)
        defer { server.stop() }
        let clients = try (0..<4).map { _ in try TestClient(port: server.port) }
        let pipelined = String(repeating: "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n", count: 16)
        func exercise(rounds: Int) throws {
            for _ in 0..<rounds {
                for client in clients {
                    #expect(try client.get("/plaintext").status == 200)
                    #expect(try client.get("/json").status == 200)
                    #expect(try client.get("/static/smoke.sh").status == 200)  // arena, not malloc
                    #expect(try client.get("/static/smoke.sh", headers: "Range: bytes=10-99\r\n").status == 206)
                    #expect(try client.get("/static/smoke.sh", headers: "If-None-Match: *\r\n").status == 304)
                    #expect(try client.get("/static/smoke.sh", headers: "Range: bytes=0-9,20-29\r\n").status == 206)
                    try client.send(pipelined)
                    for _ in 0..<16 { _ = try client.readResponse() }
                }
            }
        }
        try exercise(rounds: 50)  // warm-up: buffers, slots, lazy tables, date cache
        let before = try server.mallocCount()
        try exercise(rounds: 100)  // 4 connections x 100 x 22 = 8,800 requests
        let after = try server.mallocCount()
        #expect(after == before, "\(engine): \(after - before) allocations over 8,800 requests")
    }
}

/// A `switchyard` process started by a test, with stderr captured.
final class ChildServer {
    let pid: pid_t
    let stderrFD: Int32
    private(set) var port = 0
    private var log = ""

    struct Failure: Error, CustomStringConvertible { let description: String }

    /// Compiles the LD_PRELOAD counter once per test process.
    static func buildMallocCounter(root: String) throws -> String {
        let output = "/tmp/switchyard-malloc-count-\(getpid()).so"
        if access(output, F_OK) == 0 { return output }
        let status = run(["/usr/bin/cc", "-O2", "-shared", "-fPIC", "-o", output, "\(root)/experiments/malloc-count.c"])
        guard status == 0 else { throw Failure(description: "cc failed building the malloc counter (status \(status))") }
        return output
    }

    static func run(_ argv: [String]) -> Int32 {
        var pid = pid_t()
        let cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        guard posix_spawn(&pid, argv[0], nil, nil, cArgs, environ) == 0 else { return -1 }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return status
    }

    init(binary: String, arguments: [String], preload: String) throws {
        var pipeFDs: [Int32] = [0, 0]
        pipe(&pipeFDs)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 2)
        posix_spawn_file_actions_addclose(&actions, pipeFDs[0])
        let argv: [UnsafeMutablePointer<CChar>?] = ([binary] + arguments).map { strdup($0) } + [nil]
        let variables: [String] = ["LD_PRELOAD=\(preload)", "PATH=/usr/bin:/bin"]
        var environment: [UnsafeMutablePointer<CChar>?] = variables.map { strdup($0) } + [nil]
        var child = pid_t()
        let status = posix_spawn(&child, binary, &actions, nil, argv, &environment)
        argv.forEach { free($0) }
        environment.forEach { free($0) }
        posix_spawn_file_actions_destroy(&actions)
        close(pipeFDs[1])
        guard status == 0 else { throw Failure(description: "cannot start \(binary): \(String(cString: strerror(status)))") }
        pid = child
        stderrFD = pipeFDs[0]
        while port == 0 {
            guard let line = try readLine() else { throw Failure(description: "server exited: \(log)") }
            if let range = line.firstRange(of: "serving http://127.0.0.1:") {
                port = Int(line[range.upperBound...].prefix { $0.isNumber }) ?? 0
            }
        }
    }

    /// Reads one stderr line; nil at end of stream. Bounded by a 20 s poll.
    private func readLine() throws -> String? {
        while true {
            if let newline = log.firstIndex(of: "\n") {
                let line = String(log[..<newline])
                log.removeSubrange(...newline)
                return line
            }
            var poller = pollfd(fd: stderrFD, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 20_000) > 0 else { throw Failure(description: "no output from the server in 20 s") }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { read(stderrFD, $0.baseAddress, $0.count) }
            if n <= 0 { return nil }
            log += String(decoding: chunk[0..<n], as: UTF8.self)
        }
    }

    /// Asks the counter for its total (SIGUSR2) and reads the reply.
    func mallocCount() throws -> Int {
        kill(pid, SIGUSR2)
        while let line = try readLine() {
            if line.hasPrefix("malloc-count: "), let n = Int(line.dropFirst(14)) { return n }
        }
        throw Failure(description: "the server exited before reporting its malloc count")
    }

    func stop() {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        close(stderrFD)
    }
}
