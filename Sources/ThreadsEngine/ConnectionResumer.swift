import EngineCore
import Glibc
import LoopRuntime
import Synchronization

/// The thread-per-connection engine's `Resumer`: one per connection, made
/// when it starts. A late answer (from any thread) is queued here and the
/// connection's thread, which blocks while its session says `.wait`, is
/// woken through an eventfd made on the first deferral (most connections
/// never defer, and then cost no descriptor).
///
/// Ownership: `resume` from any thread; `next(waitingAtMost:)` and `deinit`
/// from the connection's thread (the pending responses that still hold this
/// object only queue into it, and the descriptor is closed by the last owner).
final class ConnectionResumer: Resumer, @unchecked Sendable {
    // @unchecked Sendable: the queue and the descriptor are under `state`.
    private struct State {
        var answers: [any LateAnswer] = []
        var wakeFD: Int32 = -1

        mutating func descriptor() -> Int32 {
            if wakeFD < 0 { wakeFD = EventFD.make() }
            return wakeFD
        }
    }
    private let state = Mutex(State())

    deinit {
        state.withLock { if $0.wakeFD >= 0 { close($0.wakeFD) } }
    }

    func resume(_ answer: any LateAnswer) {
        state.withLock {
            $0.answers.append(answer)
            EventFD.signal($0.descriptor())
        }
    }

    /// The connection's thread: the next late answer, waiting for one at
    /// most `milliseconds`; nil when none came in time.
    func next(waitingAtMost milliseconds: Int) -> (any LateAnswer)? {
        let fd = state.withLock { state -> Int32 in state.descriptor() }
        if let answer = state.withLock({ $0.answers.isEmpty ? nil : $0.answers.removeFirst() }) { return answer }
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&entry, 1, Int32(clamping: milliseconds))
        if ready > 0 { EventFD.drain(fd) }
        return state.withLock { $0.answers.isEmpty ? nil : $0.answers.removeFirst() }
    }
}
