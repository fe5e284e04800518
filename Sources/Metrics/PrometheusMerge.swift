/// Merges Prometheus text from several processes: each family once, with
/// the sum over processes first (same name and labels), then every
/// process's own series with its labels added. A label the series already
/// carries is not added again (Prometheus rejects a series that names a
/// label twice, and with it the whole scrape): `switchyard_info` says which
/// process it describes itself.
///
/// A ratio does not sum: `switchyard_loop_imbalance` across processes is
/// worked out again over every loop of every process (the per-loop series
/// it is made of), and each process's own figure follows as usual.
public enum PrometheusMerge {
    /// For each `measure` of `switchyard_loop_imbalance`, the per-loop family it is the max over mean of.
    static let imbalanceSources = [
        "connections": "switchyard_worker_connections_open",
        "accepted": "switchyard_worker_connections_accepted_total",
        "busy": "switchyard_loop_utilization",
    ]

    public static func merge(_ parts: [(labels: String, text: String)]) -> String {
        var order: [String] = []
        var help: [String: String] = [:]
        var type: [String: String] = [:]
        var sums: [String: [(series: String, value: Double)]] = [:]
        var perProcess: [String: [String]] = [:]
        var perLoop: [String: [Double]] = [:]
        let sourceFamilies = Set(imbalanceSources.values)
        func family(_ name: String) {
            if help[name] == nil && type[name] == nil && sums[name] == nil { order.append(name) }
        }
        for part in parts {
            for line in part.text.split(separator: "\n") {
                if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                    let words = line.split(separator: " ", maxSplits: 3)
                    guard words.count >= 3 else { continue }
                    let name = String(words[2])
                    family(name)
                    let rest = words.count > 3 ? String(words[3]) : ""
                    if line.hasPrefix("# HELP ") { help[name] = help[name] ?? rest } else { type[name] = type[name] ?? rest }
                    continue
                }
                guard !line.hasPrefix("#"), let space = line.lastIndex(of: " "),
                      let value = Double(line[line.index(after: space)...]) else { continue }
                let series = String(line[..<space])
                let name = String(series.prefix { $0 != "{" })
                family(name)
                if sourceFamilies.contains(name) && series.contains("worker=") { perLoop[name, default: []].append(value) }
                if let index = sums[name, default: []].firstIndex(where: { $0.series == series }) {
                    sums[name]![index].value += value
                } else {
                    sums[name, default: []].append((series, value))
                }
                let labelled: String
                if let brace = series.firstIndex(of: "{") {
                    let own = series[series.index(after: brace)...]
                    let added = labels(part.labels, notIn: own)
                    // Nothing to add: the series names its process already, and the sum shows it.
                    if added.isEmpty { continue }
                    labelled = "\(name){\(added),\(own)"
                } else {
                    labelled = "\(name){\(part.labels)}"
                }
                perProcess[name, default: []].append("\(labelled) \(line[line.index(after: space)...])")
            }
        }
        var out = ""
        for name in order {
            if let text = help[name] { out += "# HELP \(name) \(text)\n" }
            if let text = type[name] { out += "# TYPE \(name) \(text)\n" }
            for (series, value) in sums[name] ?? [] {
                if name == "switchyard_loop_imbalance", let measure = imbalanceSources.keys.first(where: { series.contains("\"\($0)\"") }) {
                    out += "\(series) \(sampleText(imbalance(perLoop[imbalanceSources[measure]!] ?? [])))\n"
                } else {
                    out += "\(series) \(sampleText(value))\n"
                }
            }
            for line in perProcess[name] ?? [] { out += line + "\n" }
        }
        return out
    }
}

/// The busiest over the mean (1 when all are equal or all zero).
func imbalance(_ values: [Double]) -> Double {
    let mean = values.reduce(0, +) / Double(max(values.count, 1))
    return mean > 0 ? values.max()! / mean : 1
}

/// The `name="value"` pairs of `labels` whose names `series` (a series'
/// labels after its `{`) does not already use.
func labels(_ labels: String, notIn series: Substring) -> String {
    labels.split(separator: ",").filter { pair in
        guard let equals = pair.firstIndex(of: "=") else { return false }
        let name = pair[..<equals]
        return !series.hasPrefix(name + "=") && !series.contains("," + name + "=")
    }.joined(separator: ",")
}

/// A sample value as Prometheus text: whole numbers without a fraction.
func sampleText(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
}
