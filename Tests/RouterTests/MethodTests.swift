import HTTP1
import Testing

@testable import Router

@Suite struct MethodTests {
    @Test func notFoundVersusMethodNotAllowed() throws {
        let router = try makeRouter([(.get, "/items"), (.post, "/items"), (.delete, "/items/:id")])
        #expect(resolve(router, .get, "/items") == .found(0, []))
        #expect(resolve(router, .post, "/items") == .found(1, []))
        #expect(resolve(router, .put, "/items") == .methodNotAllowed("GET, HEAD, POST"))
        #expect(resolve(router, .get, "/items/3") == .methodNotAllowed("DELETE"))
        #expect(resolve(router, .get, "/things") == .notFound)
        #expect(resolve(router, .delete, "/items/") == .notFound)
    }

    @Test func allowBytesAreExact() throws {
        let router = try makeRouter([(.put, "/x")])
        var parameters = RouteParameters()
        Array("/x".utf8).withUnsafeBytes { raw in
            guard case .methodNotAllowed(let allow) = router.lookup(.get, path: raw, parameters: &parameters) else {
                Issue.record("expected 405")
                return
            }
            #expect(Array(allow) == Array("PUT".utf8))
        }
    }

    @Test func allowListsMethodsInFixedOrder() throws {
        // Registered in reverse of the Allow order, without HEAD.
        let methods: [HTTPMethod] = [.patch, .trace, .options, .connect, .delete, .put, .post, .get]
        let router = try makeRouter(methods.map { ($0, "/all") })
        #expect(resolve(router, .head, "/all") == .found(7, []))  // falls back to GET
        let routeless = try makeRouter(methods.filter { $0 != .get }.map { ($0, "/all") })
        #expect(
            resolve(routeless, .get, "/all")
                == .methodNotAllowed("POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH"))
        #expect(
            resolve(routeless, .head, "/all")
                == .methodNotAllowed("POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH"))
    }

    @Test(arguments: HTTPMethod.allCases)
    func everyMethodRoutesToItsOwnHandler(method: HTTPMethod) throws {
        let router = try makeRouter(HTTPMethod.allCases.map { ($0, "/m/:x") })
        #expect(resolve(router, method, "/m/1") == .found(Int(method.rawValue), ["x=1"]))
    }

    @Test func headFallsBackToGet() throws {
        let router = try makeRouter([(.get, "/page"), (.post, "/form")])
        #expect(resolve(router, .head, "/page") == .found(0, []))
        #expect(resolve(router, .put, "/page") == .methodNotAllowed("GET, HEAD"))
        #expect(resolve(router, .head, "/form") == .methodNotAllowed("POST"))
    }

    @Test func explicitHeadWins() throws {
        let router = try makeRouter([(.get, "/page"), (.head, "/page"), (.head, "/only-head")])
        #expect(resolve(router, .head, "/page") == .found(1, []))
        #expect(resolve(router, .get, "/page") == .found(0, []))
        #expect(resolve(router, .get, "/only-head") == .methodNotAllowed("HEAD"))
    }

    @Test func allowIsTheUnionOfAllRoutesMatchingThePath() throws {
        let router = try makeRouter([(.get, "/f/new"), (.put, "/f/:id"), (.options, "/f/*rest"), (.patch, "/g/*rest")])
        #expect(resolve(router, .post, "/f/new") == .methodNotAllowed("GET, HEAD, PUT, OPTIONS"))
        #expect(resolve(router, .post, "/f/old") == .methodNotAllowed("PUT, OPTIONS"))
        #expect(resolve(router, .post, "/f/a/b") == .methodNotAllowed("OPTIONS"))
        #expect(resolve(router, .post, "/g/") == .methodNotAllowed("PATCH"))
    }

    @Test func allowBufferStaysValidAcrossLookups() throws {
        let router = try makeRouter([(.get, "/a"), (.post, "/b")])
        var parameters = RouteParameters()
        let first: UnsafeRawBufferPointer? = Array("/a".utf8).withUnsafeBytes { raw in
            if case .methodNotAllowed(let allow) = router.lookup(.post, path: raw, parameters: &parameters) {
                return allow
            }
            return nil
        }
        for _ in 0..<100 { _ = resolve(router, .get, "/b") }
        #expect(first.map { String(bytes: $0) } == "GET, HEAD")
    }
}
