/// Turning TOML text into an `ExperimentSpec`, checking every key.
///
/// The parser does not stop at the first problem: it collects every issue so
/// one edit-run cycle fixes a whole spec. Each issue names its key and, where
/// there is a closed set or a range, what is allowed.
extension ExperimentSpec {
    /// Defaults for optional keys (see README.md).
    static let defaultDuration = 10.0
    static let defaultWarmup = 2.0
    static let defaultRepetitions = 3
    static let defaultMix = [MixEntry(path: "/plaintext", weight: 1)]
    /// The accept policies of the reactor engines (EngineCore's `AcceptPolicy`).
    public static let acceptPolicies = [
        "reuseport", "reuseport-cpu", "reuseport-hash", "acceptor", "hash", "p2c", "round-robin", "least-loaded",
    ]
    /// Engine flags the runner derives from each point; `[server]` and
    /// `matrix.flags` may not set them.
    public static let runnerFlags = ["engine", "host", "port", "threads", "pin", "accept"]
    /// Named pin policies; `cpus:LIST` is accepted besides these.
    public static let pinPolicies = ["none", "compact", "scatter"]

    /// Parses and validates a spec.
    /// - Parameters:
    ///   - text: the TOML document.
    ///   - source: the file name that prefixes every error message.
    ///   - knownEngines: the project's engines; anything else in
    ///     `matrix.engines` must be a `[[reference]]` server.
    public init(parsing text: String, source: String, knownEngines: [KnownEngine]) throws(SpecError) {
        let root: SpecValue
        do {
            root = try SpecValue.parse(text)
        } catch {
            let position = error.line > 0 ? "\(source):\(error.line):\(error.column)" : source
            throw SpecError(source: position, issues: [.init(key: "", message: "not valid TOML: \(error.message)")])
        }
        var reader = SpecReader()
        let spec = reader.spec(root, knownEngines: knownEngines)
        guard let spec, reader.issues.isEmpty else {
            throw SpecError(source: source, issues: reader.issues)
        }
        self = spec
    }
}

/// Walks the document and records issues; each accessor returns nil (or a
/// default) after recording, so the walk goes on and finds the next problem.
private struct SpecReader {
    var issues: [SpecError.Issue] = []

    mutating func fail(_ key: String, _ message: String) {
        issues.append(.init(key: key, message: message))
    }

    // MARK: Document structure

    mutating func spec(_ root: SpecValue, knownEngines: [KnownEngine]) -> ExperimentSpec? {
        guard let top = table(root, key: "") else { return nil }
        rejectUnknownKeys(top, prefix: "", allowed: [
            "name", "description", "duration", "warmup", "repetitions", "matrix", "server", "reference", "load",
        ])

        let name = folderName(top["name"], key: "name")
        let description = top["description"].flatMap { string($0, key: "description") } ?? ""
        let duration = self.duration(top["duration"], key: "duration", default: ExperimentSpec.defaultDuration,
                                allowed: "greater than 0 seconds", where: { $0 > 0 })
        let warmup = self.duration(top["warmup"], key: "warmup", default: ExperimentSpec.defaultWarmup,
                              allowed: "0 seconds or more", where: { $0 >= 0 })
        let repetitions = integer(top["repetitions"], key: "repetitions", default: ExperimentSpec.defaultRepetitions,
                                  allowed: "1 or more", where: { $0 >= 1 })
        let references = references(top["reference"])
        let server = serverFlags(top["server"]) ?? []

        guard let matrixValue = top["matrix"] else {
            fail("matrix", "missing; it needs at least `engines = [...]`")
            return nil
        }
        guard let matrixTable = table(matrixValue, key: "matrix") else { return nil }
        let matrix = matrix(matrixTable, knownEngines: knownEngines, references: references)

        // A reference nobody measures is almost always a typo in one of the two places.
        let measured = Set(matrix.engines)
        for (index, reference) in references.enumerated() where !measured.contains(reference.name) {
            fail("reference[\(index)].name", "\"\(reference.name)\" is not listed in matrix.engines")
        }

        let load = top["load"].flatMap { loadPlacement($0) } ?? LoadPlacement()
        guard let name else { return nil }
        var spec = ExperimentSpec(
            name: name, description: description, duration: duration, warmup: warmup,
            repetitions: repetitions, matrix: matrix, server: server, references: references,
            reactorEngines: knownEngines.filter { $0.isReactor && measured.contains($0.name) }.map(\.name),
            threadPoolEngines: knownEngines.filter { $0.hasThreadPool && measured.contains($0.name) }.map(\.name))
        spec.load = load
        return spec
    }

    /// `[load]`: server-cpus, load-cpus (CPU lists as text), realtime (bool),
    /// slo (a duration: goodput is counted against it).
    mutating func loadPlacement(_ value: SpecValue) -> LoadPlacement? {
        guard let load = table(value, key: "load") else { return nil }
        rejectUnknownKeys(load, prefix: "load.", allowed: ["server-cpus", "load-cpus", "realtime", "slo", "source-addresses"])
        var placement = LoadPlacement()
        placement.serverCPUs = load["server-cpus"].flatMap { string($0, key: "load.server-cpus") }
        placement.loadCPUs = load["load-cpus"].flatMap { string($0, key: "load.load-cpus") }
        if let realtime = load["realtime"] {
            if case .bool(let flag) = realtime {
                placement.realtime = flag
            } else {
                fail("load.realtime", "expected true or false, got \(realtime.typeName)")
            }
        }
        if load["source-addresses"] != nil {
            placement.sourceAddresses = integer(load["source-addresses"], key: "load.source-addresses", default: 0,
                                                allowed: "0 (the kernel chooses) to 16000000", where: { (0...16_000_000).contains($0) })
        }
        if load["slo"] != nil {
            placement.slo = duration(load["slo"], key: "load.slo", default: 0, allowed: "more than 0 seconds") { $0 > 0 }
        }
        return placement
    }

    mutating func matrix(_ matrix: Table, knownEngines: [KnownEngine], references: [ReferenceServer]) -> Matrix {
        rejectUnknownKeys(matrix, prefix: "matrix.", allowed: [
            "engines", "threads", "pin", "accept", "connections", "pipeline", "rate", "arrivals", "mix", "flags", "skew",
        ])

        let engineNames = knownEngines.map(\.name) + references.map(\.name)
        let engines: [String] = list(matrix["engines"], key: "matrix.engines", default: nil, allowEmpty: false) {
            reader, value, key in
            guard let name = reader.string(value, key: key) else { return nil }
            guard engineNames.contains(name) else {
                reader.fail(key, "unknown engine \"\(name)\"; known: \(engineNames.joined(separator: ", "))")
                return nil
            }
            return name
        }
        let threads: [Int] = list(matrix["threads"], key: "matrix.threads", default: [1]) { reader, value, key in
            reader.integer(value, key: key, allowed: "1 or more", where: { $0 >= 1 })
        }
        let pin: [String] = list(matrix["pin"], key: "matrix.pin", default: ["none"]) { reader, value, key in
            guard let text = reader.string(value, key: key) else { return nil }
            guard ExperimentSpec.pinPolicies.contains(text) || isCPUList(text) else {
                reader.fail(key, "unknown pin policy \"\(text)\"; allowed: "
                    + ExperimentSpec.pinPolicies.joined(separator: ", ") + ", cpus:LIST (like cpus:0,2 or cpus:0-3)")
                return nil
            }
            return text
        }
        let accept: [String] = list(matrix["accept"], key: "matrix.accept", default: ["reuseport"]) {
            reader, value, key in
            guard let text = reader.string(value, key: key) else { return nil }
            guard ExperimentSpec.acceptPolicies.contains(text) else {
                reader.fail(key, "unknown accept policy \"\(text)\"; allowed: "
                    + ExperimentSpec.acceptPolicies.joined(separator: ", "))
                return nil
            }
            return text
        }
        let connections: [Int] = list(matrix["connections"], key: "matrix.connections", default: [64]) {
            reader, value, key in
            reader.integer(value, key: key, allowed: "1 or more", where: { $0 >= 1 })
        }
        let pipeline: [Int] = list(matrix["pipeline"], key: "matrix.pipeline", default: [1]) {
            reader, value, key in
            reader.integer(value, key: key, allowed: "1 or more", where: { $0 >= 1 })
        }
        let rate: [Double] = list(matrix["rate"], key: "matrix.rate", default: [], allowEmpty: true) {
            reader, value, key in
            reader.number(value, key: key, allowed: "greater than 0 requests/s", where: { $0 > 0 })
        }
        var arrivals = Arrivals.constant
        if let value = matrix["arrivals"], let text = string(value, key: "matrix.arrivals") {
            if let parsed = Arrivals(rawValue: text) {
                arrivals = parsed
            } else {
                fail("matrix.arrivals", "unknown arrivals \"\(text)\"; allowed: "
                    + Arrivals.allCases.map(\.rawValue).joined(separator: ", "))
            }
        }
        let mix: [MixEntry] = list(matrix["mix"], key: "matrix.mix", default: ExperimentSpec.defaultMix) {
            reader, value, key in reader.mixEntry(value, key: key)
        }
        var flagSets: [[ServerFlag]] = [[]]
        if let value = matrix["flags"] {
            if case .array(let items) = value, !items.isEmpty {
                flagSets = []
                for (index, item) in items.enumerated() {
                    let key = "matrix.flags[\(index)]"
                    guard let set = serverFlags(item, key: key) else { continue }
                    if flagSets.contains(set) {
                        fail(key, "the same flags as an earlier entry")
                    } else {
                        flagSets.append(set)
                    }
                }
            } else if case .array = value {
                fail("matrix.flags", "must not be empty; leave it out for no extra flags")
            } else {
                fail("matrix.flags", "expected an array of tables like [{}, { shed-above = 512 }], got \(value.typeName)")
            }
        }
        let skew: [String] = list(matrix["skew"], key: "matrix.skew", default: ["none"]) { reader, value, key in
            guard let text = reader.string(value, key: key) else { return nil }
            let parts = text.split(separator: ":").compactMap { Double($0) }
            guard text == "none" || (parts.count == 2 && parts.allSatisfy { $0 > 0 && $0 < 1 }) else {
                reader.fail(key, "expected \"none\" or HOT:SHARE, two fractions between 0 and 1 (e.g. \"0.05:0.9\"), got \"\(text)\"")
                return nil
            }
            return text
        }
        if skew.contains(where: { $0 != "none" }) && rate.isEmpty {
            fail("matrix.skew", "needs matrix.rate (an open loop): a closed loop keeps every connection equally busy")
        }
        var result = Matrix(
            engines: engines, threads: threads, pin: pin, accept: accept, connections: connections,
            pipeline: pipeline, rate: rate, arrivals: arrivals, mix: mix, flags: flagSets)
        result.skew = skew
        return result
    }

    mutating func mixEntry(_ value: SpecValue, key: String) -> MixEntry? {
        guard let entry = table(value, key: key) else { return nil }
        rejectUnknownKeys(entry, prefix: key + ".", allowed: ["path", "weight"])
        var path: String?
        if let value = entry["path"] {
            path = string(value, key: key + ".path")
            if let text = path, !text.hasPrefix("/") {
                fail(key + ".path", "\"\(text)\" must start with \"/\"")
                path = nil
            }
        } else {
            fail(key + ".path", "missing")
        }
        let weight = number(entry["weight"], key: key + ".weight", default: 1,
                            allowed: "greater than 0 (weights are relative)", where: { $0 > 0 })
        return path.map { MixEntry(path: $0, weight: weight) }
    }

    /// A table of engine flags: `[server]`, or one entry of `matrix.flags`.
    mutating func serverFlags(_ value: SpecValue?, key prefix: String = "server") -> [ServerFlag]? {
        guard let value, let flags = table(value, key: prefix) else { return nil }
        return flags.entries.compactMap { key, value in
            // The runner sets these from the point itself; a second value
            // would make the server differ from what its row says.
            if ExperimentSpec.runnerFlags.contains(key) {
                let source = switch key {
                case "engine": "matrix.engines"
                case "host", "port": "a free loopback port it picks"
                default: "matrix.\(key)"
                }
                fail("\(prefix).\(key)", "set by the runner for each point from \(source); the runner sets "
                    + ExperimentSpec.runnerFlags.joined(separator: ", "))
                return nil
            }
            switch value {
            case .string(let text): return ServerFlag(key: key, value: .string(text))
            case .int(let number): return ServerFlag(key: key, value: .int(number))
            case .double(let number): return ServerFlag(key: key, value: .double(number))
            case .bool(let flag): return ServerFlag(key: key, value: .bool(flag))
            default:
                fail("\(prefix).\(key)", "expected string, integer, float or boolean, got \(value.typeName)")
                return nil
            }
        }
    }

    mutating func references(_ value: SpecValue?) -> [ReferenceServer] {
        guard let value else { return [] }
        guard case .array(let items) = value else {
            fail("reference", "expected an array of tables ([[reference]]), got \(value.typeName)")
            return []
        }
        var seen = Set<String>()
        var result: [ReferenceServer] = []
        for (index, item) in items.enumerated() {
            let key = "reference[\(index)]"
            guard let entry = table(item, key: key) else { continue }
            rejectUnknownKeys(entry, prefix: key + ".", allowed: ["name", "command", "port", "requires", "health"])
            let name = folderName(entry["name"], key: key + ".name")
            if let name, !seen.insert(name).inserted {
                fail(key + ".name", "\"\(name)\" is declared twice")
            }
            var command: String?
            if let value = entry["command"] {
                command = string(value, key: key + ".command")
                if command?.allSatisfy(\.isWhitespace) == true {
                    fail(key + ".command", "must not be empty")
                    command = nil
                }
            } else {
                fail(key + ".command", "missing")
            }
            var port: Int?
            if let value = entry["port"] {
                port = integer(value, key: key + ".port", allowed: "1 to 65535", where: { (1...65535).contains($0) })
            } else {
                fail(key + ".port", "missing")
            }
            let requires: [String] = list(entry["requires"], key: key + ".requires", default: [], allowEmpty: true) {
                reader, value, key in
                guard let program = reader.string(value, key: key) else { return nil }
                guard !program.isEmpty, !program.contains(where: { $0 == "/" || $0.isWhitespace }) else {
                    reader.fail(key, "\"\(program)\" is not a program name (no spaces or slashes; it is looked up on PATH)")
                    return nil
                }
                return program
            }
            var health = "/health"
            if let value = entry["health"], let path = string(value, key: key + ".health") {
                if path.hasPrefix("/"), !path.contains(where: { $0 == " " || $0 == "\r" || $0 == "\n" }) {
                    health = path
                } else {
                    fail(key + ".health", "\"\(path)\" must be a path starting with \"/\" without spaces")
                }
            }
            if let name, let command, let port {
                result.append(ReferenceServer(name: name, command: command, port: port, requires: requires,
                                              health: health))
            }
        }
        return result
    }

    // MARK: Typed accessors

    typealias Table = SpecTable

    mutating func table(_ value: SpecValue, key: String) -> Table? {
        guard case .table(let entries) = value else {
            fail(key, "expected a table, got \(value.typeName)")
            return nil
        }
        return SpecTable(entries: entries)
    }

    mutating func string(_ value: SpecValue, key: String) -> String? {
        guard case .string(let text) = value else {
            fail(key, "expected a string, got \(value.typeName)")
            return nil
        }
        return text
    }

    /// A required name that becomes a folder (or part of a point id), so it
    /// keeps to characters that need no quoting anywhere.
    mutating func folderName(_ value: SpecValue?, key: String) -> String? {
        guard let value else {
            fail(key, "missing")
            return nil
        }
        guard let text = string(value, key: key) else { return nil }
        let allowed = text.unicodeScalars.allSatisfy { scalar in
            (("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
                || ("0"..."9").contains(scalar) || scalar == "-" || scalar == "_" || scalar == ".")
        }
        guard !text.isEmpty, allowed, text != ".", text != ".." else {
            fail(key, "\"\(text)\" is not a valid name; use letters, digits, '-', '_' and '.'")
            return nil
        }
        return text
    }

    mutating func integer(
        _ value: SpecValue, key: String, allowed: String, where isAllowed: (Int) -> Bool
    ) -> Int? {
        guard case .int(let number) = value else {
            fail(key, "expected an integer, got \(value.typeName)")
            return nil
        }
        guard isAllowed(number) else {
            fail(key, "\(number) is out of range; allowed: \(allowed)")
            return nil
        }
        return number
    }

    mutating func integer(
        _ value: SpecValue?, key: String, default fallback: Int, allowed: String, where isAllowed: (Int) -> Bool
    ) -> Int {
        guard let value else { return fallback }
        return integer(value, key: key, allowed: allowed, where: isAllowed) ?? fallback
    }

    /// A duration: a number of seconds (`duration = 5`) or a string with a
    /// unit, as wrk users type it (`duration = "500ms"`, `"4s"`, `"2m"`).
    mutating func duration(
        _ value: SpecValue?, key: String, default fallback: Double, allowed: String, where isAllowed: (Double) -> Bool
    ) -> Double {
        guard let value else { return fallback }
        guard case .string(let text) = value else { return number(value, key: key, allowed: allowed, where: isAllowed) ?? fallback }
        guard let seconds = DurationText.seconds(text) else {
            fail(key, "\"\(text)\" is not a duration; allowed: \(DurationText.allowed)")
            return fallback
        }
        guard isAllowed(seconds) else {
            fail(key, "\"\(text)\" is out of range; allowed: \(allowed)")
            return fallback
        }
        return seconds
    }

    /// Floats and integers alike: `duration = 5` means 5 seconds.
    mutating func number(
        _ value: SpecValue, key: String, allowed: String, where isAllowed: (Double) -> Bool
    ) -> Double? {
        let number: Double
        switch value {
        case .double(let x): number = x
        case .int(let n): number = Double(n)
        default:
            fail(key, "expected a number, got \(value.typeName)")
            return nil
        }
        guard number.isFinite, isAllowed(number) else {
            fail(key, "\(formatNumber(number)) is out of range; allowed: \(allowed)")
            return nil
        }
        return number
    }

    mutating func number(
        _ value: SpecValue?, key: String, default fallback: Double, allowed: String,
        where isAllowed: (Double) -> Bool
    ) -> Double {
        guard let value else { return fallback }
        return number(value, key: key, allowed: allowed, where: isAllowed) ?? fallback
    }

    /// An array of one kind of element. Duplicates are refused: they would
    /// give two points the same id, and resume could not tell them apart.
    mutating func list<Element: Hashable>(
        _ value: SpecValue?, key: String, default fallback: [Element]?, allowEmpty: Bool = false,
        element: (inout SpecReader, SpecValue, String) -> Element?
    ) -> [Element] {
        guard let value else {
            if let fallback { return fallback }
            fail(key, "missing")
            return []
        }
        guard case .array(let items) = value else {
            fail(key, "expected an array, got \(value.typeName)")
            return fallback ?? []
        }
        if items.isEmpty && !allowEmpty {
            fail(key, "must not be empty")
            return fallback ?? []
        }
        var result: [Element] = []
        for (index, item) in items.enumerated() {
            guard let parsed = element(&self, item, "\(key)[\(index)]") else { continue }
            if result.contains(parsed) {
                fail("\(key)[\(index)]", "duplicate value \(describe(parsed))")
                continue
            }
            result.append(parsed)
        }
        return result
    }

    mutating func rejectUnknownKeys(_ table: Table, prefix: String, allowed: [String]) {
        for (key, _) in table.entries where !allowed.contains(key) {
            fail(prefix + key, "unknown key; allowed: \(allowed.joined(separator: ", "))")
        }
    }
}

/// Key lookup over a table's sorted entries.
private struct SpecTable {
    var entries: [(key: String, value: SpecValue)]

    subscript(key: String) -> SpecValue? {
        entries.first { $0.key == key }?.value
    }
}

/// `cpus:0,2,4`, `cpus:0-3`: only the shape is checked here; the engine
/// checks the CPUs against the machine when it starts.
private func isCPUList(_ text: String) -> Bool {
    guard text.hasPrefix("cpus:") else { return false }
    let list = text.dropFirst("cpus:".count)
    return !list.isEmpty && list.split(separator: ",", omittingEmptySubsequences: false).allSatisfy { part in
        let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
        return (1...2).contains(bounds.count) && bounds.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
    }
}

private func describe<Element>(_ value: Element) -> String {
    switch value {
    case let text as String: "\"\(text)\""
    case let number as Double: formatNumber(number)
    case let entry as MixEntry: "path \"\(entry.path)\""
    default: "\(value)"
    }
}
