import EngineCore
import LoopRuntime

/// Decides when a loop is overloaded from its queueing delay, CoDel style
/// (RFC 8289; the request-queue variant of Facebook's "Fail at Scale"):
/// a delay above the target is a burst until it has lasted a whole
/// interval, then a standing queue. The loop stays overloaded until the
/// delay has stayed at or below the target for a whole interval.
///
/// The delay it watches is, at the end of each turn, how long the oldest
/// request the turn served may have waited by then (`TurnClock`).
///
/// While overloaded, a request is shed once it has waited longer than its
/// class's bound: the target for the low class, the normal target for the
/// normal class, never for critical (`OverloadGate.sheds`). A turn then
/// serves low requests until the target has passed and answers the rest
/// with a cheap 503, instead of letting every class's delay grow without
/// bound.
///
/// Pure logic over the loop's clock (µs), so tests drive it with numbers.
/// Ownership: the loop thread.
public struct OverloadController: Sendable {
    public let settings: OverloadSettings
    public private(set) var overloaded = false
    /// When the delay went above the target (continuously since); -1: it is not.
    private var aboveSince = -1
    /// When the delay went back to the target or below, while overloaded; -1: it has not.
    private var belowSince = -1

    public init(settings: OverloadSettings) {
        self.settings = settings
    }

    /// Takes one turn's queueing delay; returns true when this turn began an
    /// overload episode.
    public mutating func observe(queueDelay: Int, at now: Int) -> Bool {
        guard settings.enabled else { return false }
        if queueDelay > settings.targetMicros {
            belowSince = -1
            if aboveSince < 0 { aboveSince = now }
            if !overloaded && now - aboveSince >= settings.intervalMicros {
                overloaded = true
                return true
            }
        } else {
            aboveSince = -1
            if overloaded {
                if belowSince < 0 { belowSince = now }
                if now - belowSince >= settings.intervalMicros {
                    overloaded = false
                    belowSince = -1
                }
            }
        }
        return false
    }
}
