extension CPUTopology {
    /// Stable JSON for tools and notebooks: fixed key order, one core or cache
    /// per line, numbers only (so no escaping is needed and no Foundation).
    ///
    ///     {
    ///       "packages": 1,
    ///       "numaNodes": 1,
    ///       "processingUnits": [0, 1],
    ///       "allowedProcessingUnits": [0, 1],
    ///       "cores": [
    ///         {"index": 0, "package": 0, "numaNode": 0, "processingUnits": [0]},
    ///         ...
    ///       ],
    ///       "caches": [
    ///         {"level": 3, "bytes": 33554432, "sharedBy": [0, 1]},
    ///         ...
    ///       ]
    ///     }
    public func json() -> String {
        func array(_ values: [Int]) -> String {
            "[" + values.map(String.init).joined(separator: ", ") + "]"
        }
        func list(_ items: [String]) -> String {
            items.isEmpty ? "[]" : "[\n" + items.map { "    " + $0 }.joined(separator: ",\n") + "\n  ]"
        }
        let coreItems = cores.map { core in
            #"{"index": \#(core.index), "package": \#(core.package), "numaNode": \#(core.numaNode), "processingUnits": \#(array(core.processingUnits))}"#
        }
        let cacheItems = caches.map { cache in
            #"{"level": \#(cache.level), "bytes": \#(cache.bytes), "sharedBy": \#(array(cache.sharedBy))}"#
        }
        return """
            {
              "packages": \(packages),
              "numaNodes": \(numaNodes),
              "processingUnits": \(array(processingUnits)),
              "allowedProcessingUnits": \(array(allowedProcessingUnits)),
              "cores": \(list(coreItems)),
              "caches": \(list(cacheItems))
            }

            """
    }
}
