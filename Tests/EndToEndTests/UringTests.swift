import EngineCore
import Engines
import Glibc
import HTTP1
import Synchronization
import Testing
import UringEngine

/// Why the io_uring tests cannot run here, or nil when they can.
let uringUnavailable: String? = UringProbe.shared.refusal

/// Named sets of `--uring-*` switches: each must serve the same traffic correctly.
enum UringFeatureSet: String, CaseIterable, CustomStringConvertible {
    case defaults, single, bundle, incremental, bundleIncremental = "bundle+incremental", noDeferTaskrun = "no-defer-taskrun",
         noRingFD = "no-ring-fd", noMultishotAccept = "no-multishot-accept", zeroCopy = "zc-threshold", minWait = "min-wait",
         sqPoll = "sqpoll", smallQueues = "small-queues", waitForSends = "wait-for-sends", direct = "direct-descriptors",
         directSingle = "direct-descriptors+single"

    var description: String { rawValue }

    func apply(_ o: inout UringOptions) {
        switch self {
        case .defaults: break
        case .single: o.receive = .single
        case .bundle: o.bundle = true
        case .incremental: o.incremental = true
        case .bundleIncremental: o.bundle = true; o.incremental = true
        case .noDeferTaskrun: o.deferTaskrun = false
        case .noRingFD: o.registerRingFD = false
        case .noMultishotAccept: o.multishotAccept = false
        case .zeroCopy: o.zeroCopyThreshold = 1
        case .minWait: o.minWaitMicroseconds = 50
        case .sqPoll: o.sqPoll = true
        case .smallQueues: o.sqEntries = 2; o.cqFactor = 2; o.buffers = 8; o.bufferSize = 256
        case .waitForSends: o.waitForSends = true
        case .direct: o.directDescriptors = true
        case .directSingle: o.directDescriptors = true; o.receive = .single
        }
    }

    var options: UringOptions {
        var o = UringOptions()
        apply(&o)
        return o
    }

    /// Why this kernel cannot run the set, or nil.
    var unsupported: String? { uringUnavailable ?? UringProbe.shared.check(options) }
}

let supportedFeatureSets = UringFeatureSet.allCases.filter { $0.unsupported == nil }
let unsupportedFeatureSets = UringFeatureSet.allCases.filter { $0.unsupported != nil && uringUnavailable == nil }

/// 24 clients, each pipelining batches of requests of varied length.
func pipelineFromManyClients(port: Int) -> Int {
    let failures = Atomic(0)
    concurrently(24) { c in
        do {
            let client = try TestClient(port: port)
            for round in 0..<6 {
                let ids = (0..<48).map { c * 10_000 + round * 100 + $0 }
                try client.send(ids.map { "GET /users/\($0) HTTP/1.1\r\nHost: t\r\nX-Pad: \(String(repeating: "x", count: $0 % 300))\r\n\r\n" }.joined())
                for id in ids where try client.readResponse().text != "user \(id)\n" { failures.add(1, ordering: .relaxed) }
            }
        } catch {
            failures.add(1, ordering: .relaxed)
        }
    }
    return failures.load(ordering: .relaxed)
}

/// The counter `event` of the engine's /metrics (summed over loops).
func engineEvent(_ metrics: String, _ event: String) -> Int {
    let prefix = "switchyard_engine_events_total{event=\"\(event)\"} "
    guard let line = metrics.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return -1 }
    return Int(line.dropFirst(prefix.count)) ?? -1
}

@Suite("io_uring engine", .serialized, .enabled(if: uringUnavailable == nil, "io_uring is unavailable here: \(uringUnavailable ?? "")"))
struct UringTests {
    @Test("Every feature switch serves keep-alive, pipelined, large-body and concurrent traffic", arguments: supportedFeatureSets)
    func featureSet(_ set: UringFeatureSet) throws {
        let server = try TestServer(engine: "io_uring") {
            $0.threads = 1
            set.apply(&$0.uring)
        }
        let client = try server.client()
        for i in 0..<20 { #expect(try client.get("/users/\(i)").text == "user \(i)\n") }
        try client.send((0..<16).map { "GET /users/\($0) HTTP/1.1\r\nHost: t\r\n\r\n" }.joined())
        for i in 0..<16 { #expect(try client.readResponse().text == "user \(i)\n") }
        // A body spanning many provided buffers, echoed back byte for byte.
        let body = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        try client.send(Array("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body)
        #expect(try client.readResponse().body == body)
        let port = server.port
        let failures = Atomic(0)
        concurrently(8) { c in
            do {
                let client = try TestClient(port: port)
                for r in 0..<20 where try client.get("/users/\(c * 100 + r)").text != "user \(c * 100 + r)\n" {
                    failures.add(1, ordering: .relaxed)
                }
            } catch {
                failures.add(1, ordering: .relaxed)
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
    }

    @Test("A feature this kernel lacks is refused at start with the flag's name", .enabled(if: !unsupportedFeatureSets.isEmpty),
          arguments: unsupportedFeatureSets)
    func unsupportedFeature(_ set: UringFeatureSet) throws {
        #expect(throws: EngineError.self) {
            _ = try TestServer(engine: "io_uring") { set.apply(&$0.uring) }
        }
    }

    @Test("Buffer-ring exhaustion: 4 tiny buffers, 24 clients pipelining; every byte arrives in order, ENOBUFS counted")
    func bufferExhaustion() throws {
        let server = try TestServer(engine: "io_uring") {
            $0.threads = 1
            $0.uring.buffers = 4
            $0.uring.bufferSize = 128
        }
        let failures = pipelineFromManyClients(port: server.port)
        #expect(failures == 0)
        let metrics = try server.client().get("/metrics").text
        #expect(engineEvent(metrics, "enobufs") > 0, "the ring never ran dry, so the test proved nothing")
        #expect(engineEvent(metrics, "recv_rearm") > 0)
    }

    @Test("Multi-megabyte responses to a slow reader: short sends resubmitted, every byte in order", arguments: ["multishot", "single"])
    func slowReader(mode: String) throws {
        let server = try TestServer(engine: "io_uring") {
            $0.threads = 1
            $0.limits.maxBodyBytes = 16 << 20
            $0.uring.receive = UringOptions.ReceiveMode(rawValue: mode)!
        }
        let client = try server.client()
        // 8 MiB is more than loopback's socket buffers take at once (the
        // send buffer autotunes to 4 MiB at most), so the server's sends
        // come back short while this client is not reading.
        let body = (0..<(8 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ $0 >> 12) }
        try client.send(Array("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body)
        usleep(200_000)  // let the server fill the socket and wait
        #expect(try client.readResponse().body == body)
        #expect(try client.get("/plaintext").status == 200)
        let metrics = try server.client().get("/metrics").text
        #expect(engineEvent(metrics, "short_send") > 0)
    }

    @Test("A client that resets mid-response is cleaned up; others are served", arguments: ["multishot", "single"])
    func resetMidResponse(mode: String) throws {
        let server = try TestServer(engine: "io_uring") {
            $0.threads = 1
            $0.limits.maxBodyBytes = 16 << 20
            $0.uring.receive = UringOptions.ReceiveMode(rawValue: mode)!
        }
        for _ in 0..<3 {
            let client = try server.client()
            let body = [UInt8](repeating: 0x61, count: 8 << 20)
            try client.send(Array("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body)
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(client.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        }  // each client closes here with RST, while its 8 MiB answer is being sent
        let observer = try server.client()
        var open = -1
        for _ in 0..<200 {
            let metrics = try observer.get("/metrics").text
            open = metrics.split(separator: "\n").first { $0.hasPrefix("switchyard_connections_open ") }
                .flatMap { Int($0.split(separator: " ").last!) } ?? -1
            if open == 1 { break }
            usleep(50_000)
        }
        #expect(open == 1, "reset connections were not closed")
        #expect(try observer.get("/plaintext").status == 200)
    }

    @Test("Direct descriptors: shedding answers 503 through the ring, the cap holds, a graceful stop completes",
          .enabled(if: UringFeatureSet.direct.unsupported == nil, "direct descriptors: \(UringFeatureSet.direct.unsupported ?? "")"))
    func directDescriptors() throws {
        let server = try TestServer(engine: "io_uring") {
            $0.threads = 1
            $0.uring.directDescriptors = true
            $0.shedAbove = 2
        }
        let first = try server.client(), second = try server.client()
        #expect(try first.get("/health").status == 200)
        #expect(try second.get("/health").status == 200)
        let third = try server.client()
        let shed = try third.readResponse()
        #expect(shed.status == 503)
        #expect(shed.header("Retry-After") == "1")
        #expect(try third.isClosedByServer())
        #expect(try first.get("/users/7").text == "user 7\n")
        #expect(throws: EngineError.self) {
            _ = try TestServer(engine: "io_uring") {
                $0.uring.directDescriptors = true
                $0.acceptPolicy = .acceptor
            }
        }
    }

    @Test("The connection cap with multishot accept: the rest wait in the backlog, then are served")
    func capWithMultishotAccept() throws {
        let server = try TestServer(engine: "io_uring") {
            $0.threads = 1
            $0.maxConnections = 2
        }
        let first = try server.client(), second = try server.client()
        #expect(try first.get("/health").status == 200)
        #expect(try second.get("/health").status == 200)
        let third = try server.client()  // connects (backlog), but is not served yet
        try third.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(!third.receivesAnything(within: 0.3))
        try first.send("GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        _ = try first.readResponse()
        #expect(try third.readResponse().status == 200)
    }
}

@Suite("io_uring buffers", .serialized, .enabled(if: uringUnavailable == nil, "io_uring is unavailable here: \(uringUnavailable ?? "")"))
struct UringBufferTests {
    @Test("Bundles over recycled ring entries: 64 buffers of 256 bytes, large bodies and pipelining stay intact",
          .enabled(if: UringFeatureSet.bundle.unsupported == nil, "recv bundles: \(UringFeatureSet.bundle.unsupported ?? "")"))
    func bundles() throws {
        let server = try TestServer(engine: "io_uring") {
            $0.threads = 1
            $0.uring.bundle = true
            $0.uring.buffers = 64
            $0.uring.bufferSize = 256
        }
        let client = try server.client()
        for size in [10_000, 60_000] {
            let body = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 8) }
            try client.send(Array("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body)
            #expect(try client.readResponse().body == body)
        }
        #expect(pipelineFromManyClients(port: server.port) == 0)
        let metrics = try server.client().get("/metrics").text
        #expect(engineEvent(metrics, "recv_bundle") > 0, "no completion filled more than one buffer, so bundles went untested")
    }

    @Test("Incremental buffers shared by many connections: 8 buffers of 64 KiB, every byte to its own client in order",
          .enabled(if: UringFeatureSet.incremental.unsupported == nil, "incremental buffers: \(UringFeatureSet.incremental.unsupported ?? "")"))
    func incremental() throws {
        let server = try TestServer(engine: "io_uring") {
            $0.threads = 1
            $0.uring.incremental = true
            $0.uring.buffers = 8
            $0.uring.bufferSize = 65536
        }
        #expect(pipelineFromManyClients(port: server.port) == 0)
        let client = try server.client()
        let body = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 1) }
        try client.send(Array("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body)
        #expect(try client.readResponse().body == body)
    }

    @Test("A buffer larger than the session's room after a partial request is handed over in pieces")
    func bufferLargerThanRoom() throws {
        let server = try TestServer(engine: "io_uring") {
            $0.threads = 1
            $0.uring.bufferSize = 65536
            $0.limits = HTTPLimits(maxRequestLineBytes: 256, maxHeaderBytes: 1024, maxFieldBytes: 512, maxFieldCount: 16, maxBodyBytes: 256)
        }
        let client = try server.client()
        let requests = (0..<1500).map { "GET /users/\($0) HTTP/1.1\r\nHost: t\r\n\r\n" }.joined()
        let bytes = Array(requests.utf8)
        try client.send(Array(bytes[0..<20]))  // part of the first request head stays buffered
        usleep(100_000)
        try client.send(Array(bytes[20...]))  // then ~50 KB at once, far beyond the session's room
        for i in 0..<1500 { #expect(try client.readResponse().text == "user \(i)\n") }
    }
}
