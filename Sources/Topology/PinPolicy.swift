/// How engine threads are placed on CPUs: the `--pin` flag.
public enum PinPolicy: Sendable, Equatable, CustomStringConvertible {
    /// Leave placement to the kernel scheduler.
    case none
    /// Neighbouring threads on neighbouring cores: they share L2/L3 and one
    /// NUMA node. One thread per core before any hyper-thread sibling.
    case compact
    /// Threads spread over packages and NUMA nodes first, for the most memory
    /// bandwidth and the most cache in total. Hyper-thread siblings last.
    case scatter
    /// Exactly these CPUs (OS numbers), thread i on the i-th one.
    case cpus([Int])

    static let allowedForms = #"--pin takes "none", "compact", "scatter" or "cpus:LIST" (LIST like 0,2,4 or 0-3 or 0-1,4)"#

    /// Parses the --pin flag: "none", "compact", "scatter", "cpus:0,2,4" (also
    /// ranges "cpus:0-3"). A CPU listed twice is an error: two engine threads
    /// pinned to one CPU would only take turns.
    public init(parsing text: String) throws(TopologyError) {
        switch text {
        case "none": self = .none
        case "compact": self = .compact
        case "scatter": self = .scatter
        default:
            guard text.hasPrefix("cpus:") else {
                throw TopologyError("unknown --pin \"\(text)\": \(Self.allowedForms)")
            }
            self = .cpus(try Self.parseList(text, list: text.dropFirst("cpus:".count)))
        }
    }

    private static func parseList(_ text: String, list: Substring) throws(TopologyError) -> [Int] {
        func failure(_ reason: String) -> TopologyError {
            TopologyError("invalid --pin \"\(text)\": \(reason); \(allowedForms)")
        }
        guard !list.isEmpty else { throw failure("the CPU list is empty") }
        var cpus: [Int] = []
        var seen = Set<Int>()
        for item in list.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = item.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count),
                  let first = number(bounds[0]), let last = number(bounds[bounds.count - 1])
            else {
                throw failure("\"\(item)\" is not a CPU number or a range like 0-3")
            }
            guard first <= last else {
                throw failure("the range \"\(item)\" runs backwards")
            }
            guard last < maxCPUNumber else {
                throw failure("CPU \(last) is beyond any machine")
            }
            for cpu in first...last {
                guard seen.insert(cpu).inserted else { throw failure("CPU \(cpu) is listed twice") }
                cpus.append(cpu)
            }
        }
        return cpus
    }

    /// Only plain decimal digits: Int("+3") would also accept a sign.
    private static func number(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.count <= 9, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(text)
    }

    /// The flag text; `PinPolicy(parsing: policy.description) == policy`.
    /// Runs of three or more consecutive CPUs are written as ranges.
    public var description: String {
        switch self {
        case .none: "none"
        case .compact: "compact"
        case .scatter: "scatter"
        case .cpus(let cpus): "cpus:" + Self.format(cpus)
        }
    }

    /// Keeps the given order (it is the thread order), unlike `cpuRangeList`.
    private static func format(_ cpus: [Int]) -> String {
        var parts: [String] = []
        var index = 0
        while index < cpus.count {
            var end = index
            while end + 1 < cpus.count, cpus[end + 1] == cpus[end] + 1 { end += 1 }
            if end - index >= 2 {
                parts.append("\(cpus[index])-\(cpus[end])")
            } else {
                parts.append(contentsOf: cpus[index...end].map(String.init))
            }
            index = end + 1
        }
        return parts.joined(separator: ",")
    }
}
