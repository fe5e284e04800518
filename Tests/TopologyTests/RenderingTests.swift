import FoundationEssentials
import Testing
@testable import Topology

@Suite struct RenderingTests {
    @Test func treeNestsPackagesNodesCachesCoresAndPUs() {
        let topology = machine(packages: 2, coresPerNode: 2, threadsPerCore: 2, allowed: [0, 1, 2, 3])
        let tree = topology.tree()
        let expected = """
            Machine: 2 packages, 2 NUMA nodes, 4 cores, 8 PUs (allowed: 0-3)
            ├─ Package 0
            │  └─ NUMA node 0
            │     └─ L3 32 MiB
            │        ├─ L2 1 MiB
            │        │  └─ L1 48 KiB
            │        │     └─ Core 0
            │        │        ├─ PU 0
            │        │        └─ PU 1
            │        └─ L2 1 MiB
            │           └─ L1 48 KiB
            │              └─ Core 1
            │                 ├─ PU 2
            │                 └─ PU 3
            └─ Package 1
               └─ NUMA node 1
                  └─ L3 32 MiB
                     ├─ L2 1 MiB
                     │  └─ L1 48 KiB
                     │     └─ Core 2
                     │        ├─ PU 4 (not allowed)
                     │        └─ PU 5 (not allowed)
                     └─ L2 1 MiB
                        └─ L1 48 KiB
                           └─ Core 3
                              ├─ PU 6 (not allowed)
                              └─ PU 7 (not allowed)

            """
        #expect(tree == expected, "\(tree)")
    }

    @Test func treeWithoutCaches() {
        let topology = CPUTopology(
            packages: 1, numaNodes: 1,
            cores: [.init(index: 0, processingUnits: [0], numaNode: 0, package: 0)],
            caches: [], allowedProcessingUnits: [0]
        )
        #expect(topology.tree().contains("└─ Core 0\n         └─ PU 0\n"))
    }

    @Test func jsonIsStable() throws {
        let topology = machine(packages: 1, coresPerNode: 2, threadsPerCore: 1, allowed: [1])
        let expected = """
            {
              "packages": 1,
              "numaNodes": 1,
              "processingUnits": [0, 1],
              "allowedProcessingUnits": [1],
              "cores": [
                {"index": 0, "package": 0, "numaNode": 0, "processingUnits": [0]},
                {"index": 1, "package": 0, "numaNode": 0, "processingUnits": [1]}
              ],
              "caches": [
                {"level": 3, "bytes": 33554432, "sharedBy": [0, 1]},
                {"level": 2, "bytes": 1048576, "sharedBy": [0]},
                {"level": 1, "bytes": 49152, "sharedBy": [0]},
                {"level": 2, "bytes": 1048576, "sharedBy": [1]},
                {"level": 1, "bytes": 49152, "sharedBy": [1]}
              ]
            }

            """
        #expect(topology.json() == expected)
        _ = try JSONDecoder().decode(TopologyJSON.self, from: Data(topology.json().utf8))
        let empty = CPUTopology(packages: 1, numaNodes: 1, cores: [], caches: [], allowedProcessingUnits: [])
        _ = try JSONDecoder().decode(TopologyJSON.self, from: Data(empty.json().utf8))
    }

    @Test(arguments: [
        (49152, "48 KiB"), (1_310_720, "1280 KiB"), (33_554_432, "32 MiB"), (1 << 30, "1 GiB"), (1000, "1000 B"), (0, "0 B"),
    ])
    func cacheSizes(bytes: Int, text: String) {
        #expect(formatBytes(bytes) == text)
    }

    @Test func cpuRanges() {
        #expect(cpuRangeList([]) == "none")
        #expect(cpuRangeList([3]) == "3")
        #expect(cpuRangeList([0, 1]) == "0-1")
        #expect(cpuRangeList([5, 0, 1, 2, 3, 8, 9, 11]) == "0-3,5,8-9,11")
    }
}
