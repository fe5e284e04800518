import Glibc

/// How much a request matters when a loop is overloaded. A route has one
/// (`Application`'s priority rules); the overload controller sheds the
/// lowest classes first and never sheds `critical`.
public enum PriorityClass: Int, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    /// Health checks and metrics: never shed, so an orchestrator and an
    /// operator still see the server while it sheds.
    case critical = 0
    case normal = 1
    /// Work that may wait or be retried (batch, expensive endpoints).
    case low = 2

    public init?(name: String) {
        switch name {
        case "critical": self = .critical
        case "normal": self = .normal
        case "low": self = .low
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .critical: return "critical"
        case .normal: return "normal"
        case .low: return "low"
        }
    }

    public static func < (a: PriorityClass, b: PriorityClass) -> Bool { a.rawValue < b.rawValue }
}
