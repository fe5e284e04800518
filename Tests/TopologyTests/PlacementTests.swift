import Testing
@testable import Topology

@Suite struct PlacementTests {
    // 2 packages × 2 cores × 2 hyper-threads, siblings adjacent:
    // package 0 = cores [0,1] [2,3], package 1 = cores [4,5] [6,7].
    let twoByTwoByTwo = machine(packages: 2, coresPerNode: 2, threadsPerCore: 2)

    @Test func compactTakesFirstThreadOfEachCoreThenSiblings() throws {
        let placement = try Placement.plan(.compact, threads: 8, topology: twoByTwoByTwo)
        #expect(placement.cpus == [0, 2, 4, 6, 1, 3, 5, 7])
        #expect(try Placement.plan(.compact, threads: 3, topology: twoByTwoByTwo).cpus == [0, 2, 4])
    }

    @Test func compactWithIntelStyleNumbering() throws {
        // Core c = CPUs c and c+4.
        let topology = machine(packages: 2, coresPerNode: 2, threadsPerCore: 2, siblingsAdjacent: false)
        #expect(try Placement.plan(.compact, threads: 8, topology: topology).cpus == [0, 1, 2, 3, 4, 5, 6, 7])
    }

    @Test func scatterAlternatesPackagesThenUsesSiblings() throws {
        let placement = try Placement.plan(.scatter, threads: 8, topology: twoByTwoByTwo)
        #expect(placement.cpus == [0, 4, 2, 6, 1, 5, 3, 7])
        let packages = placement.cpus.prefix(4).map { cpu in
            twoByTwoByTwo.cores.first { $0.processingUnits.contains(cpu!) }!.package
        }
        #expect(packages == [0, 1, 0, 1])
    }

    @Test func scatterAlternatesNUMANodesWithinPackages() throws {
        // 2 packages × 2 nodes × 2 cores, no SMT: node n = cores 2n, 2n+1.
        let topology = machine(packages: 2, nodesPerPackage: 2, coresPerNode: 2, threadsPerCore: 1)
        let placement = try Placement.plan(.scatter, threads: 8, topology: topology)
        #expect(placement.cpus == [0, 4, 2, 6, 1, 5, 3, 7])
        let firstFourNodes = placement.cpus.prefix(4).map { cpu in topology.cores[cpu!].numaNode }
        #expect(Set(firstFourNodes) == [0, 1, 2, 3])
        // compact keeps neighbours together instead.
        #expect(try Placement.plan(.compact, threads: 4, topology: topology).cpus == [0, 1, 2, 3])
    }

    @Test func policiesUseOnlyAllowedCPUs() throws {
        // taskset -c 0-3: only package 0's two cores, both threads each.
        let topology = machine(packages: 2, coresPerNode: 2, threadsPerCore: 2, allowed: [0, 1, 2, 3])
        #expect(try Placement.plan(.compact, threads: 4, topology: topology).cpus == [0, 2, 1, 3])
        #expect(try Placement.plan(.scatter, threads: 4, topology: topology).cpus == [0, 2, 1, 3])
        let tooMany = #expect(throws: TopologyError.self) { try Placement.plan(.scatter, threads: 5, topology: topology) }
        #expect(tooMany?.description.contains("may use only 4 (CPUs 0-3)") == true, "\(tooMany!)")
    }

    @Test func cpusKeepsTheGivenOrder() throws {
        let placement = try Placement.plan(.cpus([6, 1, 3]), threads: 3, topology: twoByTwoByTwo)
        #expect(placement.cpus == [6, 1, 3])
        #expect(placement.cpuList == "1,3,6")
        #expect(placement.describe() == "cpus:6,1,3: thread 0 → CPU 6, thread 1 → CPU 1, thread 2 → CPU 3")
        // Fewer threads than listed CPUs use the start of the list.
        #expect(try Placement.plan(.cpus([6, 1, 3]), threads: 2, topology: twoByTwoByTwo).cpus == [6, 1])
    }

    @Test func noneLeavesThreadsUnpinned() throws {
        // Unpinned threads may outnumber CPUs.
        let placement = try Placement.plan(.none, threads: 20, topology: twoByTwoByTwo)
        #expect(placement.cpus == Array(repeating: nil, count: 20))
        #expect(placement.cpuList == "none")
        #expect(placement.describe().hasPrefix("none: 20 threads"))
    }

    @Test func describeIsOneLine() throws {
        let placement = try Placement.plan(.compact, threads: 2, topology: twoByTwoByTwo)
        #expect(placement.describe() == "compact: thread 0 → CPU 0, thread 1 → CPU 2")
        #expect(placement.cpuList == "0,2")
        #expect(!placement.describe().contains("\n"))
    }

    // MARK: - Errors

    @Test(arguments: [PinPolicy.none, .compact, .scatter, .cpus([0])])
    func threadsMustBePositive(policy: PinPolicy) {
        for threads in [0, -1] {
            let error = #expect(throws: TopologyError.self) { try Placement.plan(policy, threads: threads, topology: twoByTwoByTwo) }
            #expect(error?.description.contains("--threads") == true)
        }
    }

    @Test(arguments: [PinPolicy.compact, .scatter])
    func moreThreadsThanCPUs(policy: PinPolicy) {
        let error = #expect(throws: TopologyError.self) { try Placement.plan(policy, threads: 9, topology: twoByTwoByTwo) }
        let message = error?.description ?? ""
        #expect(message.contains("--threads 9"), "\(message)")
        #expect(message.contains("--pin \(policy)"), "\(message)")
        #expect(message.contains("8 (CPUs 0-7)"), "\(message)")
    }

    @Test func moreThreadsThanListedCPUs() {
        let error = #expect(throws: TopologyError.self) { try Placement.plan(.cpus([0, 1]), threads: 3, topology: twoByTwoByTwo) }
        let message = error?.description ?? ""
        #expect(message.contains("--threads 3"), "\(message)")
        #expect(message.contains("--pin cpus:0,1 lists only 2"), "\(message)")
    }

    @Test func cpuThatDoesNotExist() {
        let twoCPUs = machine(packages: 1, coresPerNode: 2, threadsPerCore: 1)
        for cpu in [7, 2, -1] {
            let error = #expect(throws: TopologyError.self) { try Placement.plan(.cpus([0, cpu]), threads: 2, topology: twoCPUs) }
            let message = error?.description ?? ""
            #expect(message.contains("--pin"), "\(message)")
            #expect(message.contains("CPU \(cpu) does not exist; this machine has CPUs 0-1"), "\(message)")
        }
    }

    @Test func cpuOutsideTheAllowedSet() {
        let topology = machine(packages: 1, coresPerNode: 4, threadsPerCore: 1, allowed: [0, 1])
        let error = #expect(throws: TopologyError.self) { try Placement.plan(.cpus([1, 3]), threads: 2, topology: topology) }
        let message = error?.description ?? ""
        #expect(message.contains("--pin cpus:1,3"), "\(message)")
        #expect(message.contains("CPU 3 is outside this process's allowed CPUs (0-1)"), "\(message)")
    }

    @Test func duplicateAndEmptyLists() {
        let twice = #expect(throws: TopologyError.self) { try Placement.plan(.cpus([1, 1]), threads: 2, topology: twoByTwoByTwo) }
        #expect(twice?.description.contains("CPU 1 is listed twice") == true)
        let empty = #expect(throws: TopologyError.self) { try Placement.plan(.cpus([]), threads: 1, topology: twoByTwoByTwo) }
        #expect(empty?.description.contains("--pin cpus: lists no CPUs") == true)
    }

    // MARK: - On this machine

    @Test(arguments: [PinPolicy.compact, .scatter])
    func realTopologyUsesEveryAllowedCPUOnce(policy: PinPolicy) throws {
        let topology = try CPUTopology.discover()
        let allowed = topology.allowedProcessingUnits
        let placement = try Placement.plan(policy, threads: allowed.count, topology: topology)
        #expect(placement.cpus.compactMap { $0 }.sorted() == allowed)
        #expect(placement.cpuList == allowed.map(String.init).joined(separator: ","))
        #expect(throws: TopologyError.self) { try Placement.plan(policy, threads: allowed.count + 1, topology: topology) }
    }

    @Test func realTopologyCPUsPolicy() throws {
        let topology = try CPUTopology.discover()
        let allowed = topology.allowedProcessingUnits
        let reversed = Array(allowed.reversed())
        #expect(try Placement.plan(.cpus(reversed), threads: allowed.count, topology: topology).cpus == reversed)
        let missing = (topology.processingUnits.max() ?? 0) + 1
        let error = #expect(throws: TopologyError.self) { try Placement.plan(.cpus([missing]), threads: 1, topology: topology) }
        #expect(error?.description.contains("CPU \(missing) does not exist") == true)
    }
}
