import Application
import EngineCore
import Engines
import Glibc
import HTTP1
import Metrics

/// Every engine the registry reports available here: the suite runs once per
/// engine, unchanged. An engine that is registered but unavailable on this
/// machine is left out, and `unavailableEngines` says why.
///
/// io_uring runs twice: once with its defaults (multishot receive into
/// provided buffers) and once as `io_uring/single` (single-shot receive into
/// the session's buffer), so both receive modes pass the whole suite.
///
/// stealing runs three times: with its defaults, as `stealing/tiny` with
/// two-task run queues, a one-run LIFO slot and small harvests, so that
/// overflow to the inject queue, steals and LIFO hand-offs happen all the
/// time under the suite's ordinary traffic, and as `stealing/per-worker`
/// (each worker's own readiness set, harvested by idle workers).
let engineNames: [String] = EngineRegistry.available.flatMap {
    switch $0.name {
    case "io_uring": ["io_uring", "io_uring/single"]
    case "stealing": ["stealing", "stealing/tiny", "stealing/per-worker"]
    default: [$0.name]
    }
}

/// Registered engines this machine cannot run, with the reason, so a run
/// says which parts of the suite did not run here.
let unavailableEngines: [(name: String, reason: String)] = EngineRegistry.all.compactMap {
    if case .unavailable(let reason) = $0.availability() { return ($0.name, reason) }
    return nil
}

/// A test-suite engine name: the registry's name, then an optional variant.
func engineVariant(_ name: String) -> (engine: String, configure: (inout EngineConfiguration) -> Void, arguments: [String]) {
    switch name {
    case "io_uring/single": ("io_uring", { $0.uring.receive = .single }, ["--engine", "io_uring", "--uring-recv", "single"])
    case "stealing/tiny":
        ("stealing", { $0.steal.queueCapacity = 2; $0.steal.lifoPolls = 1; $0.steal.harvestBatch = 4; $0.steal.injectInterval = 3 },
         ["--engine", "stealing", "--steal-queue", "2", "--steal-lifo-polls", "1", "--steal-harvest-batch", "4",
          "--steal-inject-interval", "3"])
    case "stealing/per-worker":
        ("stealing", { $0.steal.readiness = .perWorker }, ["--engine", "stealing", "--steal-readiness", "per-worker"])
    default: (name, { _ in }, ["--engine", name])
    }
}

/// A running engine with the demo application on a free port.
final class TestServer {
    let engine: any Engine
    let metrics = MetricsRegistry()
    let staticDirectory: String
    var port: Int { engine.boundPort }

    init(engine name: String, application custom: Application? = nil,
         configure: (inout EngineConfiguration) -> Void = { _ in }) throws {
        // As `serve` does: a peer that hangs up mid-send (sendfile has no
        // MSG_NOSIGNAL) must cost an error, not the process.
        signal(SIGPIPE, SIG_IGN)
        var configuration = EngineConfiguration()
        configuration.port = 0
        configuration.threads = 2
        let variant = engineVariant(name)
        variant.configure(&configuration)
        configure(&configuration)
        var template = Array("/tmp/switchyard-static-XXXXXX".utf8CString)
        staticDirectory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        try Self.write("\(staticDirectory)/hello.txt", "hello static\n")
        try Self.write("\(staticDirectory)/page.html", "<h1>hi</h1>\n")
        mkdir("\(staticDirectory)/sub", 0o755)
        try Self.write("\(staticDirectory)/sub/data.json", "{\"a\":1}\n")
        let application = try custom ?? Application.demo(DemoConfiguration(staticDirectory: staticDirectory), metrics: metrics)
        guard let descriptor = EngineRegistry.named(variant.engine) else { throw TestClient.Failure(description: "no engine \(name)") }
        engine = descriptor.make(configuration, application, metrics)
        try engine.start()
    }

    func stop() {
        engine.stop()
        engine.waitUntilStopped()
    }

    deinit {
        stop()
        for file in ["hello.txt", "page.html", "sub/data.json"] { unlink("\(staticDirectory)/\(file)") }
        rmdir("\(staticDirectory)/sub")
        rmdir(staticDirectory)
    }

    static func write(_ path: String, _ text: String) throws {
        guard let file = fopen(path, "w") else { throw TestClient.Failure(description: "cannot write \(path)") }
        fputs(text, file)
        fclose(file)
    }

    func client() throws -> TestClient { try TestClient(port: port) }
}
