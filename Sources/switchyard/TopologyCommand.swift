import ArgumentParser
import Topology

struct TopologyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology",
        abstract: "Show this machine's packages, NUMA nodes, caches, cores and processing units (hwloc).")

    @Flag(help: "Print JSON for tools instead of the tree.")
    var json = false

    func run() throws {
        let topology: CPUTopology
        do {
            topology = try CPUTopology.discover()
        } catch {
            throw ValidationError(error.description)
        }
        print(json ? topology.json() : topology.tree())
    }
}
