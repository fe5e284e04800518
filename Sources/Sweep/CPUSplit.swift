import Topology

/// Which CPUs the server under test may use and which the load generator
/// gets. Disjoint, so the load never steals the server's cycles and the
/// server's CPU time per request measures the server alone.
public struct CPUSplit: Sendable, Equatable {
    public var server: [Int]
    public var load: [Int]

    public init(server: [Int], load: [Int]) {
        self.server = server
        self.load = load
    }

    /// Whether the two sides share a CPU: only when there was one core to
    /// split, and then every CPU figure includes the load's own cost.
    public var isShared: Bool { !Set(server).isDisjoint(with: load) }

    /// The default split: the first half of the cores (rounded up) to the
    /// server, the rest to the load, whole cores at a time so hyper-thread
    /// siblings never straddle the two sides. Only allowed CPUs are used.
    /// One usable core cannot be split: both sides share it (`isShared`).
    public static func halves(of topology: CPUTopology) -> CPUSplit {
        let allowed = Set(topology.allowedProcessingUnits)
        let cores = topology.cores.map { $0.processingUnits.filter(allowed.contains).sorted() }.filter { !$0.isEmpty }
        return halves(cores: cores)
    }

    /// `cores`: each core's usable CPUs, in the machine's order.
    static func halves(cores: [[Int]]) -> CPUSplit {
        guard cores.count >= 2 else {
            let only = cores.first ?? [0]
            return CPUSplit(server: only, load: only)
        }
        let serverCores = (cores.count + 1) / 2
        return CPUSplit(server: cores.prefix(serverCores).flatMap { $0 },
                        load: cores.dropFirst(serverCores).flatMap { $0 })
    }

    /// The split the operator asked for with --server-cpus / --load-cpus,
    /// each side defaulting to the halves above. Overlap is refused unless
    /// `allowOverlap` (a spec's `[load]` table that names both lists, as an
    /// experiment on a 2-core machine must): unasked for, it would make the
    /// results wrong without a trace; asked for, results.csv records what the
    /// load took (`load_cpu_share`).
    public static func resolve(server: [Int]?, load: [Int]?, topology: CPUTopology,
                               allowOverlap: Bool = false) throws(SweepError) -> CPUSplit {
        let halves = Self.halves(of: topology)
        let allowed = Set(topology.allowedProcessingUnits)
        for (flag, cpus) in [("--server-cpus", server), ("--load-cpus", load)] {
            if let outside = cpus?.first(where: { !allowed.contains($0) }) {
                throw SweepError("\(flag): CPU \(outside) is not available to this process "
                    + "(available: \(cpuRangeList(topology.allowedProcessingUnits)))")
            }
        }
        var split = CPUSplit(server: server ?? halves.server, load: load ?? halves.load)
        // One side given: the other gets the cores it leaves wholly free, so
        // the two never share a core through hyper-thread siblings.
        if server != nil, load == nil {
            split.load = freeCores(besides: split.server, topology: topology)
        } else if load != nil, server == nil {
            split.server = freeCores(besides: split.load, topology: topology)
        }
        guard !split.server.isEmpty else { throw SweepError("--server-cpus: no CPU is left for the server") }
        guard !split.load.isEmpty else { throw SweepError("--load-cpus: no CPU is left for the load generator") }
        let overlap = Set(split.server).intersection(split.load)
        if !overlap.isEmpty, server != nil || load != nil, !allowOverlap {
            throw SweepError("--server-cpus \(cpuRangeList(split.server)) and --load-cpus \(cpuRangeList(split.load)) "
                + "overlap on CPU \(cpuRangeList(Array(overlap))); give each side its own CPUs")
        }
        return split
    }

    /// The allowed CPUs of every core none of whose CPUs is in `taken`.
    static func freeCores(besides taken: [Int], topology: CPUTopology) -> [Int] {
        let allowed = Set(topology.allowedProcessingUnits)
        let used = Set(taken)
        return topology.cores.map(\.processingUnits)
            .filter { core in !core.contains(where: used.contains) }
            .flatMap { $0.filter(allowed.contains) }.sorted()
    }
}
