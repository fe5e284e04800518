import HTTP1
import Testing

@testable import Router

/// A lookup result in a form tests can compare and print.
enum Outcome: Equatable, CustomStringConvertible {
    /// Handler value and the captures as "name=value", in pattern order.
    case found(Int, [String])
    case methodNotAllowed(String)
    case notFound

    var description: String {
        switch self {
        case .found(let handler, let captures): "found(\(handler), \(captures))"
        case .methodNotAllowed(let allow): "405(\(allow))"
        case .notFound: "404"
        }
    }
}

extension String {
    init(bytes: UnsafeRawBufferPointer) {
        self.init(decoding: bytes, as: UTF8.self)
    }
}

/// Looks `path` up and converts the result while the path buffer is alive.
func resolve(_ router: Router<Int>, _ method: HTTPMethod, _ path: String) -> Outcome {
    var parameters = RouteParameters()
    return resolve(router, method, Array(path.utf8), &parameters)
}

func resolve(_ router: Router<Int>, _ method: HTTPMethod, _ path: [UInt8], _ parameters: inout RouteParameters)
    -> Outcome
{
    path.withUnsafeBytes { raw in
        switch router.lookup(method, path: raw, parameters: &parameters) {
        case .found(let handler):
            let captures = (0..<parameters.count).map {
                "\(String(bytes: parameters.name(at: $0)))=\(String(bytes: parameters[$0]))"
            }
            return .found(handler, captures)
        case .methodNotAllowed(let allow):
            return .methodNotAllowed(String(bytes: allow))
        case .notFound:
            return .notFound
        }
    }
}

/// A router whose handler for the i-th route is i.
func makeRouter(_ routes: [(HTTPMethod, String)]) throws -> Router<Int> {
    let router = Router<Int>()
    for (index, route) in routes.enumerated() {
        try router.add(route.0, route.1, index)
    }
    return router
}

/// GET-only router; the handler of the i-th pattern is i.
func makeRouter(_ patterns: [String]) throws -> Router<Int> {
    try makeRouter(patterns.map { (.get, $0) })
}

/// Deterministic generator so that randomized tests reproduce from a seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
