import CSystem
import EngineCore
import Glibc
import HTTP1
import LoopRuntime
import Metrics

/// The graceful stop: no new connections, every open one told to close
/// after its next response, idle ones given a short grace.
extension LoopCore {
    /// True when the loop should end: draining, and nothing left or out of time.
    public var isFinished: Bool { draining && (open == 0 || now >= drainDeadline) }

    // MARK: stopping

    /// Stop accepting (the engine closes its listener); every connection is
    /// told to drain (its next response says `Connection: close`).
    ///
    /// Idle connections are not closed here: a client's next request may be
    /// in the socket's receive buffer already (its readiness not yet seen) or
    /// on the wire, and closing would reset it unanswered. Instead each idle
    /// slot (`isIdle`: nothing being sent) gets `drainIdleGrace` before its
    /// timer closes it, through `armIdle` (default: this core's wheel); a
    /// request that arrives meanwhile is answered with `Connection: close`.
    ///
    /// `claim` lets an engine whose connections other threads may be running
    /// (work stealing) take each one first; a slot it cannot claim is
    /// skipped, and the thread running it sees the drain itself. `unclaim`
    /// hands back every claimed slot.
    public func beginDrain(isIdle: (Int) -> Bool, armIdle: ((Int, Int) -> Void)? = nil,
                           claim: (Int) -> Bool = { _ in true }, unclaim: (Int) -> Void = { _ in }) {
        draining = true
        drainDeadline = now + drainTimeoutMS.load(ordering: .relaxed)
        let graceEnds = now + drainIdleGrace
        for slot in 0..<connections.count where connections[slot].fd >= 0 {
            guard claim(slot) else { continue }
            let connection = connections[slot]
            connection.session.beginDraining()
            if connection.session.isIdle && isIdle(slot) {
                if let armIdle { armIdle(slot, graceEnds) } else { wheel.arm(slot, at: graceEnds) }
            }
            unclaim(slot)
        }
    }

    /// Slots still open (for the forced close at the end of a drain).
    public var openSlots: [Int] { (0..<connections.count).filter { connections[$0].fd >= 0 } }
}
