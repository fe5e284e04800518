extension CPUTopology {
    /// A readable tree for `--show-topology` and logs:
    /// Machine > Package > NUMA node > L3 > L2 > L1 > Core > PU, with cache
    /// sizes; PUs this process may not use are marked.
    public func tree() -> String {
        let allowed = Set(allowedProcessingUnits)
        let levels = Set(caches.map(\.level)).sorted(by: >)

        func coreNode(_ core: Core) -> TreeNode {
            TreeNode("Core \(core.index)", core.processingUnits.map { pu in
                TreeNode(allowed.contains(pu) ? "PU \(pu)" : "PU \(pu) (not allowed)")
            })
        }

        // Nests `cores` under the caches of levels[depth...], outermost first.
        // A core belongs to the cache holding its first PU; cores with no
        // cache at some level (rare, e.g. a partial report in a VM) skip it.
        func cacheNodes(_ cores: [Core], depth: Int) -> [TreeNode] {
            guard depth < levels.count else { return cores.map(coreNode) }
            let level = caches.filter { $0.level == levels[depth] }
            var groups: [(cache: Int?, cores: [Core])] = []
            for core in cores {
                let cache = core.processingUnits.first.flatMap { pu in level.firstIndex { $0.sharedBy.contains(pu) } }
                if let group = groups.firstIndex(where: { $0.cache == cache }) {
                    groups[group].cores.append(core)
                } else {
                    groups.append((cache, [core]))
                }
            }
            return groups.flatMap { group -> [TreeNode] in
                let children = cacheNodes(group.cores, depth: depth + 1)
                guard let index = group.cache else { return children }
                return [TreeNode("L\(level[index].level) \(formatBytes(level[index].bytes))", children)]
            }
        }

        let packageNodes = Set(cores.map(\.package)).sorted().map { package in
            let inPackage = cores.filter { $0.package == package }
            let nodes = Set(inPackage.map(\.numaNode)).sorted().map { node in
                TreeNode("NUMA node \(node)", cacheNodes(inPackage.filter { $0.numaNode == node }, depth: 0))
            }
            return TreeNode("Package \(package)", nodes)
        }
        let pus = processingUnits.count
        let summary = "Machine: \(plural(packages, "package")), \(plural(numaNodes, "NUMA node")), "
            + "\(plural(cores.count, "core")), \(plural(pus, "PU")) (allowed: \(cpuRangeList(allowedProcessingUnits)))"
        return TreeNode(summary, packageNodes).render()
    }
}

/// One line of `tree()` and the lines below it.
private struct TreeNode {
    let label: String
    let children: [TreeNode]

    init(_ label: String, _ children: [TreeNode] = []) {
        self.label = label
        self.children = children
    }

    func render() -> String {
        var lines = [label]
        appendChildren(to: &lines, prefix: "")
        return lines.joined(separator: "\n") + "\n"
    }

    private func appendChildren(to lines: inout [String], prefix: String) {
        for (offset, child) in children.enumerated() {
            let last = offset == children.count - 1
            lines.append(prefix + (last ? "└─ " : "├─ ") + child.label)
            child.appendChildren(to: &lines, prefix: prefix + (last ? "   " : "│  "))
        }
    }
}

/// Cache sizes in the largest binary unit that divides them exactly
/// ("32 MiB", "1280 KiB"), so no size is ever rounded.
func formatBytes(_ bytes: Int) -> String {
    for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] where bytes > 0 && bytes % (1 << shift) == 0 {
        return "\(bytes >> shift) \(unit)"
    }
    return "\(bytes) B"
}

private func plural(_ count: Int, _ noun: String) -> String {
    "\(count) \(noun)\(count == 1 ? "" : "s")"
}
