import Engines
import Experiments
import Glibc
@testable import Sweep
import Topology

/// The `switchyard` binary built beside this test bundle (`swift build
/// --build-tests` builds every product).
let switchyardBinary: String = {
    let bundle = CommandLine.arguments[0]
    return String(bundle[..<bundle.lastIndex(of: "/")!]) + "/switchyard"
}()

let knownEngines = EngineRegistry.all.map {
    KnownEngine(name: $0.name, isReactor: $0.isReactor, hasThreadPool: $0.hasThreadPool)
}

/// A fresh folder under /tmp for one test's output.
func temporaryFolder() -> String {
    var template = Array("/tmp/switchyard-sweep-XXXXXX".utf8CString)
    // safety: mkdtemp rewrites the template in place within its bounds.
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    precondition(made != nil, "mkdtemp failed")
    return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

func parseSpec(_ text: String) throws -> ExperimentSpec {
    try ExperimentSpec(parsing: text, source: "test.toml", knownEngines: knownEngines)
}

/// A runner for `text` writing under `folder`, with the machine's default CPU split.
func makeRunner(_ text: String, folder: String, fresh: Bool = false) throws -> SweepRunner {
    let topology = try CPUTopology.discover()
    var options = SweepRunner.Options(
        spec: try parseSpec(text), specText: text, outputRoot: folder, serverBinary: switchyardBinary,
        engines: EngineRegistry.all.map { SweepRunner.EngineInfo(name: $0.name, unavailableReason: nil) },
        cpus: CPUSplit.halves(of: topology), loadThreads: 1, topologyJSON: topology.json())
    options.fresh = fresh
    options.startupTimeout = 10
    return SweepRunner(options: options)
}

func readText(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count == 0 { break }
        bytes.append(contentsOf: chunk[..<count])
    }
    return String(decoding: bytes, as: UTF8.self)
}

func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }
