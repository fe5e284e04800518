import Metrics

/// An engine's countable events (system calls by kind, io_uring conditions):
/// an enum whose cases, in order, are its counters. The name in `/metrics`
/// is the case's name in snake case (`epollWait` is `epoll_wait`); what each
/// means is documented in the engine's README.
public protocol LoopEvent: CaseIterable, RawRepresentable where RawValue == Int {}

/// One loop's counters of its engine's events.
///
/// Ownership: only the loop thread counts (an owner-only add, no locked
/// instruction); `/metrics` reads them through `counters`.
public struct LoopEvents<Event: LoopEvent> {
    public let counters: EventCounters

    /// `help` is the engine's one line for the metric family.
    public init(loop index: Int, help: String) {
        counters = EventCounters(worker: "loop-\(index)",
                                 events: Event.allCases.map { EventCounters.Event(Self.metricName($0), help) })
    }

    @inlinable @inline(__always)
    public func count(_ event: Event, _ value: UInt64 = 1) { counters.add(event.rawValue, value) }

    /// `ioUringEnter` → `io_uring_enter`.
    static func metricName(_ event: Event) -> String {
        var name = ""
        for character in String(describing: event) {
            if character.isUppercase {
                name += "_" + character.lowercased()
            } else {
                name.append(character)
            }
        }
        return name
    }
}
