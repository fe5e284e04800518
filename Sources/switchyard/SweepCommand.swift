import ArgumentParser
import EngineCore
import Engines
import Experiments
import Glibc
import Sweep
import Topology

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run an experiment spec: every point of its matrix, measured and written to notebooks-data/NAME/.",
        discussion: """
            Each measurement starts the server as a child process on the server CPUs, waits for /health, \
            warms up, runs the load generator on the other CPUs, samples the server's CPU time, context \
            switches, peak RSS and /metrics at the edges of the measured window, and stops the server with \
            SIGTERM. Rows are appended (and fsynced) to results.csv as they finish; a rerun resumes where \
            the last one stopped unless --fresh. Ctrl-C stops after cleaning up; what was measured stays.
            """)

    @Argument(help: "The spec, e.g. experiments/quick.toml (format: Sources/Experiments/README.md).")
    var spec: String

    @Flag(help: "Measure every point again; an earlier results.csv is kept as results.csv.N.")
    var fresh = false

    @Flag(help: "Print the measurements the spec expands to, in run order, and exit.")
    var list = false

    @Option(help: "Folder that receives NAME/results.csv, server-metrics.csv, metadata.json, summary.txt.")
    var output = "notebooks-data"

    @Option(help: "CPUs for the server under test, e.g. 0 or 0-3 (default: the first half of the cores).")
    var serverCpus: String?

    @Option(help: "CPUs for the load generator (default: the CPUs the server does not get).")
    var loadCpus: String?

    @Option(help: "Load generator I/O threads (default: one per load CPU).")
    var loadThreads: Int?

    @Option(help: "How long a server has to answer /health after it starts (15s, or seconds).")
    var startupTimeout = Seconds(15)

    @Option(help: "How long a request may take before the load generator counts a timeout (5s, 500ms, or seconds).")
    var requestTimeout = Seconds(5)

    func validate() throws {
        if let loadThreads, loadThreads < 1 { throw ValidationError("--load-threads \(loadThreads): must be at least 1") }
        guard startupTimeout.value > 0 else { throw ValidationError("--startup-timeout \(startupTimeout.text): must be more than 0 seconds") }
        guard requestTimeout.value > 0 else { throw ValidationError("--request-timeout \(requestTimeout.text): must be more than 0 seconds") }
        _ = try cpuList(serverCpus, flag: "--server-cpus")
        _ = try cpuList(loadCpus, flag: "--load-cpus")
    }

    func run() throws {
        guard let text = readWholeFile(spec) else {
            log("error: cannot read the spec \(spec): \(String(cString: strerror(errno)))", .error)
            throw ExitCode(2)
        }
        let known = EngineRegistry.all.map {
            KnownEngine(name: $0.name, isReactor: $0.isReactor, hasThreadPool: $0.hasThreadPool)
        }
        let parsed: ExperimentSpec
        do {
            parsed = try ExperimentSpec(parsing: text, source: spec, knownEngines: known)
        } catch {
            log("error: \(error)", .error)
            throw ExitCode(2)
        }
        if list {
            for (index, run) in parsed.runOrder.enumerated() {
                print("\(index + 1)\t\(run.point.id)\trep \(run.repetition)")
            }
            return
        }

        let topology: CPUTopology
        let split: CPUSplit
        do {
            topology = try CPUTopology.discover()
            split = try CPUSplit.resolve(
                server: try cpuList(serverCpus ?? parsed.load.serverCPUs, flag: serverCpus == nil ? "load.server-cpus" : "--server-cpus"),
                load: try cpuList(loadCpus ?? parsed.load.loadCPUs, flag: loadCpus == nil ? "load.load-cpus" : "--load-cpus"),
                topology: topology,
                allowOverlap: serverCpus == nil && loadCpus == nil && parsed.load.serverCPUs != nil && parsed.load.loadCPUs != nil)
        } catch {
            log("error: \(error)", .error)
            throw ExitCode(2)
        }
        if split.isShared {
            log("sweep: note: the server's CPUs (\(cpuRangeList(split.server))) and the load's (\(cpuRangeList(split.load))) overlap: "
                + "the load generator takes CPU time from the server (results.csv: load_cpu_share)"
                + (parsed.load.realtime ? "" : "; [load] realtime = true keeps its sends on schedule"))
        }
        raiseOpenFileLimit()
        // The runner's own threads (sampler, progress) stay off the server's CPUs.
        if !split.isShared { try? bindCurrentThread(toCPUs: split.load) }

        var options = SweepRunner.Options(
            spec: parsed, specText: text, outputRoot: output, serverBinary: "/proc/self/exe",
            engines: EngineRegistry.all.map { engine in
                switch engine.availability() {
                case .available: SweepRunner.EngineInfo(name: engine.name, unavailableReason: nil)
                case .unavailable(let reason): SweepRunner.EngineInfo(name: engine.name, unavailableReason: reason)
                }
            },
            cpus: split, loadThreads: loadThreads ?? split.load.count, topologyJSON: topology.json())
        options.serverBinaryPath = ownExecutable()
        options.fresh = fresh
        options.startupTimeout = startupTimeout.value
        options.requestTimeout = requestTimeout.value
        options.notes = [("spec_path", spec)]
        let runner = SweepRunner(options: options)
        ShutdownSignals.install { _ in
            log("sweep: interrupted; stopping the server in progress (measured rows are kept)")
            runner.interrupt()
        }
        log("sweep \(parsed.name): server on CPUs \(cpuRangeList(split.server)), load on CPUs "
            + "\(cpuRangeList(split.load)) with \(options.loadThreads) thread(s)")

        let outcome: SweepRunner.Outcome
        do {
            outcome = try runner.run()
        } catch {
            log("error: \(error)", .error)
            throw ExitCode(1)
        }
        print(outcome.summary.text(), terminator: "")
        print("\nResults: \(outcome.folder)/results.csv (summary.txt, metadata.json, server-metrics.csv beside it)")
        print("Plots:   make report NAME=\(parsed.name)")
        if outcome.interrupted { throw ExitCode(130) }
        if outcome.failed > 0 {
            log("sweep: \(outcome.failed) of \(outcome.measured) measurements failed; their reasons are in the table above and in results.csv")
            throw ExitCode(1)
        }
    }

    private func cpuList(_ text: String?, flag: String) throws -> [Int]? {
        guard let text else { return nil }
        do {
            guard case .cpus(let list) = try PinPolicy(parsing: "cpus:" + text) else { return nil }
            return list
        } catch {
            throw ValidationError("\(flag) \(text): expected a CPU list like 0 or 0,2 or 0-3")
        }
    }
}

/// This process's own binary: the server the sweep starts is the same build.
private func ownExecutable() -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    // safety: readlink writes at most buffer.count - 1 bytes into the array.
    let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard count > 0 else { return CommandLine.arguments[0] }
    return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Thousands of connections need thousands of descriptors on both sides;
/// the soft limit is often 1024 while the hard one allows far more. The
/// server children inherit the raised limit.
private func raiseOpenFileLimit() {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
    limit.rlim_cur = limit.rlim_max
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}

/// A whole text file (a sweep spec, a configuration file); nil if it cannot be opened.
func readWholeFile(_ path: String) -> String? {
    readWholeBytes(path).map { String(decoding: $0, as: UTF8.self) }
}

/// A whole file's bytes; nil if it cannot be opened.
func readWholeBytes(_ path: String) -> [UInt8]? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
        // safety: fread writes at most chunk.count bytes into the array.
        let count = fread(&chunk, 1, chunk.count, file)
        if count == 0 { break }
        bytes.append(contentsOf: chunk[..<count])
    }
    return bytes
}
