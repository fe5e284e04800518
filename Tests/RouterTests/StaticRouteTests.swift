import HTTP1
import Testing

@testable import Router

@Suite struct StaticRouteTests {
    @Test func exactPathsMatch() throws {
        let router = try makeRouter(["/plaintext", "/json", "/", "/db/queries"])
        #expect(resolve(router, .get, "/plaintext") == .found(0, []))
        #expect(resolve(router, .get, "/json") == .found(1, []))
        #expect(resolve(router, .get, "/") == .found(2, []))
        #expect(resolve(router, .get, "/db/queries") == .found(3, []))
    }

    @Test(arguments: [
        "", "/plain", "/plaintex", "/plaintextt", "/plaintext/", "/PLAINTEXT", "plaintext", "/db", "/db/", "//json",
    ])
    func nearMissesAreNotFound(path: String) throws {
        let router = try makeRouter(["/plaintext", "/json", "/db/queries"])
        #expect(resolve(router, .get, path) == .notFound)
    }

    @Test func emptyRouterFindsNothing() {
        let router = Router<Int>()
        #expect(resolve(router, .get, "/") == .notFound)
        #expect(resolve(router, .get, "") == .notFound)
        #expect(router.routes.isEmpty)
    }

    @Test func trailingSlashIsSignificant() throws {
        let router = try makeRouter(["/users", "/posts/"])
        #expect(resolve(router, .get, "/users") == .found(0, []))
        #expect(resolve(router, .get, "/users/") == .notFound)
        #expect(resolve(router, .get, "/posts/") == .found(1, []))
        #expect(resolve(router, .get, "/posts") == .notFound)

        try router.add(.get, "/users/", 2)
        #expect(resolve(router, .get, "/users") == .found(0, []))
        #expect(resolve(router, .get, "/users/") == .found(2, []))
    }

    /// Each route ends inside, at, or past another's prefix, so inserting
    /// them splits nodes at many different offsets.
    @Test func sharedPrefixesSplitCorrectly() throws {
        let patterns = ["/users/settings", "/user", "/users", "/use", "/u", "/users/s", "/userz", "/users/settings/x"]
        let router = try makeRouter(patterns)
        for (index, pattern) in patterns.enumerated() {
            #expect(resolve(router, .get, pattern) == .found(index, []), "\(pattern)")
        }
        for missing in ["/us", "/users/", "/users/se", "/userss", "/users/settings/", "/users/settings/xy"] {
            #expect(resolve(router, .get, missing) == .notFound, "\(missing)")
        }
    }

    @Test func rawBytesAreNotDecoded() throws {
        let router = try makeRouter(["/a%20b", "/caf\u{e9}"])
        #expect(resolve(router, .get, "/a%20b") == .found(0, []))
        #expect(resolve(router, .get, "/a b") == .notFound)
        #expect(resolve(router, .get, "/caf\u{e9}") == .found(1, []))
        #expect(resolve(router, .get, "/caf%C3%A9") == .notFound)
    }

    @Test func twoHundredGeneratedRoutesAreAllFound() throws {
        // Names share prefixes on purpose ("/api/v1/item1", "/api/v1/item10", ...).
        let patterns = (0..<200).map { "/api/v\($0 % 3)/item\($0)" + ($0 % 7 == 0 ? "/detail" : "") }
        let router = try makeRouter(patterns)
        #expect(router.routes.count == 200)
        for (index, pattern) in patterns.enumerated() {
            #expect(resolve(router, .get, pattern) == .found(index, []), "\(pattern)")
            #expect(resolve(router, .get, pattern + "x") == .notFound, "\(pattern)x")
        }
        #expect(resolve(router, .get, "/api/v0/item") == .notFound)
        #expect(resolve(router, .get, "/api/v1/item0") == .notFound)
    }

    @Test func routesListsRegistrationsInOrder() throws {
        let router = Router<Int>()
        try router.add(.get, "/a", 0)
        try router.add(.post, "/users/:id", 1)
        try router.add(.get, "/static/*path", 2)
        let routes = router.routes.map { "\($0.method.name) \($0.pattern)" }
        #expect(routes == ["GET /a", "POST /users/:id", "GET /static/*path"])
    }

    @Test func addAfterLookupsIsVisible() throws {
        let router = try makeRouter(["/a"])
        #expect(resolve(router, .get, "/b") == .notFound)
        try router.add(.get, "/b", 1)
        #expect(resolve(router, .get, "/b") == .found(1, []))
        #expect(resolve(router, .get, "/a") == .found(0, []))
    }

    @Test func handlersCanBeClosures() throws {
        let router = Router<@Sendable (Int) -> Int>()
        try router.add(.get, "/double", { $0 * 2 })
        try router.add(.get, "/square", { $0 * $0 })
        var parameters = RouteParameters()
        let result: Int? = Array("/square".utf8).withUnsafeBytes { raw in
            if case .found(let handler) = router.lookup(.get, path: raw, parameters: &parameters) {
                return handler(7)
            }
            return nil
        }
        #expect(result == 49)
    }

    /// Lookups only read, so many tasks may share a router.
    @Test func concurrentLookupsAgree() async throws {
        let patterns = (0..<50).map { "/r\($0)/:id" } + ["/static/*path"]
        let router = try makeRouter(patterns)
        let mismatches = await withTaskGroup(of: Int.self) { group in
            for task in 0..<8 {
                group.addTask {
                    var wrong = 0
                    for round in 0..<200 {
                        let n = (task * 31 + round) % 50
                        if resolve(router, .get, "/r\(n)/\(round)") != .found(n, ["id=\(round)"]) { wrong += 1 }
                        if resolve(router, .get, "/static/\(round)") != .found(50, ["path=\(round)"]) { wrong += 1 }
                    }
                    return wrong
                }
            }
            return await group.reduce(0, +)
        }
        #expect(mismatches == 0)
    }
}
