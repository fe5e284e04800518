import HTTP1
import LoopRuntime

/// Which priority class each route belongs to (`--priority`): rules of the
/// form `PATTERN=CLASS`, where PATTERN is a route pattern exactly as the
/// application registered it (`/work`, `/users/:id`) or a prefix of
/// patterns ending in `*` (`/static/*`, `/*`), and CLASS is `critical`,
/// `normal` or `low`. Later rules win; a route no rule names is normal.
///
/// Read once at start-up into each route's stored class: nothing is
/// looked up per request.
public struct PriorityRules: Sendable, Equatable {
    public struct Rule: Sendable, Equatable {
        public var pattern: String
        public var priority: PriorityClass
    }

    public var rules: [Rule]

    /// Health checks and metrics stay answerable; `/work` (the demo's
    /// CPU-burning route) is the work that may wait.
    public static let defaults = PriorityRules(rules: [
        Rule(pattern: "/health", priority: .critical),
        Rule(pattern: "/metrics", priority: .critical),
        Rule(pattern: "/work", priority: .low),
    ])

    public init(rules: [Rule]) { self.rules = rules }

    /// Parses `PATTERN=CLASS[,PATTERN=CLASS...]`; the message names the flag
    /// and what is allowed.
    public static func parse(_ text: String) throws(PriorityRuleError) -> [Rule] {
        var parsed: [Rule] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: true) {
            let entry = item.trimmingSpaces
            guard let equals = entry.lastIndex(of: "=") else {
                throw PriorityRuleError("'\(entry)': write PATTERN=CLASS, for example /work=low")
            }
            let pattern = String(entry[..<equals]).trimmingSpaces
            let name = String(entry[entry.index(after: equals)...]).trimmingSpaces
            guard pattern.hasPrefix("/") else {
                throw PriorityRuleError("'\(entry)': the pattern must start with / (a route pattern such as /work or a prefix such as /static/*)")
            }
            guard let priority = PriorityClass(name: name) else {
                throw PriorityRuleError("'\(entry)': the class must be critical, normal or low")
            }
            parsed.append(Rule(pattern: pattern, priority: priority))
        }
        return parsed
    }

    /// The defaults, then `text`'s rules over them.
    public static func defaults(overriddenBy text: String) throws(PriorityRuleError) -> PriorityRules {
        PriorityRules(rules: defaults.rules + (try parse(text)))
    }

    /// The class of the route registered as `pattern`.
    public func priority(of pattern: String) -> PriorityClass {
        var found = PriorityClass.normal
        for rule in rules where Self.matches(rule.pattern, pattern) { found = rule.priority }
        return found
    }

    /// Rules that name no route of `patterns` (an operator's typo).
    public func unmatched(by patterns: [String]) -> [Rule] {
        rules.filter { rule in !patterns.contains { Self.matches(rule.pattern, $0) } }
    }

    static func matches(_ rule: String, _ pattern: String) -> Bool {
        if rule.hasSuffix("*") { return pattern.hasPrefix(rule.dropLast()) }
        return rule == pattern
    }

    /// The rules as `--priority` takes them.
    public var text: String { rules.map { "\($0.pattern)=\($0.priority)" }.joined(separator: ",") }
}

public struct PriorityRuleError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
