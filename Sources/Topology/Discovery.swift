internal import CHwloc
import Glibc

extension CPUTopology {
    /// Asks hwloc to describe this machine and the kernel for this process's
    /// affinity mask. hwloc reads sysfs and /proc (and CPUID), so the result
    /// reflects what Linux exposes: inside a VM that is the virtual machine.
    ///
    /// Call it from an unpinned thread (normally at start-up): the allowed set
    /// is read from the calling thread's affinity mask.
    public static func discover() throws(TopologyError) -> CPUTopology {
        // A library built from a different major version than the header
        // would misread every structure below; hwloc documents this check.
        let runtimeVersion = hwloc_get_api_version()
        guard runtimeVersion >> 16 == UInt32(HWLOC_API_VERSION) >> 16 else {
            throw TopologyError(
                "hwloc library version \(hex(runtimeVersion)) does not match the headers this program was built with (\(hex(UInt32(HWLOC_API_VERSION)))); rebuild against the installed libhwloc-dev"
            )
        }

        var handle: hwloc_topology_t?
        guard hwloc_topology_init(&handle) == 0, let topology = handle else {
            throw TopologyError("hwloc could not start (hwloc_topology_init): \(errnoText(errno))")
        }
        defer { hwloc_topology_destroy(topology) }
        guard hwloc_topology_load(topology) == 0 else {
            throw TopologyError(
                "hwloc could not read this machine's topology (hwloc_topology_load): \(errnoText(errno)); is /sys mounted?"
            )
        }

        let reader = HwlocReader(topology: topology)
        let cores = reader.cores()
        guard !cores.isEmpty else {
            throw TopologyError("hwloc found no processing units on this machine")
        }
        return CPUTopology(
            packages: max(1, reader.count(of: HWLOC_OBJ_PACKAGE)),
            numaNodes: max(1, reader.count(of: HWLOC_OBJ_NUMANODE)),
            cores: cores,
            caches: reader.caches(),
            allowedProcessingUnits: try allowedCPUsOfCurrentThread()
        )
    }
}

/// Reads one loaded hwloc topology; lives only inside `discover()`, so the
/// borrowed pointer never outlives `hwloc_topology_destroy`.
private struct HwlocReader {
    let topology: hwloc_topology_t

    func count(of type: hwloc_obj_type_t) -> Int {
        // Negative means "several depths" (not possible for these types) or
        // an unknown type; treat both as absent.
        max(0, Int(hwloc_get_nbobjs_by_type(topology, type)))
    }

    func objects(of type: hwloc_obj_type_t) -> [hwloc_obj_t] {
        (0..<count(of: type)).compactMap { hwloc_get_obj_by_type(topology, type, UInt32($0)) }
    }

    /// Cores in hwloc's logical order with their PUs. Walking PUs and grouping
    /// by their Core ancestor also covers machines where hwloc reports no Core
    /// objects: each PU then stands for a core of its own.
    func cores() -> [CPUTopology.Core] {
        let numaNodes = objects(of: HWLOC_OBJ_NUMANODE)
        var groups: [(key: UnsafeMutableRawPointer, package: Int, numaNode: Int, pus: [Int])] = []
        for pu in objects(of: HWLOC_OBJ_PU) {
            // safety: hwloc objects, their cpusets and attributes stay valid
            // until hwloc_topology_destroy, which runs after this reader is gone;
            // `key` is only compared, never dereferenced.
            let os = Int(pu.pointee.os_index)
            let core = hwloc_get_ancestor_obj_by_type(topology, HWLOC_OBJ_CORE, pu) ?? pu
            let key = UnsafeMutableRawPointer(core)
            if let existing = groups.firstIndex(where: { $0.key == key }) {
                groups[existing].pus.append(os)
                continue
            }
            let package = hwloc_get_ancestor_obj_by_type(topology, HWLOC_OBJ_PACKAGE, pu)
                .map { Int($0.pointee.logical_index) } ?? 0
            // In hwloc 2 NUMA nodes hang off the tree as memory children, not
            // ancestors, so find the node whose cpuset holds this PU.
            let numaNode = numaNodes.firstIndex { hwloc_bitmap_isset($0.pointee.cpuset, UInt32(os)) != 0 } ?? 0
            groups.append((key, package, numaNode, [os]))
        }
        return groups.enumerated().map { index, group in
            CPUTopology.Core(index: index, processingUnits: group.pus, numaNode: group.numaNode, package: group.package)
        }
    }

    /// Data and unified caches, outermost level first. Instruction caches
    /// have their own object types (L1ICACHE...) and are skipped.
    func caches() -> [CPUTopology.Cache] {
        let types = [HWLOC_OBJ_L5CACHE, HWLOC_OBJ_L4CACHE, HWLOC_OBJ_L3CACHE, HWLOC_OBJ_L2CACHE, HWLOC_OBJ_L1CACHE]
        return types.flatMap { type in
            objects(of: type).compactMap { cache -> CPUTopology.Cache? in
                // safety: as in cores(); cache objects always carry cache attributes.
                guard let attributes = cache.pointee.attr else { return nil }
                return CPUTopology.Cache(
                    level: Int(attributes.pointee.cache.depth),
                    bytes: Int(attributes.pointee.cache.size),
                    sharedBy: members(of: cache.pointee.cpuset)
                )
            }
        }
    }

    func members(of set: hwloc_const_cpuset_t?) -> [Int] {
        guard let set else { return [] }
        var cpus: [Int] = []
        var cpu = hwloc_bitmap_first(set)
        while cpu >= 0 {
            cpus.append(Int(cpu))
            cpu = hwloc_bitmap_next(set, cpu)
        }
        return cpus
    }
}

private func hex(_ version: UInt32) -> String {
    "0x" + String(version, radix: 16)
}
