import HTTP1
import Testing

@testable import Router

@Suite struct RouteErrorTests {
    struct Case: CustomStringConvertible, Sendable {
        /// Added first, successfully.
        var existing: [(HTTPMethod, String)] = []
        var method: HTTPMethod = .get
        var pattern: String
        var problem: RouteError.Problem
        /// Words the message must contain besides the pattern.
        var mentions: [String]

        var description: String { "\(pattern) -> \(problem)" }
    }

    static let cases: [Case] = [
        Case(pattern: "", problem: .empty, mentions: ["empty"]),
        Case(pattern: "users", problem: .missingLeadingSlash, mentions: ["\"/\""]),
        Case(pattern: ":id", problem: .missingLeadingSlash, mentions: ["\"/\""]),
        Case(pattern: "/static/*path/more", problem: .wildcardNotLast, mentions: ["*path/more", "last"]),
        Case(pattern: "/*a/:b", problem: .wildcardNotLast, mentions: ["last"]),
        Case(pattern: "/users/:", problem: .emptyParameterName, mentions: ["\":\"", "name"]),
        Case(pattern: "/users/:/edit", problem: .emptyParameterName, mentions: ["\":\"", "name"]),
        Case(pattern: "/static/*", problem: .emptyParameterName, mentions: ["\"*\"", "name"]),
        Case(pattern: "/:a:b", problem: .invalidParameterName, mentions: ["a:b"]),
        Case(pattern: "/:a*b", problem: .invalidParameterName, mentions: ["a*b"]),
        Case(pattern: "/:id/x/:id", problem: .duplicateParameterName, mentions: ["\"id\"", "twice"]),
        Case(pattern: "/:id/*id", problem: .duplicateParameterName, mentions: ["\"id\"", "twice"]),
        Case(
            pattern: "/:a/:b/:c/:d/:e/:f/:g/:h/:i", problem: .tooManyParameters, mentions: ["more than 8"]),
        Case(
            pattern: "/:a/:b/:c/:d/:e/:f/:g/:h/*i", problem: .tooManyParameters, mentions: ["more than 8"]),
        Case(
            existing: [(.get, "/users/:id")], pattern: "/users/:name", problem: .conflictingParameterName,
            mentions: [":name", ":id", "/users/:id"]),
        Case(
            existing: [(.post, "/users/:id/edit")], method: .delete, pattern: "/users/:name",
            problem: .conflictingParameterName, mentions: [":name", ":id"]),
        Case(
            existing: [(.get, "/a/:x/b/:y")], pattern: "/a/:x/b/:z/c", problem: .conflictingParameterName,
            mentions: [":z", ":y"]),
        Case(
            existing: [(.get, "/files/*path")], pattern: "/files/*rest", problem: .conflictingParameterName,
            mentions: ["*rest", "*path"]),
        Case(existing: [(.get, "/x")], pattern: "/x", problem: .duplicateRoute, mentions: ["GET", "already"]),
        Case(
            existing: [(.get, "/users/:id"), (.post, "/users/:id")], method: .post, pattern: "/users/:id",
            problem: .duplicateRoute, mentions: ["POST", "already"]),
        Case(
            existing: [(.get, "/s/*p"), (.get, "/s/")], pattern: "/s/*p", problem: .duplicateRoute,
            mentions: ["GET"]),
    ]

    @Test(arguments: cases)
    func invalidRoutesAreRejected(_ testCase: Case) throws {
        let router = try makeRouter(testCase.existing)
        let error = #expect(throws: RouteError.self) {
            try router.add(testCase.method, testCase.pattern, 99)
        }
        guard let error else { return }
        #expect(error.problem == testCase.problem)
        #expect(error.description.contains("\"\(testCase.pattern)\""), "\(error)")
        for word in testCase.mentions {
            #expect(error.description.contains(word), "\(error) should mention \(word)")
        }
    }

    /// A rejected add must leave the tree untouched, including nodes it
    /// would have split on the way to the conflict.
    @Test(arguments: cases)
    func rejectedRoutesChangeNothing(_ testCase: Case) throws {
        let router = try makeRouter(testCase.existing)
        let probes = [
            "/", "/x", "/users/1", "/users/1/edit", "/users/", "/a/1/b/2", "/a/1/b/2/c", "/files/a", "/s/", "/s/q",
        ]
        let before = probes.flatMap { path in HTTPMethod.allCases.map { resolve(router, $0, path) } }
        _ = try? router.add(testCase.method, testCase.pattern, 99)
        let after = probes.flatMap { path in HTTPMethod.allCases.map { resolve(router, $0, path) } }
        #expect(before == after)
        #expect(router.routes.map(\.pattern) == testCase.existing.map(\.1))
    }

    @Test func compatibleRoutesAreAccepted() throws {
        let router = Router<Int>()
        // Same parameter name at the same place, and parameter beside wildcard.
        try router.add(.get, "/users/:id", 0)
        try router.add(.post, "/users/:id", 1)
        try router.add(.get, "/users/:id/posts", 2)
        try router.add(.get, "/users/*rest", 3)
        // The same name at a different position is a different parameter.
        try router.add(.get, "/teams/:name/users/:id", 4)
        try router.add(.get, "/:id", 5)
        #expect(router.routes.count == 6)
    }

    @Test func conflictIsDetectedBelowASplitPrefix() throws {
        let router = try makeRouter(["/api/users/:id"])
        #expect(throws: RouteError.self) { try router.add(.get, "/api/users/:uid", 1) }
        // "/api/u" forces a split of the "/api/users/" prefix; the route must still work.
        try router.add(.get, "/api/u", 1)
        #expect(throws: RouteError.self) { try router.add(.get, "/api/users/:uid", 2) }
        #expect(resolve(router, .get, "/api/users/3") == .found(0, ["id=3"]))
        #expect(resolve(router, .get, "/api/u") == .found(1, []))
    }
}
