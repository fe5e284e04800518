import HTTP1

/// A deliberately naive router used as an oracle: it tries every route
/// against the whole path and picks the winner by comparing patterns, with
/// no tree, no sharing and no backtracking.
struct ReferenceRouter {
    enum Piece: Equatable {
        case byte(UInt8)
        case parameter(String)
        case wildcard(String)
        case end

        /// Order in which routes that agree so far are preferred: a route
        /// ending here, then a literal byte, then a parameter, then a wildcard.
        var rank: Int {
            switch self {
            case .end: 0
            case .byte: 1
            case .parameter: 2
            case .wildcard: 3
            }
        }
    }

    struct Route {
        var pieces: [Piece]
        var handlers: [HTTPMethod: Int]
    }

    /// Keyed by pattern text.
    private(set) var routes: [String: Route] = [:]

    /// Returns false for a (method, pattern) pair that is already there.
    /// Assumes the pattern is valid.
    mutating func add(_ method: HTTPMethod, _ pattern: String, _ handler: Int) -> Bool {
        var route = routes[pattern] ?? Route(pieces: Self.pieces(of: pattern), handlers: [:])
        guard route.handlers[method] == nil else { return false }
        route.handlers[method] = handler
        routes[pattern] = route
        return true
    }

    func resolve(_ method: HTTPMethod, _ path: String) -> Outcome {
        let path = Array(path.utf8)
        var best: (route: Route, handler: Int, captures: [String])?
        var allowed: Set<HTTPMethod> = []
        for route in routes.values {
            guard let captures = Self.match(route.pieces[...], path[...]) else { continue }
            var handlers = route.handlers
            if handlers[.head] == nil, let get = handlers[.get] { handlers[.head] = get }
            allowed.formUnion(handlers.keys)
            guard let handler = handlers[method] else { continue }
            if best == nil || Self.precedes(route.pieces, best!.route.pieces) {
                best = (route, handler, captures)
            }
        }
        if let best { return .found(best.handler, best.captures) }
        if allowed.isEmpty { return .notFound }
        return .methodNotAllowed(HTTPMethod.allCases.filter(allowed.contains).map(\.name).joined(separator: ", "))
    }

    static func pieces(of pattern: String) -> [Piece] {
        var pieces: [Piece] = []
        var rest = Substring(pattern)
        while let first = rest.first {
            if first == ":" {
                let name = rest.dropFirst().prefix { $0 != "/" }
                pieces.append(.parameter(String(name)))
                rest = rest.dropFirst(1 + name.count)
            } else if first == "*" {
                pieces.append(.wildcard(String(rest.dropFirst())))
                rest = ""
            } else {
                pieces += String(first).utf8.map { .byte($0) }
                rest = rest.dropFirst()
            }
        }
        return pieces + [.end]
    }

    /// Captures as "name=value" if the pieces match the whole path.
    static func match(_ pieces: ArraySlice<Piece>, _ path: ArraySlice<UInt8>) -> [String]? {
        guard let piece = pieces.first else { return nil }
        switch piece {
        case .end:
            return path.isEmpty ? [] : nil
        case .byte(let byte):
            guard path.first == byte else { return nil }
            return match(pieces.dropFirst(), path.dropFirst())
        case .parameter(let name):
            let value = path.prefix { $0 != UInt8(ascii: "/") }
            guard !value.isEmpty, let rest = match(pieces.dropFirst(), path.dropFirst(value.count)) else { return nil }
            return ["\(name)=\(String(decoding: value, as: UTF8.self))"] + rest
        case .wildcard(let name):
            return ["\(name)=\(String(decoding: path, as: UTF8.self))"]
        }
    }

    /// Lexicographic by rank: the first difference decides.
    static func precedes(_ a: [Piece], _ b: [Piece]) -> Bool {
        for (x, y) in zip(a, b) where x != y {
            if x.rank != y.rank { return x.rank < y.rank }
            if case .byte(let p) = x, case .byte(let q) = y { return p < q }
            return false  // same kind of capture, different names: not comparable
        }
        return false
    }
}
