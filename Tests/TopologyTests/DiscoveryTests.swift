import FoundationEssentials
import Testing
@testable import Topology

@Suite struct DiscoveryTests {
    @Test func findsProcessingUnitsAndAnAllowedSubset() throws {
        let topology = try CPUTopology.discover()
        let pus = topology.processingUnits
        #expect(!pus.isEmpty)
        #expect(pus == pus.sorted())
        #expect(Set(pus).count == pus.count)
        #expect(!topology.allowedProcessingUnits.isEmpty)
        #expect(topology.allowedProcessingUnits == topology.allowedProcessingUnits.sorted())
        #expect(Set(topology.allowedProcessingUnits).isSubset(of: Set(pus)))
    }

    @Test func coresPackagesAndNodesAreConsistent() throws {
        let topology = try CPUTopology.discover()
        #expect(topology.packages >= 1)
        #expect(topology.numaNodes >= 1)
        #expect(topology.cores.map(\.index) == Array(topology.cores.indices))
        for core in topology.cores {
            #expect(!core.processingUnits.isEmpty)
            #expect((0..<topology.packages).contains(core.package))
            #expect((0..<topology.numaNodes).contains(core.numaNode))
        }
        for cache in topology.caches {
            #expect((1...5).contains(cache.level))
            #expect(cache.bytes > 0)
            #expect(Set(cache.sharedBy).isSubset(of: Set(topology.processingUnits)))
        }
    }

    @Test func treeAndJSONNameEveryProcessingUnit() throws {
        let topology = try CPUTopology.discover()
        let tree = topology.tree()
        let treeLines = tree.split(separator: "\n")
        for pu in topology.processingUnits {
            #expect(treeLines.contains { $0.hasSuffix("PU \(pu)") || $0.contains("PU \(pu) (") }, "PU \(pu) missing from tree:\n\(tree)")
        }
        let decoded = try JSONDecoder().decode(TopologyJSON.self, from: Data(topology.json().utf8))
        #expect(decoded.processingUnits == topology.processingUnits)
        #expect(decoded.allowedProcessingUnits == topology.allowedProcessingUnits)
        #expect(decoded.cores.flatMap(\.processingUnits).sorted() == topology.processingUnits)
        #expect(decoded.packages == topology.packages)
        #expect(decoded.numaNodes == topology.numaNodes)
        #expect(decoded.caches.count == topology.caches.count)
    }
}

/// The JSON schema as tools see it; decoding checks the key names too.
struct TopologyJSON: Decodable {
    struct Core: Decodable { let index: Int; let package: Int; let numaNode: Int; let processingUnits: [Int] }
    struct Cache: Decodable { let level: Int; let bytes: Int; let sharedBy: [Int] }
    let packages: Int
    let numaNodes: Int
    let processingUnits: [Int]
    let allowedProcessingUnits: [Int]
    let cores: [Core]
    let caches: [Cache]
}
