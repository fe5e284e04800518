import Glibc
import HTTP1

/// The radix tree in the form lookups read: every node is a fixed-size
/// struct in one buffer, a node's literal children sit next to each other
/// (followed by its parameter and wildcard child), all literal prefixes are
/// slices of one byte buffer, all capture names of another, and handler
/// indices of a third. A lookup therefore only does integer arithmetic on
/// a handful of buffers.
///
/// The buffers are allocated exactly once per build and never written
/// afterwards, so any number of threads may read them at the same time.
/// `FlatTree` is one pointer to a plain bundle of pointers; its owner calls
/// `deallocate`.
struct FlatTree {
    struct Node {
        var prefixStart: Int32
        var prefixCount: Int32
        /// Literal children are nodes childStart..<childStart+literalCount.
        var childStart: Int32
        var literalCount: Int32
        var parameterChild: Int32  // -1: none
        var wildcardChild: Int32  // -1: none
        /// -1: no handlers here; else the node's handler indices are
        /// slots[slotBase + method.rawValue] (-1 where a method has none).
        var slotBase: Int32
        var nameStart: Int32
        var nameCount: Int32
        /// Bit `method.rawValue` is set when `slots` has a handler for it.
        var methods: UInt16
    }

    /// The buffers, behind one pointer: `FlatTree` is then one word, so a
    /// method's `self` (a copy when the tree is read from its router's
    /// `var`) costs nothing; as 21 words it was a 168-byte memcpy per lookup.
    struct Tables {
        var nodes: UnsafeMutableBufferPointer<Node>
        /// firstBytes[i] == first byte of node i's prefix, so choosing among
        /// siblings scans a few adjacent bytes instead of whole nodes.
        var firstBytes: UnsafeMutableBufferPointer<UInt8>
        var prefixes: UnsafeMutableBufferPointer<UInt8>
        var names: UnsafeMutableBufferPointer<UInt8>
        var slots: UnsafeMutableBufferPointer<Int32>
        /// Every node with handlers whose path is all literal (`/plaintext`),
        /// by a hash of that whole path: such a path is found with one hash, one
        /// probe and one compare, without walking the tree. Open addressing,
        /// linear probing, a power-of-two size at least four times the
        /// entries and a hash seed chosen at build time (see init);
        /// entry i is node exactNodes[i] (-1: empty), its path is
        /// exactBytes[exactStarts[i] ..< exactStarts[i] + exactCounts[i]].
        var exactNodes: UnsafeMutableBufferPointer<Int32>
        var exactHashes: UnsafeMutableBufferPointer<UInt32>
        var exactStarts: UnsafeMutableBufferPointer<Int32>
        var exactCounts: UnsafeMutableBufferPointer<Int32>
        var exactBytes: UnsafeMutableBufferPointer<UInt8>
        var exactMask: Int
        var exactSeed: UInt64
    }
    // safety: allocated and initialized in init, freed by `deallocate`.
    private let tables: UnsafeMutablePointer<Tables>
    private var nodes: UnsafeMutableBufferPointer<Node> { tables.pointee.nodes }
    private var firstBytes: UnsafeMutableBufferPointer<UInt8> { tables.pointee.firstBytes }
    private var prefixes: UnsafeMutableBufferPointer<UInt8> { tables.pointee.prefixes }
    private var names: UnsafeMutableBufferPointer<UInt8> { tables.pointee.names }
    private var slots: UnsafeMutableBufferPointer<Int32> { tables.pointee.slots }
    private var exactNodes: UnsafeMutableBufferPointer<Int32> { tables.pointee.exactNodes }
    private var exactHashes: UnsafeMutableBufferPointer<UInt32> { tables.pointee.exactHashes }
    private var exactStarts: UnsafeMutableBufferPointer<Int32> { tables.pointee.exactStarts }
    private var exactCounts: UnsafeMutableBufferPointer<Int32> { tables.pointee.exactCounts }
    private var exactBytes: UnsafeMutableBufferPointer<UInt8> { tables.pointee.exactBytes }
    private var exactMask: Int { tables.pointee.exactMask }
    private var exactSeed: UInt64 { tables.pointee.exactSeed }
    /// Where capture names lie (`RouteParameters` keeps offsets into it).
    var nameTable: UnsafeRawPointer? { UnsafeRawPointer(names.baseAddress) }

    private static let methodCount = HTTPMethod.allCases.count

    init(_ builder: TreeBuilder) {
        // Rebuilt after every `add`, so this reads builder nodes in place
        // (field by field) instead of copying them with their arrays.
        let source = builder.nodes
        let sourceSlots = builder.slots
        let methodCount = TreeBuilder.methodCount
        let get = Int(HTTPMethod.get.rawValue)
        let head = Int(HTTPMethod.head.rawValue)

        // Breadth-first order, appending all children of a node at once, is
        // what makes every node's children a contiguous range.
        var order = [0]
        order.reserveCapacity(source.count)
        var childStart = [Int](repeating: 0, count: source.count)
        // The whole path to each node reached through literal prefixes only.
        var literalPath = [[UInt8]?](repeating: nil, count: source.count)
        literalPath[0] = source[0].prefix
        var next = 0
        while next < order.count {
            let index = order[next]
            childStart[index] = order.count
            if let path = literalPath[index] {
                for child in source[index].literalChildren { literalPath[child] = path + source[child].prefix }
            }
            order += source[index].literalChildren
            if let parameter = source[index].parameterChild { order.append(parameter) }
            if let wildcard = source[index].wildcardChild { order.append(wildcard) }
            next += 1
        }

        var nodes: [Node] = []
        var firstBytes: [UInt8] = []
        var prefixes: [UInt8] = []
        var names: [UInt8] = []
        var slots: [Int32] = []
        nodes.reserveCapacity(order.count)
        firstBytes.reserveCapacity(order.count)
        for index in order {
            let start = childStart[index]
            let literalCount = source[index].literalChildren.count
            let parameterChild = source[index].parameterChild == nil ? -1 : start + literalCount
            let wildcardChild =
                source[index].wildcardChild == nil ? -1 : start + literalCount + (parameterChild < 0 ? 0 : 1)

            var methods: UInt16 = 0
            var slotBase = -1
            if source[index].slotBase >= 0 {
                slotBase = slots.count
                slots += sourceSlots[source[index].slotBase..<(source[index].slotBase + methodCount)]
                if slots[slotBase + head] < 0 { slots[slotBase + head] = slots[slotBase + get] }
                for method in 0..<methodCount where slots[slotBase + method] >= 0 { methods |= 1 << method }
            }

            let nameStart = names.count
            names += source[index].name.utf8
            nodes.append(
                Node(
                    prefixStart: Int32(prefixes.count), prefixCount: Int32(source[index].prefix.count),
                    childStart: Int32(start), literalCount: Int32(literalCount),
                    parameterChild: Int32(parameterChild), wildcardChild: Int32(wildcardChild),
                    slotBase: Int32(slotBase),
                    nameStart: Int32(nameStart), nameCount: Int32(names.count - nameStart),
                    methods: methods))
            // Only the root has an empty literal prefix, and it is nobody's child.
            firstBytes.append(source[index].prefix.first ?? 0)
            prefixes += source[index].prefix
        }

        // The exact-path table, over final node indices (position in `order`).
        var exact: [(path: [UInt8], node: Int)] = []
        for (final, index) in order.enumerated() where source[index].slotBase >= 0 {
            if let path = literalPath[index] { exact.append((path, final)) }
        }
        // Four slots per entry, and a hash seed chosen so that no two paths
        // share a slot when one of the first 64 tried allows it: a lookup
        // then probes once. (Collisions would still be correct, only slower.)
        var size = 1
        while size < 4 * max(1, exact.count) { size *= 2 }
        var seed = Self.firstSeed
        for _ in 0..<64 {
            var used = Set<Int>()
            let distinct = exact.allSatisfy { used.insert(Int($0.path.withUnsafeBytes { Self.hash($0, seed: seed) }) & (size - 1)).inserted }
            if distinct { break }
            seed = (seed &* 0x5851_F42D_4C95_7F2D &+ 0x1405_7B7E_F767_814F) | 1
        }
        var exactNodes = [Int32](repeating: -1, count: size)
        var exactHashes = [UInt32](repeating: 0, count: size)
        var exactStarts = [Int32](repeating: 0, count: size)
        var exactCounts = [Int32](repeating: 0, count: size)
        var exactBytes: [UInt8] = []
        for (path, node) in exact {
            let hash = path.withUnsafeBytes { Self.hash($0, seed: seed) }
            var slot = Int(hash) & (size - 1)
            while exactNodes[slot] >= 0 { slot = (slot + 1) & (size - 1) }
            exactNodes[slot] = Int32(node)
            exactHashes[slot] = hash
            exactStarts[slot] = Int32(exactBytes.count)
            exactCounts[slot] = Int32(path.count)
            exactBytes += path
        }
        // Capture names are kept as 16-bit offsets (`RouteParameters`).
        precondition(names.count <= 0xFFFF, "route capture names take more than 64 KiB")
        tables = .allocate(capacity: 1)
        tables.initialize(to: Tables(
            nodes: Self.copy(nodes), firstBytes: Self.copy(firstBytes), prefixes: Self.copy(prefixes),
            names: Self.copy(names), slots: Self.copy(slots),
            exactNodes: Self.copy(exactNodes), exactHashes: Self.copy(exactHashes), exactStarts: Self.copy(exactStarts),
            exactCounts: Self.copy(exactCounts), exactBytes: Self.copy(exactBytes.isEmpty ? [0] : exactBytes),
            exactMask: size - 1, exactSeed: seed))
    }

    func deallocate() {
        defer { tables.deinitialize(count: 1).deallocate() }
        nodes.deallocate()
        firstBytes.deallocate()
        prefixes.deallocate()
        names.deallocate()
        slots.deallocate()
        exactNodes.deallocate()
        exactHashes.deallocate()
        exactStarts.deallocate()
        exactCounts.deallocate()
        exactBytes.deallocate()
    }

    static let firstSeed: UInt64 = 0x9E37_79B9_7F4A_7C15

    /// A hash of the path: its length and its first and last eight bytes
    /// (two loads, overlapping for short paths), mixed by a multiply; a
    /// path under eight bytes is read byte by byte. Collisions only cost a
    /// probe: the path is compared in full before it counts.
    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64) -> UInt32 {
        let n = bytes.count
        var h = UInt64(truncatingIfNeeded: n) &* seed
        if n >= 8, let base = bytes.baseAddress {
            let first = base.loadUnaligned(as: UInt64.self)
            let last = base.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
            h ^= first &* 0xC2B2_AE3D_27D4_EB4F
            h = (h ^ (h >> 29)) &* 0x1656_67B1_9E37_79F9
            h ^= last
        } else {
            for b in bytes { h = (h ^ UInt64(b)) &* 0x1000_0000_01B3 }
        }
        h = (h ^ (h >> 32)) &* 0x9E37_79B9_7F4A_7C15
        return UInt32(truncatingIfNeeded: h >> 32)
    }

    /// Whether `a` and `b` (both `n` bytes) are equal: word compares for
    /// the short paths routes have, memcmp beyond.
    @inline(__always)
    static func same(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
        if n >= 8 && n <= 16 {
            return a.loadUnaligned(as: UInt64.self) == b.loadUnaligned(as: UInt64.self)
                && a.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self) == b.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
        }
        return memcmp(a, b, n) == 0
    }

    /// The node whose whole literal path is `path`, or -1.
    @inline(__always)
    private func exactNode(_ path: UnsafeRawBufferPointer) -> Int {
        let hash = Self.hash(path, seed: exactSeed)
        var slot = Int(hash) & exactMask
        while true {
            // safety: slot <= exactMask < the table's size; starts and counts
            // lie within exactBytes by construction.
            let node = exactNodes[slot]
            if node < 0 { return -1 }
            if exactHashes[slot] == hash, Int(exactCounts[slot]) == path.count,
               path.count == 0 || Self.same(exactBytes.baseAddress! + Int(exactStarts[slot]), path.baseAddress!, path.count) {
                return Int(node)
            }
            slot = (slot + 1) & exactMask
        }
    }

    /// Finds the handler index for `method` and `path`, or -1. `allowed`
    /// collects the methods of every node that matched the whole path, for
    /// the Allow header when no handler fits. `parameters` must be empty on
    /// entry; on return it holds the captures of the route found (or nothing).
    func match(
        _ method: HTTPMethod, path: UnsafeRawBufferPointer, parameters: inout RouteParameters
    ) -> (handler: Int, allowed: UInt16) {
        var allowed: UInt16 = 0
        // An all-literal route with a handler for the method is what the
        // search would find too: literal children come first at every
        // level, and siblings' first bytes differ, so the literal walk is
        // the first path it tries. Anything else (captures, no handler for
        // the method, Allow) takes the search.
        let exact = exactNode(path)
        if exact >= 0, let handler = handler(of: nodes[exact], Int(method.rawValue), &allowed) {
            return (handler, 0)
        }
        allowed = 0
        let handler = search(0, at: 0, path, Int(method.rawValue), &parameters, &allowed)
        return (handler, allowed)
    }

    /// Depth-first search in precedence order: the node's own handler (path
    /// used up), then the literal child, then the parameter child, then the
    /// wildcard child. Whichever first yields a handler for the method wins,
    /// so a failed literal branch falls back to a capture at the same place.
    /// Recursion depth is bounded by the tree's height, not the path length.
    private func search(
        _ start: Int, at startPosition: Int, _ path: UnsafeRawBufferPointer, _ method: Int,
        _ parameters: inout RouteParameters, _ allowed: inout UInt16
    ) -> Int {
        var index = start
        var position = startPosition
        while true {
            // safety: `index` is 0 or a child index written by `init`, all of
            // which are < nodes.count.
            let node = nodes[index]
            if position == path.count, let handler = handler(of: node, method, &allowed) {
                return handler
            }

            let hasCaptureChild = node.parameterChild >= 0 || node.wildcardChild >= 0
            if position < path.count,
                let child = literalChild(of: node, matching: path, at: position)
            {
                // safety: `literalChild` returns indices < nodes.count.
                let end = position + Int(nodes[child].prefixCount)
                // With no capture child there is nothing to come back to
                // here, so descend without recursing.
                if !hasCaptureChild {
                    index = child
                    position = end
                    continue
                }
                let handler = search(child, at: end, path, method, &parameters, &allowed)
                if handler >= 0 { return handler }
            }

            if node.parameterChild >= 0 {
                var end = position
                // safety: end < path.count is checked before each read.
                while end < path.count, path[end] != Byte.slash { end += 1 }
                if end > position {
                    let child = Int(node.parameterChild)
                    parameters.append(
                        name: name(of: child), value: UnsafeRawBufferPointer(rebasing: path[position..<end]))
                    let handler = search(child, at: end, path, method, &parameters, &allowed)
                    if handler >= 0 { return handler }
                    parameters.removeLast()
                }
            }

            if node.wildcardChild >= 0 {
                let child = Int(node.wildcardChild)
                // A wildcard node has no children: it takes the rest of the
                // path, so only its own handlers are left to check.
                // safety: wildcardChild >= 0 is an index < nodes.count.
                if let handler = handler(of: nodes[child], method, &allowed) {
                    parameters.append(name: name(of: child), value: UnsafeRawBufferPointer(rebasing: path[position...]))
                    return handler
                }
            }
            return -1
        }
    }

    /// The node's handler for `method`; otherwise records its methods for Allow.
    private func handler(of node: Node, _ method: Int, _ allowed: inout UInt16) -> Int? {
        guard node.slotBase >= 0 else { return nil }
        // safety: init wrote methodCount slots from slotBase, and method is an
        // HTTPMethod raw value < methodCount.
        let handler = slots[Int(node.slotBase) + method]
        if handler >= 0 { return Int(handler) }
        allowed |= node.methods
        return nil
    }

    /// The literal child whose whole prefix appears in `path` at `position`.
    /// Siblings have distinct first bytes, so at most one can match.
    private func literalChild(of node: Node, matching path: UnsafeRawBufferPointer, at position: Int) -> Int? {
        // safety: the caller checked position < path.count.
        let byte = path[position]
        let start = Int(node.childStart)
        // safety: init laid out literalCount children from childStart, all
        // within nodes (and so within firstBytes, which has the same count).
        for child in start..<(start + Int(node.literalCount)) {
            let first = firstBytes[child]
            // Siblings are sorted by first byte, so the scan can stop early.
            guard first <= byte else { return nil }
            guard first == byte else { continue }
            let prefixStart = Int(nodes[child].prefixStart)
            let prefixCount = Int(nodes[child].prefixCount)
            guard prefixCount <= path.count - position else { return nil }
            // A child's prefix is never empty, so 1..<prefixCount is a valid range.
            // safety: position + offset < position + prefixCount <= path.count, and
            // prefixStart + prefixCount <= prefixes.count by construction.
            for offset in 1..<prefixCount where path[position + offset] != prefixes[prefixStart + offset] {
                return nil
            }
            return child
        }
        return nil
    }

    private func name(of node: Int) -> UnsafeRawBufferPointer {
        // safety: node < nodes.count, and nameStart + nameCount <= names.count by construction.
        let start = Int(nodes[node].nameStart)
        let slice = names[start..<(start + Int(nodes[node].nameCount))]
        return UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: slice))
    }

    private static func copy<Element>(_ array: [Element]) -> UnsafeMutableBufferPointer<Element> {
        let buffer = UnsafeMutableBufferPointer<Element>.allocate(capacity: array.count)
        _ = buffer.initialize(from: array)
        return buffer
    }
}
