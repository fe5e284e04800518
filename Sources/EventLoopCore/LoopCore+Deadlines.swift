import CSystem
import EngineCore
import Glibc
import HTTP1
import LoopRuntime
import Metrics

/// One deadline per connection (`DeadlinePolicy`) on the loop's timer
/// wheel, the deferred release of idle connections' buffers, and what a
/// passed deadline means.
extension LoopCore {
    // MARK: deadlines

    /// One deadline per connection, chosen by what it waits for. `sending`:
    /// output is waiting for the socket to take it (epoll: EPOLLOUT armed;
    /// io_uring: a send in flight that has not completed).
    public func armDeadline(_ slot: Int, sending: Bool) {
        // safety: the table keeps the record alive past this call.
        unowned(unsafe) let connection = connections[slot]
        // A guaranteed reference: the session was retained around `isIdle`.
        if defersIdleRelease && !sending && Unmanaged.passUnretained(connection.session).guaranteed({ $0.isIdle }) {
            // Keep the buffers for now: a connection busy enough to send its
            // next request within a turn would take them straight back.
            if connection.releaseTurn != turn {
                if connection.releaseTurn == LoopClock.noTurn { idleCandidates.append(slot) }
                connection.releaseTurn = turn
                candidatesOfThisTurn += 1
            }
            connection.requestStartedAt = -1
            // Not through `deadline(for:)`: passing the unowned record to it
            // costs a retain and release per request (measured).
            wheel.arm(slot, atTick: idleDeadlineTick(draining: connection.session.isDraining))
            return
        }
        // A guaranteed reference: passing the record retained it.
        let due = Unmanaged.passUnretained(connection).guaranteed { deadline(for: $0, sending: sending, now: now) }
        wheel.arm(slot, at: due)
    }

    /// The wheel tick of `idleDeadline` at the loop's `now`, computed once
    /// per millisecond of loop clock (a busy loop answers many requests in
    /// one): a keep-alive connection going idle is re-armed with a compare.
    /// A reload's new timeout is used from the next millisecond.
    @inline(__always)
    func idleDeadlineTick(draining: Bool) -> Int {
        if draining { return wheel.tick(for: idleDeadline(draining: true, now: now)) }
        if now != idleTickAt {
            idleTickAt = now
            idleTick = wheel.tick(for: idleDeadline(draining: false, now: now))
        }
        return idleTick
    }

    /// When an idle connection is closed (`DeadlinePolicy`), reading
    /// only the one timeout it needs.
    @inline(__always)
    func idleDeadline(draining: Bool, now: Int) -> Int {
        let idle = DeadlinePolicy.Waiting.idle(draining: draining)
        return DeadlinePolicy.deadline(idle, now: now, timeout: liveTimeout(idle.timeout))
    }

    /// Gives back the buffers of connections that went idle in an earlier
    /// turn and stayed idle through this one (`defersIdleRelease`). Called
    /// as a turn's work ends, so an idle keep-alive connection holds no
    /// buffer for longer than the rest of its turn and one more (a quiet
    /// loop wakes after 10 ms for that turn), and one that
    /// sends its next request within that time keeps its buffers, saving the
    /// pool round trip (six takes and gives, the parser state's reset).
    func releaseIdleCandidates() {
        var kept = 0
        var i = 0
        while i < idleCandidates.count {
            let slot = idleCandidates[i]
            i += 1
            let connection = connections[slot]
            if connection.isOpen && connection.session.isIdle {
                if connection.releaseTurn == turn {  // went idle in this turn: one more
                    idleCandidates[kept] = slot
                    kept += 1
                    continue
                }
                connection.session.releaseIdleBuffers()
            }
            connection.releaseTurn = LoopClock.noTurn
        }
        idleCandidates.removeLast(idleCandidates.count - kept)
    }

    /// The deadline `armDeadline` would arm, without touching the wheel, so
    /// that a thread other than the loop's (a work-stealing thief running the
    /// connection) can compute it with its own clock. It may give an idle
    /// session's buffers back (to the pool the session is bound to); call it
    /// only from the thread that runs the connection now.
    public func deadline(for connection: LoopConnection, sending: Bool, now: Int) -> Int {
        let session = connection.session
        let waiting: DeadlinePolicy.Waiting
        if sending {
            waiting = .sending
        } else {
            switch session.waitingFor {
            case .idle:
                connection.requestStartedAt = -1
                // Waiting for the next request needs no buffer: lend them to busy connections.
                session.releaseIdleBuffers()
                waiting = .idle(draining: session.isDraining)
            case .response:
                waiting = .response
            case .body:
                waiting = .body
            case .head:
                let completed = session.requestsCompleted
                connection.requestStartedAt = DeadlinePolicy.headStart(
                    startedAt: connection.requestStartedAt, requestsSeen: connection.requestsSeen, requestsCompleted: completed, now: now)
                connection.requestsSeen = completed
                waiting = .head(startedAt: connection.requestStartedAt)
            }
        }
        return DeadlinePolicy.deadline(waiting, now: now, timeout: liveTimeout(waiting.timeout))
    }

    /// One live timeout, as the last reload set it (one relaxed load).
    @inline(__always)
    func liveTimeout(_ timeout: DeadlinePolicy.Timeout) -> Int {
        switch timeout {
        case .head: headTimeoutMS.load(ordering: .relaxed)
        case .body: bodyTimeoutMS.load(ordering: .relaxed)
        case .keepAlive: keepAliveTimeoutMS.load(ordering: .relaxed)
        case .send: sendTimeoutMS.load(ordering: .relaxed)
        case .drainIdleGrace: drainIdleGraceMS.load(ordering: .relaxed)
        case .response: responseTimeoutMS.load(ordering: .relaxed)
        }
    }

    /// How finely the timer wheel fires (ms): a deadline is at most this late.
    public var timerTickMilliseconds: Int { wheel.tickMilliseconds }

    /// Arms `slot`'s timer at `deadline` (ms on the loop clock). Loop thread only.
    public func arm(_ slot: Int, at deadline: Int) {
        wheel.arm(slot, at: deadline)
    }

    /// Advances the wheel to `now` and calls `body` for each slot whose
    /// deadline passed (disarmed first, so `body` may re-arm it).
    public func expireDeadlines(_ body: (Int) -> Void) {
        // Within the wheel's current tick nothing is due: no walk, and the
        // list of expired slots is not touched (about 110 instructions a turn).
        guard wheel.mayExpire(at: now) else { return }
        wheel.advance(to: now, collectingInto: &expired)
        for slot in expired { body(slot) }
        expired.removeAll(keepingCapacity: true)
    }

    /// What a passed deadline means for a connection.
    public enum Expiry {
        /// Send timeout or idle keep-alive: close without a word.
        case close
        /// The client went quiet mid-request (the session has queued 408),
        /// or a deferred response is overdue (504); either then closes:
        /// drive it so the answer goes out.
        case answer
    }

    /// Decides what the deadline that passed for `slot` means; nil if the
    /// slot is free. For `.answer` the session has already queued its 408.
    public func expiry(of slot: Int, sending: Bool) -> Expiry? {
        let connection = connections[slot]
        guard connection.fd >= 0 else { return nil }
        if sending || connection.session.isIdle { return .close }
        connection.session.deadlinePassed()
        return .answer
    }
}
