import Application
import EngineCore
import Engines
import Glibc
import HTTP1
import Metrics
import Testing

/// The engine variants the engine modules name (`EngineRegistry.variants`)
/// that can run here: each engine suite runs once per variant, unchanged.
/// io_uring runs as itself (multishot receive into provided buffers) and as
/// `io_uring/single`; stealing as itself, as `stealing/tiny` (two-task
/// queues: overflow, steals and LIFO hand-offs all the time) and as
/// `stealing/per-worker`.
///
/// A variant whose engine cannot run here is not silently absent: the
/// "Engine variants" suite reports it, with the reason, as a known issue
/// (Swift Testing 6.3 reports a cancelled test case as passed, so it does
/// not skip case by case), and `requireAvailable` stops any test that
/// names it anyway.
let engineNames: [String] = EngineRegistry.variants.map(\.name).filter { unavailability(of: $0) == nil }

/// Why the variant's engine cannot run here, or nil.
/// `SWITCHYARD_TEST_UNAVAILABLE=io_uring,stealing` treats those engines as
/// unavailable, to see that path on a machine that runs everything.
func unavailability(of name: String) -> String? {
    let engine = engineVariant(name).engine
    if let pretend = getenv("SWITCHYARD_TEST_UNAVAILABLE"),
       String(cString: pretend).split(separator: ",").contains(Substring(engine)) {
        return "SWITCHYARD_TEST_UNAVAILABLE names it"
    }
    guard let descriptor = EngineRegistry.named(engine) else { return "no engine named \(engine)" }
    if case .unavailable(let reason) = descriptor.availability() { return reason }
    return nil
}

/// The variant named `name`: its engine, configuration change and `serve` flags.
func engineVariant(_ name: String) -> (engine: String, configure: (inout EngineConfiguration) -> Void, arguments: [String]) {
    guard let variant = EngineRegistry.variant(named: name) else { return (name, { _ in }, ["--engine", name]) }
    return (variant.engine, variant.configure, variant.arguments)
}

/// Stops a test that names a variant whose engine cannot run here.
func requireAvailable(_ name: String) throws {
    if let reason = unavailability(of: name) {
        throw TestClient.Failure(description: "\(name) cannot run on this machine: \(reason)")
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
        try requireAvailable(name)
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
