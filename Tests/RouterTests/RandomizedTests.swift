import HTTP1
import Testing

@testable import Router

/// Random route tables checked against `ReferenceRouter`.
@Suite struct RandomizedTests {
    static let literals = ["a", "b", "ab", "abc", "ba", "new", "x"]
    static let values = ["a", "b", "ab", "new", "x1", "abc"]
    static let methods: [HTTPMethod] = [.get, .head, .post, .put, .delete]

    /// Parameters are named after their capture index, so routes that share
    /// a capture position always agree on its name (a conflict is tested
    /// elsewhere).
    static func randomPattern(_ rng: inout SplitMix64) -> String {
        var pattern = ""
        var captures = 0
        let segments = Int.random(in: 0...4, using: &rng)
        for index in 0..<segments {
            pattern += "/"
            switch Int.random(in: 0..<20, using: &rng) {
            case 0..<11:
                pattern += literals.randomElement(using: &rng)!
            case 11..<15:
                pattern += ":p\(captures)"
                captures += 1
            case 15..<17:
                pattern += literals.randomElement(using: &rng)! + ":p\(captures)"
                captures += 1
            default:
                if index == segments - 1 {
                    return pattern + "*w\(captures)"
                }
                pattern += literals.randomElement(using: &rng)!
            }
        }
        if pattern.isEmpty || Int.random(in: 0..<5, using: &rng) == 0 { pattern += "/" }
        return pattern
    }

    /// A path that the pattern matches, with random capture values.
    static func instantiate(_ pattern: String, _ rng: inout SplitMix64) -> String {
        var path = ""
        var rest = Substring(pattern)
        while let first = rest.first {
            if first == ":" {
                rest = rest.drop { $0 != "/" }
                path += values.randomElement(using: &rng)!
            } else if first == "*" {
                rest = ""
                path += ["", "a", "a/b", "b/", "new/x"].randomElement(using: &rng)!
            } else {
                path.append(first)
                rest = rest.dropFirst()
            }
        }
        return path
    }

    static func randomPath(_ rng: inout SplitMix64) -> String {
        let segments = (0..<Int.random(in: 0...4, using: &rng)).map { _ in
            (literals + values + [""]).randomElement(using: &rng)!
        }
        return "/" + segments.joined(separator: "/") + (Bool.random(using: &rng) ? "/" : "")
    }

    @Test(arguments: 0..<40)
    func agreesWithReference(seed: Int) throws {
        var rng = SplitMix64(seed: UInt64(seed))
        let router = Router<Int>()
        var reference = ReferenceRouter()
        var patterns: [String] = []
        for handler in 0..<Int.random(in: 1...40, using: &rng) {
            let pattern = randomPattern(&rng)
            let method = Self.methods.randomElement(using: &rng)!
            let accepted = reference.add(method, pattern, handler)
            do {
                try router.add(method, pattern, handler)
                #expect(accepted, "router accepted duplicate \(method.name) \(pattern)")
            } catch {
                #expect(!accepted, "router rejected \(method.name) \(pattern): \(error)")
                #expect(error.problem == .duplicateRoute)
            }
            patterns.append(pattern)
        }

        var paths = (0..<150).map { _ in Self.randomPath(&rng) }
        for pattern in patterns {
            let path = Self.instantiate(pattern, &rng)
            paths += [path, path + "/", String(path.dropLast()), path + "x"]
        }
        for path in paths {
            for method in Self.methods + [.patch] {
                let expected = reference.resolve(method, path)
                let actual = resolve(router, method, path)
                #expect(
                    actual == expected,
                    "\(method.name) \(path) with routes \(router.routes.map { "\($0.method.name) \($0.pattern)" })")
            }
        }
    }

    func randomPattern(_ rng: inout SplitMix64) -> String { Self.randomPattern(&rng) }
}
