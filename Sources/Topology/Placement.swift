/// Which CPU each engine thread runs on: a `PinPolicy` applied to a machine.
/// Planning is pure (no binding happens here), so every policy can be checked
/// against synthetic machines, and a bad flag fails at start-up with a message
/// instead of later on some thread.
public struct Placement: Sendable, Equatable {
    public let policy: PinPolicy
    /// CPU (OS index) for each engine thread, in thread order; nil entries when policy is none.
    public let cpus: [Int?]

    /// - compact: fill cores in order using the first PU of each core;
    ///   hyper-thread siblings only after every core has one thread.
    /// - scatter: round-robin over packages, within each over NUMA nodes, within
    ///   each over cores; hyper-thread siblings last.
    /// - cpus: the list given, in order; more threads than listed CPUs is an
    ///   error (wrapping around would silently double up threads), fewer uses
    ///   the start of the list.
    ///
    /// Only CPUs in `topology.allowedProcessingUnits` are used. Errors name
    /// --pin / --threads and say what exists.
    public static func plan(_ policy: PinPolicy, threads: Int, topology: CPUTopology) throws(TopologyError) -> Placement {
        guard threads >= 1 else {
            throw TopologyError("--threads must be at least 1 (got \(threads))")
        }
        let order: [Int]
        switch policy {
        case .none:
            // Unpinned threads may outnumber CPUs: the scheduler time-slices them.
            return Placement(policy: policy, cpus: Array(repeating: nil, count: threads))
        case .compact:
            order = compactOrder(topology)
        case .scatter:
            order = scatterOrder(topology)
        case .cpus(let list):
            try validate(list, policy: policy, threads: threads, topology: topology)
            order = list
        }
        guard threads <= order.count else {
            throw TopologyError(
                "--threads \(threads) with --pin \(policy) needs \(threads) CPUs, but this process may use only \(order.count) (CPUs \(cpuRangeList(order))); lower --threads or use --pin none"
            )
        }
        return Placement(policy: policy, cpus: order.prefix(threads).map { $0 })
    }

    /// One line for start-up logs, e.g. "compact: thread 0 → CPU 0, thread 1 → CPU 1".
    public func describe() -> String {
        guard policy != .none else {
            return "none: \(cpus.count) thread\(cpus.count == 1 ? "" : "s"), not pinned (the kernel schedules them)"
        }
        let threads = cpus.enumerated().map { thread, cpu in
            "thread \(thread) → CPU \(cpu.map(String.init) ?? "any")"
        }
        return "\(policy): " + threads.joined(separator: ", ")
    }

    /// "0,1" style list of CPUs used, ascending, for /metrics labels; "none" for none.
    public var cpuList: String {
        let used = Set(cpus.compactMap { $0 }).sorted()
        return used.isEmpty ? "none" : used.map(String.init).joined(separator: ",")
    }

    // MARK: - Orders

    /// Each core's usable PUs, in core order (hwloc's logical order).
    private static func allowedPUsPerCore(_ topology: CPUTopology) -> [(core: CPUTopology.Core, pus: [Int])] {
        let allowed = Set(topology.allowedProcessingUnits)
        return topology.cores.map { core in (core, core.processingUnits.filter(allowed.contains)) }
    }

    /// Takes the k-th PU of each core, in the given core order, for k = 0, 1, ...:
    /// every core gets a thread before any core gets a second (SMT sibling),
    /// because siblings share one core's execution units and L1/L2.
    private static func bySiblingRank(_ cores: [[Int]]) -> [Int] {
        let deepest = cores.map(\.count).max() ?? 0
        return (0..<deepest).flatMap { rank in cores.compactMap { $0.count > rank ? $0[rank] : nil } }
    }

    static func compactOrder(_ topology: CPUTopology) -> [Int] {
        bySiblingRank(allowedPUsPerCore(topology).map(\.pus))
    }

    static func scatterOrder(_ topology: CPUTopology) -> [Int] {
        // Group cores package → NUMA node, then deal them out like cards:
        // alternate packages, within a package alternate its nodes.
        let cores = allowedPUsPerCore(topology).filter { !$0.pus.isEmpty }
        let packages = Dictionary(grouping: cores, by: \.core.package).sorted { $0.key < $1.key }
        let perPackage = packages.map { _, coresInPackage in
            let nodes = Dictionary(grouping: coresInPackage, by: \.core.numaNode).sorted { $0.key < $1.key }
            return roundRobin(nodes.map { $0.value.map(\.pus) })
        }
        return bySiblingRank(roundRobin(perPackage))
    }

    /// [[a1, a2], [b1], [c1, c2]] → [a1, b1, c1, a2, c2].
    private static func roundRobin<T>(_ lists: [[T]]) -> [T] {
        let longest = lists.map(\.count).max() ?? 0
        return (0..<longest).flatMap { index in lists.compactMap { $0.count > index ? $0[index] : nil } }
    }

    // MARK: - Checks

    private static func validate(_ list: [Int], policy: PinPolicy, threads: Int, topology: CPUTopology) throws(TopologyError) {
        let machine = topology.processingUnits
        let existing = Set(machine)
        let allowed = Set(topology.allowedProcessingUnits)
        guard !list.isEmpty else {
            throw TopologyError("--pin cpus: lists no CPUs; this machine has CPUs \(cpuRangeList(machine))")
        }
        var seen = Set<Int>()
        for cpu in list {
            guard existing.contains(cpu) else {
                throw TopologyError("--pin \(policy): CPU \(cpu) does not exist; this machine has CPUs \(cpuRangeList(machine))")
            }
            guard allowed.contains(cpu) else {
                throw TopologyError(
                    "--pin \(policy): CPU \(cpu) is outside this process's allowed CPUs (\(cpuRangeList(topology.allowedProcessingUnits))); check taskset or the cgroup cpuset"
                )
            }
            guard seen.insert(cpu).inserted else {
                throw TopologyError("--pin \(policy): CPU \(cpu) is listed twice; two threads on one CPU only take turns")
            }
        }
        guard threads <= list.count else {
            throw TopologyError(
                "--threads \(threads) needs \(threads) CPUs but --pin \(policy) lists only \(list.count); list more CPUs or lower --threads"
            )
        }
    }
}
