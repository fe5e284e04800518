/// Everything that can go wrong in this module: hwloc failing to describe the
/// machine, a malformed `--pin` flag, a placement the machine cannot honour, or
/// the kernel refusing a binding. The description is written for the person who
/// typed the command line, so it names the flag and says what would work.
public struct TopologyError: Error, CustomStringConvertible, Sendable {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
