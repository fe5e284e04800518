import Glibc
@testable import Topology

/// A synthetic machine: `packages` × `nodesPerPackage` NUMA nodes × `coresPerNode`
/// cores × `threadsPerCore` hyper-threads, with one L3 per package and an L2
/// and L1 per core. `siblingsAdjacent` numbers a core's threads 0,1 / 2,3 (as
/// many AMD machines do); otherwise Intel-style, all first threads then all
/// second threads (core 0 = CPUs 0 and 4 on a 4-core machine).
func machine(
    packages: Int, nodesPerPackage: Int = 1, coresPerNode: Int, threadsPerCore: Int,
    siblingsAdjacent: Bool = true, allowed: [Int]? = nil
) -> CPUTopology {
    let coreCount = packages * nodesPerPackage * coresPerNode
    let cores = (0..<coreCount).map { core in
        let node = core / coresPerNode
        let pus = (0..<threadsPerCore).map { thread in
            siblingsAdjacent ? core * threadsPerCore + thread : thread * coreCount + core
        }
        return CPUTopology.Core(index: core, processingUnits: pus, numaNode: node, package: node / nodesPerPackage)
    }
    var caches: [CPUTopology.Cache] = (0..<packages).map { package in
        let pus = cores.filter { $0.package == package }.flatMap(\.processingUnits).sorted()
        return CPUTopology.Cache(level: 3, bytes: 32 << 20, sharedBy: pus)
    }
    for core in cores {
        caches.append(CPUTopology.Cache(level: 2, bytes: 1 << 20, sharedBy: core.processingUnits.sorted()))
        caches.append(CPUTopology.Cache(level: 1, bytes: 48 << 10, sharedBy: core.processingUnits.sorted()))
    }
    return CPUTopology(
        packages: packages, numaNodes: packages * nodesPerPackage, cores: cores, caches: caches,
        allowedProcessingUnits: allowed ?? cores.flatMap(\.processingUnits).sorted()
    )
}

/// Runs `body` on a fresh pthread and waits for it, so a test can change
/// that thread's CPU affinity without touching the test runner's threads.
func onNewThread<Result>(_ body: @escaping () -> Result) -> Result {
    let start = ThreadStart { body() }
    let context = Unmanaged.passRetained(start).toOpaque()
    var thread = pthread_t()
    let created = pthread_create(&thread, nil, { context in
        // safety: `context` is the retained ThreadStart passed below; this
        // takes back that single +1 reference exactly once.
        let start = Unmanaged<ThreadStart>.fromOpaque(context!).takeRetainedValue()
        start.result = start.body()
        return nil
    }, context)
    precondition(created == 0, "pthread_create failed: \(created)")
    pthread_join(thread, nil)
    // pthread_join orders the thread's write of `result` before this read.
    return start.result as! Result
}

private final class ThreadStart: @unchecked Sendable {
    let body: () -> Any
    var result: Any?

    init(_ body: @escaping () -> Any) {
        self.body = body
    }
}
