/// Which measurements of a run order still need doing.
///
/// A (point id, repetition) pair with an `ok` row of this experiment is done
/// and skipped; a `failed` row does not count, so failures are retried on the
/// next run (the failed row stays in the file as a record of what happened).
public struct ResumePlan: Sendable, Equatable {
    /// Still to measure, in run order.
    public var pending: [ScheduledRun]
    /// Already measured with status ok.
    public var done: [ScheduledRun]

    /// - Parameter fresh: measure everything again, whatever the file holds
    ///   (the runner should then `ResultsCSV.setAside` the old file).
    public init(order: [ScheduledRun], existing: [ResultRow], experiment: String, fresh: Bool) {
        guard !fresh else {
            pending = order
            done = []
            return
        }
        struct Key: Hashable {
            var pointID: String
            var repetition: Int
        }
        let finished = Set(existing.lazy.filter { $0.status == .ok && $0.experiment == experiment }
            .map { Key(pointID: $0.pointID, repetition: $0.repetition) })
        pending = []
        done = []
        for run in order {
            if finished.contains(Key(pointID: run.point.id, repetition: run.repetition)) {
                done.append(run)
            } else {
                pending.append(run)
            }
        }
    }
}
