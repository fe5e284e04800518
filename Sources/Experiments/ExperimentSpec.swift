/// One sweep, as written in `experiments/NAME.toml` (format in README.md).
///
/// Built only by `ExperimentSpec(parsing:source:knownEngines:)`, which checks
/// every key, so a spec that exists is one the runner can execute without
/// second-guessing it.
public struct ExperimentSpec: Sendable, Equatable {
    /// Names the output folder `notebooks-data/<name>/`.
    public var name: String
    public var description: String
    /// Seconds of each measurement.
    public var duration: Double
    /// Seconds of load before each measurement starts counting.
    public var warmup: Double
    /// How many times the whole list of points is measured, interleaved.
    public var repetitions: Int
    public var matrix: Matrix
    /// Extra engine flags, the same for every point; sorted by key.
    public var server: [ServerFlag]
    /// Peer servers (nginx, ...) that `matrix.engines` may name.
    public var references: [ReferenceServer]
    /// Where the server and the load generator run (`[load]`); the sweep's
    /// `--server-cpus`/`--load-cpus` flags override the CPU lists.
    public var load = LoadPlacement()
    /// The engines of `matrix.engines` that take an accept policy, recorded
    /// from the caller's `KnownEngine` list so expansion needs nothing else.
    public var reactorEngines: [String]
    /// The engines of `matrix.engines` whose thread count is a setting; the
    /// others (one thread per connection) run once per other combination.
    public var threadPoolEngines: [String]
}

/// The dimensions whose every combination is one point, and the load shape
/// that is the same for all of them.
public struct Matrix: Sendable, Equatable {
    /// Project engines and reference server names.
    public var engines: [String]
    public var threads: [Int]
    /// `--pin` values: none, compact, scatter, cpus:LIST.
    public var pin: [String]
    /// Accept policies; they apply only to reactor engines.
    public var accept: [String]
    public var connections: [Int]
    /// Requests in flight per connection (1 = no pipelining).
    public var pipeline: [Int]
    /// Open-loop target rates in requests/s; empty means one closed-loop run.
    public var rate: [Double]
    public var arrivals: Arrivals
    public var mix: [MixEntry]
    /// Engine flag sets to sweep (`matrix.flags`), each a variant of every
    /// other combination; `[[]]` (one empty set) when the spec has none.
    /// They apply to the project's engines only, on top of `[server]`.
    public var flags: [[ServerFlag]] = [[]]
    /// Open-loop skews to sweep: "none" or `HOT:SHARE` (fractions).
    public var skew: [String] = ["none"]
}

/// How an open-loop load generator spaces its requests.
public enum Arrivals: String, Sendable, CaseIterable {
    /// Evenly spaced: the simplest load to reason about.
    case constant
    /// Exponential gaps: bursts like independent users produce.
    case poisson
}

/// One kind of request in the load and its share (weights are relative).
public struct MixEntry: Sendable, Hashable {
    public var path: String
    public var weight: Double

    public init(path: String, weight: Double) {
        self.path = path
        self.weight = weight
    }
}

/// One `[server]` entry: `key = value` becomes the engine flag `--key value`.
public struct ServerFlag: Sendable, Hashable {
    public enum Value: Sendable, Hashable {
        case string(String)
        case int(Int)
        case double(Double)
        case bool(Bool)
    }

    public var key: String
    public var value: Value

    /// `key=value`, as in point ids and the `flags` column.
    public var text: String { "\(key)=\(renderedValue)" }

    /// The value as it goes on a command line.
    public var renderedValue: String {
        switch value {
        case .string(let text): text
        case .int(let number): String(number)
        case .double(let number): formatNumber(number)
        case .bool(let flag): flag ? "true" : "false"
        }
    }
}

/// A server outside the project, measured in the same run so that results
/// can be read as ratios against it (absolute numbers drift between machines).
public struct ReferenceServer: Sendable, Equatable {
    public var name: String
    /// Shell command; `{port}`, `{dir}` and `{threads}` are substituted.
    public var command: String
    public var port: Int
    /// Programs the command needs on PATH (e.g. `nginx`). When one is
    /// missing the runner skips this server's points with a notice instead
    /// of recording failures: a peer that is not installed is not a result.
    public var requires: [String] = []
    /// The path polled until it answers 200 before load starts (a peer
    /// server may not have our `/health`).
    public var health = "/health"

    /// Whether the command takes a thread count. Only then does the
    /// `threads` dimension apply to it; otherwise it runs once per
    /// combination of the other dimensions.
    public var takesThreads: Bool { command.contains("{threads}") }

    /// The command with its placeholders filled in.
    public func command(port: Int? = nil, dir: String, threads: Int?) -> String {
        var text = command.replacingAll("{port}", with: String(port ?? self.port))
        text = text.replacingAll("{dir}", with: dir)
        if let threads { text = text.replacingAll("{threads}", with: String(threads)) }
        return text
    }
}

/// An engine of this project the spec may name, passed in by the caller so
/// this module stays independent of the engine modules.
public struct KnownEngine: Sendable, Equatable {
    public var name: String
    /// Reactor engines have an accept policy (`matrix.accept`); thread-per-
    /// connection engines have one way of accepting and ignore it.
    public var isReactor: Bool
    /// Whether `--threads` sizes a pool. The threads engine runs one thread
    /// per connection, so for it the `threads` dimension does not apply.
    public var hasThreadPool: Bool

    public init(name: String, isReactor: Bool, hasThreadPool: Bool = true) {
        self.name = name
        self.isReactor = isReactor
        self.hasThreadPool = hasThreadPool
    }
}

/// Why a spec was refused: every problem found, each naming its key.
public struct SpecError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Issue: Sendable, Equatable {
        /// Dotted key with array indices, e.g. `matrix.engines[1]`; empty for
        /// whole-document problems such as a syntax error.
        public var key: String
        public var message: String
    }

    /// The file name used as a prefix, e.g. `experiments/x.toml`.
    public var source: String
    public var issues: [Issue]

    /// One line per issue: `source: key: message`.
    public var description: String {
        issues.map { issue in
            issue.key.isEmpty ? "\(source): \(issue.message)" : "\(source): \(issue.key): \(issue.message)"
        }.joined(separator: "\n")
    }
}

extension String {
    /// `replacingOccurrences` without Foundation.
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        return split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

/// Numbers as people write them: `20000` rather than `20000.0`, so ids and
/// command lines read naturally; fractions keep Swift's shortest round-trip form.
func formatNumber(_ value: Double) -> String {
    if value.isFinite, value == value.rounded(), abs(value) < 1e15 {
        return String(Int64(value))
    }
    return String(value)
}

/// The `[load]` table: how the measurement shares the machine.
public struct LoadPlacement: Sendable, Equatable {
    /// CPU lists (`0-1`, `1`); nil leaves the runner's default split. When
    /// the spec names both, they may overlap (a 2-core machine's tail
    /// experiment shares a CPU); `--server-cpus`/`--load-cpus` override.
    public var serverCPUs: String?
    public var loadCPUs: String?
    /// Load-generator threads under SCHED_FIFO: on a machine where they
    /// share a CPU with a server thread, they still send on time.
    public var realtime = false
    /// A latency objective (seconds): goodput is counted against it; nil: none.
    public var slo: Double?
    /// Loopback source addresses the load connects from (0: the kernel's
    /// choice), so policies that place clients by address see many clients.
    public var sourceAddresses = 0

    public init(serverCPUs: String? = nil, loadCPUs: String? = nil, realtime: Bool = false) {
        self.serverCPUs = serverCPUs
        self.loadCPUs = loadCPUs
        self.realtime = realtime
    }
}
