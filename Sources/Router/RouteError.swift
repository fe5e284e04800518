/// Why `Router.add` refused a route. The router is left exactly as it was
/// before the failing call, so a caller may report the error and carry on.
public struct RouteError: Error, CustomStringConvertible {
    /// The rule a pattern broke. Internal so that tests can tell the cases
    /// apart without parsing `description`, while the public surface stays
    /// the single message string.
    enum Problem: Equatable {
        case empty
        case missingLeadingSlash
        case emptyParameterName
        case invalidParameterName
        case duplicateParameterName
        case wildcardNotLast
        case tooManyParameters
        case conflictingParameterName
        case duplicateRoute
    }

    public var description: String
    let problem: Problem

    init(_ problem: Problem, pattern: String, _ detail: String) {
        self.problem = problem
        self.description = "route \"\(pattern)\": \(detail)"
    }
}
