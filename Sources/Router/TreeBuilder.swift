import HTTP1

/// The radix tree while routes are still being added: nodes in one array,
/// linked by index, each owning its own small arrays, which makes splitting
/// easy. `FlatTree` turns it into the layout lookups use.
struct TreeBuilder {
    enum Capture {
        case parameter
        case wildcard
    }

    /// Whether a node is a literal, parameter or wildcard node follows from
    /// how its parent links to it, so the node does not record it.
    struct Node {
        /// Bytes a literal node matches; empty for captures and for the root.
        var prefix: [UInt8] = []
        /// Capture name (without sigil) of a parameter or wildcard node.
        var name: String = ""
        /// The pattern that created this capture node, quoted when a later
        /// pattern wants a different name at the same place.
        var origin: String = ""
        /// Sorted by first byte. First bytes are distinct, which is what makes
        /// the tree a radix tree: at most one literal child can match.
        var literalChildren: [Int] = []
        var parameterChild: Int?
        var wildcardChild: Int?
        /// -1 until a handler is registered here; then the node's handler
        /// index for method m is slots[slotBase + m.rawValue] (-1: none). An
        /// index rather than an array per node keeps nodes cheap to copy.
        var slotBase = -1
    }

    static let methodCount = HTTPMethod.allCases.count

    /// Node 0 is the root: a literal node with an empty prefix, so every
    /// pattern (they all start with "/") hangs below it and it never splits.
    private(set) var nodes: [Node] = [Node()]
    /// Handler indices as registered (the HEAD fallback is applied when flattening).
    private(set) var slots: [Int32] = []

    /// Registers `handler` for `method` at the node `pattern` leads to.
    ///
    /// Every throw happens before the first change to the tree: a conflict
    /// needs an existing capture or handler, and those are only reached by
    /// walking existing nodes. The first split or new node starts a branch
    /// of fresh nodes, where nothing can conflict any more.
    mutating func insert(_ pattern: RoutePattern, method: HTTPMethod, handler: Int) throws(RouteError) {
        var node = 0
        for token in pattern.tokens {
            switch token {
            case .literal(let bytes):
                node = insertLiteral(bytes[...], below: node)
            case .parameter(let name):
                node = try captureChild(of: node, kind: .parameter, name: name, pattern: pattern.text)
            case .wildcard(let name):
                node = try captureChild(of: node, kind: .wildcard, name: name, pattern: pattern.text)
            }
        }
        let offset = Int(method.rawValue)
        if nodes[node].slotBase >= 0, slots[nodes[node].slotBase + offset] >= 0 {
            throw RouteError(
                .duplicateRoute, pattern: pattern.text, "\(method.name) is already registered for this pattern")
        }
        if nodes[node].slotBase < 0 {
            nodes[node].slotBase = slots.count
            slots += repeatElement(-1, count: Self.methodCount)
        }
        slots[nodes[node].slotBase + offset] = Int32(handler)
    }

    /// Walks `bytes` down from `parent`, splitting a node whose prefix only
    /// partly matches, and returns the node at which `bytes` ends.
    private mutating func insertLiteral(_ bytes: ArraySlice<UInt8>, below parent: Int) -> Int {
        var parent = parent
        var rest = bytes
        while let first = rest.first {
            guard let child = literalChild(of: parent, startingWith: first) else {
                let new = append(Node(prefix: Array(rest)))
                let position = nodes[parent].literalChildren.firstIndex { nodes[$0].prefix[0] > first }
                nodes[parent].literalChildren.insert(new, at: position ?? nodes[parent].literalChildren.endIndex)
                return new
            }
            let common = zip(nodes[child].prefix, rest).prefix { $0 == $1 }.count
            if common < nodes[child].prefix.count {
                split(child, at: common)
            }
            rest = rest.dropFirst(common)
            parent = child
        }
        return parent
    }

    /// Cuts `node`'s prefix after `length` bytes. The node keeps its index
    /// (so its parent's child list stays valid) and the first `length` bytes;
    /// a new child takes the remaining bytes together with everything the
    /// node had below it and its handlers.
    private mutating func split(_ node: Int, at length: Int) {
        // length >= 1 because the caller matched the first byte; so the
        // node's first byte, which its parent sorts by, does not change.
        var tail = nodes[node]
        tail.prefix = Array(nodes[node].prefix[length...])
        let tailIndex = append(tail)
        nodes[node].prefix.removeSubrange(length...)
        nodes[node].literalChildren = [tailIndex]
        nodes[node].parameterChild = nil
        nodes[node].wildcardChild = nil
        nodes[node].slotBase = -1
    }

    private mutating func captureChild(of parent: Int, kind: Capture, name: String, pattern: String) throws(RouteError)
        -> Int
    {
        let existing = kind == .parameter ? nodes[parent].parameterChild : nodes[parent].wildcardChild
        if let existing {
            guard nodes[existing].name == name else {
                let sigil = kind == .parameter ? ":" : "*"
                throw RouteError(
                    .conflictingParameterName, pattern: pattern,
                    "parameter \"\(sigil)\(name)\" conflicts with \"\(sigil)\(nodes[existing].name)\" of route \"\(nodes[existing].origin)\" at the same position"
                )
            }
            return existing
        }
        let new = append(Node(name: name, origin: pattern))
        if kind == .parameter {
            nodes[parent].parameterChild = new
        } else {
            nodes[parent].wildcardChild = new
        }
        return new
    }

    private func literalChild(of parent: Int, startingWith byte: UInt8) -> Int? {
        nodes[parent].literalChildren.first { nodes[$0].prefix[0] == byte }
    }

    private mutating func append(_ node: Node) -> Int {
        nodes.append(node)
        return nodes.count - 1
    }
}
