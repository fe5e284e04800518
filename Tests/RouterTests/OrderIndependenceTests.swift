import HTTP1
import Testing

@testable import Router

/// Inserting the same routes in a different order splits nodes in a
/// different order; the finished tree must answer every lookup the same.
@Suite struct OrderIndependenceTests {
    static let routes: [(HTTPMethod, String)] = [
        (.get, "/"), (.get, "/user"), (.get, "/users"), (.post, "/users"), (.get, "/users/"),
        (.get, "/users/:id"), (.put, "/users/:id"), (.get, "/users/:id/edit"), (.get, "/users/new"),
        (.get, "/use"), (.get, "/usable/*rest"), (.get, "/u/:a/:b"), (.delete, "/users/:id/*rest"),
        (.get, "/static/*path"), (.get, "/static/css"), (.head, "/static/css"), (.get, "/search"),
        (.get, "/se"), (.get, "/s/:q"), (.get, "/v:version/info"), (.get, "/vip"), (.options, "/*any"),
        (.get, "/a/b/c/d"), (.get, "/a/:x/c/e"), (.get, "/a/*rest"), (.patch, "/users/new/edit"),
    ]

    static let probes: [String] = {
        var probes =
            routes.map(\.1) + [
                "/users/new/edit", "/users/42/edit", "/users/42/x/y", "/userx", "/us", "/usable/", "/usable",
                "/u/1/2", "/u/1", "/static/", "/static/css/", "/static/cs", "/s/", "/s/term", "/sea", "/v1/info",
                "/vi", "/vip/info", "/a/b/c/e", "/a/b/c/f", "/a/", "", "/zzz", "/users//edit",
            ]
        probes += probes.map { $0 + "/" }
        return probes
    }()

    static func outcomes(_ router: Router<Int>) -> [Outcome] {
        probes.flatMap { path in HTTPMethod.allCases.map { resolve(router, $0, path) } }
    }

    /// Handler values are the route's index in `routes`, whatever the order of insertion.
    static func router(insertionOrder: [Int]) throws -> Router<Int> {
        let router = Router<Int>()
        for index in insertionOrder {
            try router.add(routes[index].0, routes[index].1, index)
        }
        return router
    }

    static let orders: [[Int]] = {
        let indices = Array(routes.indices)
        var orders = [
            indices, indices.reversed(), indices.sorted { routes[$0].1 < routes[$1].1 },
            indices.sorted { routes[$0].1.count > routes[$1].1.count },
        ]
        var rng = SplitMix64(seed: 7)
        for _ in 0..<8 { orders.append(indices.shuffled(using: &rng)) }
        return orders
    }()

    @Test(arguments: orders.indices)
    func sameResultsInAnyOrder(order: Int) throws {
        let canonical = try Self.router(insertionOrder: Self.orders[0])
        let permuted = try Self.router(insertionOrder: Self.orders[order])
        let expected = Self.outcomes(canonical)
        let actual = Self.outcomes(permuted)
        #expect(actual.count == expected.count)
        for (index, (a, e)) in zip(actual, expected).enumerated() where a != e {
            let probe = Self.probes[index / HTTPMethod.allCases.count]
            let method = HTTPMethod.allCases[index % HTTPMethod.allCases.count]
            Issue.record("\(method.name) \(probe): \(a), in canonical order \(e)")
        }
    }

    @Test func canonicalOrderAgreesWithReference() throws {
        let router = try Self.router(insertionOrder: Self.orders[0])
        var reference = ReferenceRouter()
        for (index, route) in Self.routes.enumerated() {
            let added = reference.add(route.0, route.1, index)
            #expect(added)
        }
        for path in Self.probes {
            for method in HTTPMethod.allCases {
                #expect(resolve(router, method, path) == reference.resolve(method, path), "\(method.name) \(path)")
            }
        }
    }
}
