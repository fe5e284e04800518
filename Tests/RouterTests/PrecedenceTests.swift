import HTTP1
import Testing

@testable import Router

@Suite struct PrecedenceTests {
    struct Case: CustomStringConvertible, Sendable {
        var patterns: [String]
        var path: String
        var expected: Outcome

        var description: String { "\(path) in \(patterns)" }
    }

    static let cases: [Case] = [
        // static beats param beats wildcard at the same place
        Case(patterns: ["/users/:id", "/users/new", "/users/*rest"], path: "/users/new", expected: .found(1, [])),
        Case(
            patterns: ["/users/:id", "/users/new", "/users/*rest"], path: "/users/old", expected: .found(0, ["id=old"])),
        Case(
            patterns: ["/users/:id", "/users/new", "/users/*rest"], path: "/users/a/b",
            expected: .found(2, ["rest=a/b"])),
        Case(patterns: ["/users/:id", "/users/new", "/users/*rest"], path: "/users/", expected: .found(2, ["rest="])),
        // backtracking out of a static branch into a param
        Case(patterns: ["/users/new", "/users/:id/edit"], path: "/users/new/edit", expected: .found(1, ["id=new"])),
        Case(patterns: ["/users/new", "/users/:id/edit"], path: "/users/new", expected: .found(0, [])),
        Case(
            patterns: ["/users/new", "/users/:id/edit"], path: "/users/newer/edit", expected: .found(1, ["id=newer"])),
        Case(patterns: ["/users/new", "/users/:id/edit"], path: "/users/ne/edit", expected: .found(1, ["id=ne"])),
        // the static child's prefix matches only partly
        Case(patterns: ["/a/bcd", "/a/:x"], path: "/a/bc", expected: .found(1, ["x=bc"])),
        // backtracking several levels, out of a param into a wildcard
        Case(
            patterns: ["/a/b/c/d", "/a/:x/c/e", "/a/*rest"], path: "/a/b/c/f",
            expected: .found(2, ["rest=b/c/f"])),
        Case(
            patterns: ["/a/b/c/d", "/a/:x/c/e", "/a/*rest"], path: "/a/b/c/e",
            expected: .found(1, ["x=b"])),
        // captures made in an abandoned branch are dropped
        Case(
            patterns: ["/:a/x/:b/y", "/:a/*rest"], path: "/1/x/2/z",
            expected: .found(1, ["a=1", "rest=x/2/z"])),
        // the route's own end beats a wildcard that could match an empty rest
        Case(patterns: ["/files/*path", "/files/"], path: "/files/", expected: .found(1, [])),
        // a mid-segment param loses to a longer static prefix, but catches the rest
        Case(patterns: ["/v:version", "/vip"], path: "/vip", expected: .found(1, [])),
        Case(patterns: ["/v:version", "/vip"], path: "/vi", expected: .found(0, ["version=i"])),
        Case(patterns: ["/v:version", "/vip"], path: "/vipx", expected: .found(0, ["version=ipx"])),
        // precedence is decided where routes first differ, not by route length
        Case(patterns: ["/:a/b/c", "/x/:b/:c"], path: "/x/b/c", expected: .found(1, ["b=b", "c=c"])),
        Case(patterns: ["/:a/b/c", "/x/:b/:c"], path: "/y/b/c", expected: .found(0, ["a=y"])),
    ]

    @Test(arguments: cases)
    func precedence(_ testCase: Case) throws {
        let router = try makeRouter(testCase.patterns)
        #expect(resolve(router, .get, testCase.path) == testCase.expected)
    }

    @Test(arguments: cases)
    func precedenceDoesNotDependOnInsertionOrder(_ testCase: Case) throws {
        let router = Router<Int>()
        for (index, pattern) in testCase.patterns.enumerated().reversed() {
            try router.add(.get, pattern, index)
        }
        #expect(resolve(router, .get, testCase.path) == testCase.expected)
    }

    /// A route only wins if it has the method; otherwise the search goes on
    /// to lower-precedence routes that match the same path.
    @Test func methodIsPartOfTheMatch() throws {
        let router = try makeRouter([(.get, "/users/new"), (.post, "/users/:id"), (.delete, "/users/*rest")])
        #expect(resolve(router, .get, "/users/new") == .found(0, []))
        #expect(resolve(router, .post, "/users/new") == .found(1, ["id=new"]))
        #expect(resolve(router, .delete, "/users/new") == .found(2, ["rest=new"]))
        #expect(resolve(router, .put, "/users/new") == .methodNotAllowed("GET, HEAD, POST, DELETE"))
        #expect(resolve(router, .put, "/users/a/b") == .methodNotAllowed("DELETE"))
        #expect(resolve(router, .get, "/users/a") == .methodNotAllowed("POST, DELETE"))
    }
}
