import HTTP1
import Testing

@testable import Router

@Suite struct ParameterTests {
    @Test func parameterMatchesOneSegment() throws {
        let router = try makeRouter(["/users/:id"])
        #expect(resolve(router, .get, "/users/42") == .found(0, ["id=42"]))
        #expect(resolve(router, .get, "/users/a-b.c") == .found(0, ["id=a-b.c"]))
        #expect(resolve(router, .get, "/users/") == .notFound)  // empty segment
        #expect(resolve(router, .get, "/users") == .notFound)
        #expect(resolve(router, .get, "/users/42/") == .notFound)
        #expect(resolve(router, .get, "/users/42/x") == .notFound)
    }

    @Test func multipleParameters() throws {
        let router = try makeRouter(["/a/:x/b/:y", "/:first/:second/:third"])
        #expect(resolve(router, .get, "/a/1/b/2") == .found(0, ["x=1", "y=2"]))
        #expect(resolve(router, .get, "/p/q/r") == .found(1, ["first=p", "second=q", "third=r"]))
        #expect(resolve(router, .get, "/a/1/c/2") == .notFound)
        #expect(resolve(router, .get, "/a/1/b/") == .notFound)
    }

    @Test func parameterInsideASegment() throws {
        let router = try makeRouter(["/v:version/info", "/files/:name.json"])
        #expect(resolve(router, .get, "/v2/info") == .found(0, ["version=2"]))
        #expect(resolve(router, .get, "/v/info") == .notFound)
        // ":name.json" is a parameter called "name.json": names run to the next "/".
        #expect(resolve(router, .get, "/files/a") == .found(1, ["name.json=a"]))
    }

    @Test func wildcardTakesTheRest() throws {
        let router = try makeRouter(["/static/*path", "/*all"])
        #expect(resolve(router, .get, "/static/css/site.css") == .found(0, ["path=css/site.css"]))
        #expect(resolve(router, .get, "/static/a//b/") == .found(0, ["path=a//b/"]))
        #expect(resolve(router, .get, "/static/") == .found(0, ["path="]))
        #expect(resolve(router, .get, "/static") == .found(1, ["all=static"]))
        #expect(resolve(router, .get, "/") == .found(1, ["all="]))
        #expect(resolve(router, .get, "") == .notFound)
    }

    @Test func failedLookupsLeaveNoParameters() throws {
        let router = try makeRouter(["/users/:id/posts/:post"])
        var parameters = RouteParameters()
        #expect(resolve(router, .get, Array("/users/7/posts/9".utf8), &parameters) == .found(0, ["id=7", "post=9"]))
        #expect(parameters.count == 2)
        // A miss after a partial capture must not leave captures behind.
        #expect(resolve(router, .get, Array("/users/7/posts".utf8), &parameters) == .notFound)
        #expect(parameters.count == 0)
        #expect(resolve(router, .post, Array("/users/7/posts/9".utf8), &parameters) == .methodNotAllowed("GET, HEAD"))
        #expect(parameters.count == 0)
    }

    @Test func parametersByNameAndIndex() throws {
        let router = try makeRouter(["/a/:x/b/:y/*rest", "/u/:i"])
        var parameters = RouteParameters()
        let path = Array("/a/one/b/two/three/four".utf8)
        path.withUnsafeBytes { raw in
            guard case .found(0) = router.lookup(.get, path: raw, parameters: &parameters) else {
                Issue.record("route not found")
                return
            }
            #expect(parameters.count == 3)
            #expect(String(bytes: parameters[0]) == "one")
            #expect(String(bytes: parameters[1]) == "two")
            #expect(String(bytes: parameters[2]) == "three/four")
            #expect(parameters["x"].map(String.init(bytes:)) == "one")
            #expect(parameters["y"].map(String.init(bytes:)) == "two")
            #expect(parameters["rest"].map(String.init(bytes:)) == "three/four")
            #expect(parameters["z"] == nil)
            #expect(parameters["re"] == nil)
            #expect(parameters["restx"] == nil)
            #expect(parameters[""] == nil)

            // Values are slices of the caller's buffer, not copies.
            let base = raw.baseAddress!
            #expect(parameters[0].baseAddress == base + 3)
            #expect(parameters[2].baseAddress == base + 13)

            // Long names are found the same way as one-letter ones.
            let longRouter = try? makeRouter(["/:identifier"])
            guard let longRouter else { return }
            var long = RouteParameters()
            _ = longRouter.lookup(.get, path: UnsafeRawBufferPointer(rebasing: raw[0..<2]), parameters: &long)
            #expect(long["identifier"].map(String.init(bytes:)) == "a")
            #expect(long["identifie"] == nil)
        }
        _ = resolve(router, .get, Array("/u/1".utf8), &parameters)
        #expect(parameters.count == 1)
        #expect(parameters["x"] == nil)
        #expect(parameters["i"] != nil)
    }

    @Test func removeAllEmptiesParameters() throws {
        let router = try makeRouter(["/:a/:b"])
        var parameters = RouteParameters()
        _ = resolve(router, .get, Array("/1/2".utf8), &parameters)
        #expect(parameters.count == 2)
        parameters.removeAll()
        #expect(parameters.count == 0)
        #expect(parameters["a"] == nil)
        #expect(RouteParameters().count == 0)
    }

    @Test func eightParametersFit() throws {
        let pattern = (1...8).map { "/:p\($0)" }.joined() + "/end"
        let router = try makeRouter([pattern, "/w/:a/:b/:c/:d/:e/:f/:g/*h"])
        let expected = (1...8).map { "p\($0)=v\($0)" }
        #expect(resolve(router, .get, (1...8).map { "/v\($0)" }.joined() + "/end") == .found(0, expected))
        #expect(
            resolve(router, .get, "/w/1/2/3/4/5/6/7/x/y")
                == .found(1, ["a=1", "b=2", "c=3", "d=4", "e=5", "f=6", "g=7", "h=x/y"]))
    }

    @Test func sameParameterNameAcrossRoutesSharesTheNode() throws {
        let router = try makeRouter(["/users/:id", "/users/:id/edit", "/users/:id/posts/:post"])
        #expect(resolve(router, .get, "/users/5") == .found(0, ["id=5"]))
        #expect(resolve(router, .get, "/users/5/edit") == .found(1, ["id=5"]))
        #expect(resolve(router, .get, "/users/5/posts/6") == .found(2, ["id=5", "post=6"]))
    }
}
