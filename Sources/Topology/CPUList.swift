/// The `taskset`/cpuset notation for CPU numbers ("0-3,8,10-11"): short
/// enough for error messages even on a 256-CPU machine.
public func cpuRangeList(_ cpus: [Int]) -> String {
    let sorted = Array(Set(cpus)).sorted()
    guard !sorted.isEmpty else { return "none" }
    var parts: [String] = []
    var start = sorted[0]
    var end = start
    for cpu in sorted.dropFirst() {
        if cpu == end + 1 {
            end = cpu
            continue
        }
        parts.append(start == end ? "\(start)" : "\(start)-\(end)")
        start = cpu
        end = cpu
    }
    parts.append(start == end ? "\(start)" : "\(start)-\(end)")
    return parts.joined(separator: ",")
}
