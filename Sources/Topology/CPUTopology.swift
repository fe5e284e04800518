/// The machine as the engines need to see it: which processing units (PUs,
/// hardware threads) exist, how they group into cores, packages (sockets) and
/// NUMA nodes, which caches they share, and which of them this process may run on.
///
/// It is a plain value, filled once by `discover()` (hwloc) and then only read,
/// so it can be passed to every engine thread. Tests build synthetic machines
/// with the internal memberwise initializer.
public struct CPUTopology: Sendable {
    /// A data or unified cache (instruction caches are left out: they do not
    /// decide where a thread's working set lives).
    public struct Cache: Sendable {
        /// 1 for L1, 2 for L2, ...
        public let level: Int
        public let bytes: Int
        /// OS indexes of the PUs that share this cache, ascending.
        public let sharedBy: [Int]

        init(level: Int, bytes: Int, sharedBy: [Int]) {
            self.level = level
            self.bytes = bytes
            self.sharedBy = sharedBy
        }
    }

    public struct Core: Sendable {
        /// Position in `cores` (hwloc's logical order, which follows locality:
        /// neighbours in this order share the most hardware).
        public let index: Int
        /// OS CPU numbers (what `taskset` and `sched_setaffinity` use) of this
        /// core's hardware threads; more than one means SMT (hyper-threading).
        public let processingUnits: [Int]
        /// Logical NUMA node index, `0..<numaNodes`.
        public let numaNode: Int
        /// Logical package (socket) index, `0..<packages`.
        public let package: Int

        init(index: Int, processingUnits: [Int], numaNode: Int, package: Int) {
            self.index = index
            self.processingUnits = processingUnits
            self.numaNode = numaNode
            self.package = package
        }
    }

    public let packages: Int
    public let numaNodes: Int
    public let cores: [Core]
    public let caches: [Cache]
    /// The CPUs this process may run on (its affinity mask when discovered:
    /// `taskset`, a cgroup cpuset or a container limit can shrink it), ascending.
    public let allowedProcessingUnits: [Int]

    /// All OS CPU numbers on the machine, ascending.
    public var processingUnits: [Int] {
        cores.flatMap(\.processingUnits).sorted()
    }

    init(packages: Int, numaNodes: Int, cores: [Core], caches: [Cache], allowedProcessingUnits: [Int]) {
        self.packages = packages
        self.numaNodes = numaNodes
        self.cores = cores
        self.caches = caches
        self.allowedProcessingUnits = allowedProcessingUnits
    }
}
