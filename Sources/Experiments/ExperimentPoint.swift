/// One combination of the matrix: what a single measurement runs.
public struct ExperimentPoint: Sendable, Hashable {
    public var engine: String
    /// Whether `engine` names a `[[reference]]` server rather than one of ours.
    public var isReference: Bool
    /// nil where the dimension does not apply (an engine without a thread
    /// pool, a reference server whose command has no `{threads}`).
    public var threads: Int?
    /// nil for reference servers: they are placed by their own configuration.
    public var pin: String?
    /// nil for engines without an accept policy (not a reactor, or a reference).
    public var accept: String?
    public var connections: Int
    public var pipeline: Int
    /// Open-loop requests/s; nil for a closed loop.
    public var rate: Double?
    /// Extra engine flags of this variant (`matrix.flags`); empty when there
    /// are none or they do not apply (reference servers).
    public var flags: [ServerFlag] = []
    /// Open loop: `HOT:SHARE`, a few connections sending most requests
    /// (`matrix.skew`); nil: every connection alike.
    public var skew: String? = nil

    /// The key of this point in results.csv, built from the parameters in a
    /// fixed order with `-` for "does not apply", e.g.
    /// `engine=epoll,threads=2,pin=compact,accept=reuseport,connections=64,pipeline=1,rate=closed`.
    /// A variant with flags ends in `,flags=key=value;key=value`; without
    /// flags the id has no such part, so specs without `matrix.flags` keep
    /// the same ids.
    /// Stable across runs of the same spec, which is what resume relies on.
    /// Treat it as an opaque key: a `cpus:0,2` pin contains a comma, so read
    /// the parameters from their own CSV columns instead of splitting it.
    public var id: String {
        "engine=\(engine),threads=\(threadsText),pin=\(pinText),accept=\(acceptText)"
            + ",connections=\(connections),pipeline=\(pipeline),rate=\(rateText)"
            + (flags.isEmpty ? "" : ",flags=\(flagsText)")
            + (skew.map { ",skew=\($0)" } ?? "")
    }

    /// Column texts, shared by the id and the CSV row.
    public var threadsText: String { threads.map(String.init) ?? "-" }
    public var pinText: String { pin ?? "-" }
    public var acceptText: String { accept ?? "-" }
    public var rateText: String { rate.map(formatNumber) ?? "closed" }
    /// `key=value;key=value`, or empty.
    public var flagsText: String { flags.text }
}

/// One measurement in the run order: a point and which repetition of it.
public struct ScheduledRun: Sendable, Hashable {
    public var point: ExperimentPoint
    /// 1-based.
    public var repetition: Int
}

extension ExperimentSpec {
    /// Every distinct point of the matrix.
    ///
    /// The engine is the innermost loop, so within a repetition the engines
    /// being compared run back to back on the same parameters and see the
    /// same machine state (thermal, background load). Dimensions that do not
    /// apply to an engine collapse to `-`; the duplicates this produces are
    /// dropped, keeping the first occurrence.
    public var points: [ExperimentPoint] {
        var result: [ExperimentPoint] = []
        var seen = Set<String>()
        let rates: [Double?] = matrix.rate.isEmpty ? [nil] : matrix.rate.map { $0 }
        for threads in matrix.threads {
            for pin in matrix.pin {
                for accept in matrix.accept {
                    for connections in matrix.connections {
                        for pipeline in matrix.pipeline {
                            for rate in rates {
                                for flags in matrix.flags {
                                    for skew in matrix.skew {
                                        for engine in matrix.engines {
                                            var point = makePoint(
                                                engine: engine, threads: threads, pin: pin, accept: accept,
                                                connections: connections, pipeline: pipeline, rate: rate, flags: flags)
                                            point.skew = skew == "none" ? nil : skew
                                            if seen.insert(point.id).inserted { result.append(point) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return result
    }

    /// Interleaved repetitions: all points once, then all points again, so
    /// slow drift over the sweep spreads evenly over every point instead of
    /// landing on whichever ran last (A B A B, not A A B B).
    public var runOrder: [ScheduledRun] {
        let points = self.points
        return (1...max(repetitions, 1)).flatMap { repetition in
            points.map { ScheduledRun(point: $0, repetition: repetition) }
        }
    }

    /// The reference server of that name, if `engine` is one.
    public func reference(named engine: String) -> ReferenceServer? {
        references.first { $0.name == engine }
    }

    private func makePoint(
        engine: String, threads: Int, pin: String, accept: String, connections: Int, pipeline: Int, rate: Double?,
        flags: [ServerFlag]
    ) -> ExperimentPoint {
        if let reference = reference(named: engine) {
            return ExperimentPoint(
                engine: engine, isReference: true, threads: reference.takesThreads ? threads : nil,
                pin: nil, accept: nil, connections: connections, pipeline: pipeline, rate: rate)
        }
        return ExperimentPoint(
            engine: engine, isReference: false, threads: threadPoolEngines.contains(engine) ? threads : nil, pin: pin,
            accept: reactorEngines.contains(engine) ? accept : nil,
            connections: connections, pipeline: pipeline, rate: rate,
            flags: flags.filter { ExperimentSpec.flag($0.key, appliesTo: engine) })
    }

    /// Flags that belong to one engine, by prefix: `uring-...` (and its
    /// `no-uring-...` inversions) mean something to io_uring only, so other
    /// engines' variants collapse to the flag-less one instead of repeating.
    public static let engineFlagPrefixes: [(prefix: String, engine: String)] = [("uring-", "io_uring")]

    public static func flag(_ key: String, appliesTo engine: String) -> Bool {
        let bare = key.hasPrefix("no-") ? String(key.dropFirst(3)) : key
        guard let owner = engineFlagPrefixes.first(where: { bare.hasPrefix($0.prefix) }) else { return true }
        return owner.engine == engine
    }
}

extension [ServerFlag] {
    /// `key=value;key=value`: a flag set as point ids and the `flags` column write it.
    public var text: String { map(\.text).joined(separator: ";") }
}
