import CSystem
import EngineCore
import Glibc
import HTTP1
import LoopRuntime
import Metrics
import Synchronization

/// What other threads hand a loop (accepted sockets, late answers, a stop),
/// and what the loop does with them when its wake-up descriptor fires.
extension LoopCore {
    // MARK: other threads

    /// Acceptor thread: hands over an accepted, non-blocking socket.
    public func enqueue(_ fd: Int32) {
        waitingInInbox.add(1, ordering: .relaxed)
        inbox.withLock { $0.append(fd) }
        EventFD.signal(wakeFD)
    }

    /// Any thread: connections open here plus those handed over and not yet
    /// taken in, what the acceptor's load-aware choices compare.
    public var load: Int { openCount.load(ordering: .relaxed) + waitingInInbox.load(ordering: .relaxed) }

    /// Any thread: budget was freed; a paused loop may accept again.
    public func wakeIfPaused() {
        if isPaused.load(ordering: .sequentiallyConsistent) { EventFD.signal(wakeFD) }
    }

    /// Any thread: a late answer for one of this loop's connections; the
    /// loop applies it when it wakes (`wokenUp`), or drops it if the slot's
    /// connection is no longer the one it was for.
    public func resume(_ answer: any LateAnswer) {
        resumes.withLock { $0.append(answer) }
        resumesWaiting.add(1, ordering: .releasing)
        EventFD.signal(wakeFD)
    }

    /// Any thread: begin the graceful stop.
    /// The slot of the connection a late answer is for, if that connection
    /// is still open there; else nil, and the answer is counted as stale.
    public func liveSlot(of late: any LateAnswer) -> Int? {
        let tag = SlotTag(raw: late.connection)
        guard tag.slot < connections.count, connections[tag.slot].isOpen,
              tag.matches(generation: connections[tag.slot].generation) else {
            counters.recordStaleResume()
            return nil
        }
        return tag.slot
    }

    public func requestStop() {
        stopRequested.store(true, ordering: .releasing)
        EventFD.signal(wakeFD)
    }

    /// `wakeFD` fired (the engine has consumed its count): returns the
    /// sockets an acceptor handed over, already admitted or refused, by
    /// calling `adopt` for each admitted slot; starts the drain if a stop was
    /// requested. Returns true when a stop began.
    ///
    /// Late answers (`resume`) are checked against their slot's connection
    /// (a stale one is dropped) and handed to `answer` with the slot, which
    /// applies it (`ConnectionMachine.answer`) and drives the connection.
    public func wokenUp(adopt: (Int) -> Void, answer: (Int, any LateAnswer) -> Void) -> Bool {
        if resumesWaiting.load(ordering: .acquiring) > 0 {
            resumes.withLock { swap(&$0, &resumesTaken) }
            resumesWaiting.subtract(resumesTaken.count, ordering: .relaxed)
            var i = 0
            while i < resumesTaken.count {
                let late = resumesTaken[i]
                i += 1
                if let slot = liveSlot(of: late) { answer(slot, late) }
            }
            resumesTaken.removeAll(keepingCapacity: true)
        }
        // Most wake-ups carry no hand-off (a stop, budget, a scheduler's
        // nudge): look first, so they copy and allocate nothing.
        // An index loop, not for-in: in unoptimized builds the iterator's
        // type metadata is made (allocated) the first time a loop is woken.
        if !inbox.withLock({ $0.isEmpty }) {
            let arrived = inbox.withLock { fds -> [Int32] in
                let taken = fds
                fds.removeAll(keepingCapacity: true)
                return taken
            }
            var i = 0
            while i < arrived.count {
                if let slot = admit(arrived[i]) { adopt(slot) }
                // One at a time, after its admission: the acceptor never
                // sees this loop emptier than it is.
                waitingInInbox.subtract(1, ordering: .relaxed)
                i += 1
            }
        }
        return stopRequested.load(ordering: .acquiring) && !draining
    }
}
