import CSystem
import EngineCore
import EventLoopCore
import Glibc
import HTTP1
import LoopRuntime

/// A worker's connections: admitting them (home), driving them (whoever
/// runs the task), and the hand-backs that keep slot, timer and release with
/// the home.
extension Worker {
    // MARK: admitting (home)

    /// A connection the core admitted: make its record ready and put its
    /// socket in this worker's readiness set (the shared one by default),
    /// where any worker may take it.
    func watch(_ slot: Int) {
        while tasks.count <= slot {
            tasks.append(ConnectionTask(home: self, slot: tasks.count, connection: core.connections[tasks.count]))
        }
        let task = tasks[slot]
        task.fd = task.connection.fd
        task.readable = false
        task.hungUp = false
        task.wantsWrite = false
        task.generation.wrappingAdd(1, ordering: .relaxed)
        let deadline = core.admissionDeadline  // as the core armed it
        task.deadline.store(deadline, ordering: .relaxed)
        task.armedAt.store(deadline, ordering: .relaxed)
        task.connection.session.rebind(to: core.loop)
        task.state.store(ConnectionTask.idle, ordering: .releasing)  // publishes the fields above
        Epoll.add(readiness, task.fd, events: Epoll.readable | Epoll.peerHangUp | Epoll.edgeTriggered, tag: task.tag)
        count(.epollCtl)
    }

    // MARK: driving (the runner)

    /// Runs the session until it must wait; false if the connection closed.
    func drive(_ task: ConnectionTask) -> Bool {
        let draining = pool.draining.load(ordering: .relaxed)
        let fd = task.fd, hungUp = task.hungUp
        var readable = task.readable
        // A guaranteed reference to the session: a strong one was retained.
        let wait = Unmanaged.passUnretained(task.connection.session).guaranteed { session in
            if draining { session.beginDraining() }
            return driveReadiness(session, fd: fd, readable: &readable, hungUp: hungUp, events: syscalls)
        }
        task.readable = readable
        switch wait {
        case .write:
            if !task.wantsWrite {
                task.wantsWrite = true
                Epoll.modify(task.home.readiness, task.fd,
                             events: Epoll.readable | Epoll.writable | Epoll.peerHangUp | Epoll.edgeTriggered, tag: task.tag)
                count(.epollCtl)
            }
            wantDeadline(task, sending: true)
            return true
        case .read:
            if task.wantsWrite {
                task.wantsWrite = false
                Epoll.modify(task.home.readiness, task.fd, events: Epoll.readable | Epoll.peerHangUp | Epoll.edgeTriggered, tag: task.tag)
                count(.epollCtl)
            }
            wantDeadline(task, sending: false)
            return true
        case .close:
            closeTask(task)
            return false
        case .wait:
            // A response comes later: the home applies it (`answer`).
            // Readiness seen meanwhile stays in `task.readable`.
            wantDeadline(task, sending: false)
            return true
        }
    }

    // MARK: late answers (home)

    /// A late answer for `slot` (the core checked its tag): the home claims
    /// the connection, applies the answer and drives it. A connection that
    /// is queued or running elsewhere cannot be claimed: the answer is
    /// retried at the home's next housekeeping.
    func answer(_ slot: Int, _ late: any LateAnswer) {
        let task = tasks[slot]
        guard task.claim() else {
            answersToRetry.append(late)
            return
        }
        task.connection.session.rebind(to: core.loop)
        if task.connection.session.answer(late) {
            if drive(task), task.finish() { requeue(task) }
        } else if task.finish() {
            requeue(task)
        }
    }

    /// Answers that found their connection busy, tried again (each still
    /// checked against its slot's current connection).
    func retryAnswers() {
        var retry: [any LateAnswer] = []
        swap(&retry, &answersToRetry)
        for late in retry {
            if let slot = core.liveSlot(of: late) { answer(slot, late) }
        }
    }

    /// The deadline for what the connection waits for now. The home arms
    /// its own wheel; a thief only records it (the home re-checks when the
    /// timer it has fires) unless it is earlier than what the home armed.
    private func wantDeadline(_ task: ConnectionTask, sending: Bool) {
        unowned(unsafe) let home = task.home
        // A guaranteed reference: passing the record retained it.
        let deadline = Unmanaged.passUnretained(task.connection).guaranteed {
            home.core.deadline(for: $0, sending: sending, now: core.now)
        }
        task.deadline.store(deadline, ordering: .relaxed)
        if home === self {
            arm(task, at: deadline)
        } else if deadline + core.timerTickMilliseconds < task.armedAt.load(ordering: .relaxed) {
            // Earlier by more than the wheel's resolution: the home must
            // re-arm. (A thief's clock may trail the home's by the length of
            // the task it just ran; within one tick that is no reason to.)
            home.post(Message(kind: .rearm, tag: task.tag))
        }
    }

    /// Home: arms the wheel for `task` and records where, for thieves to compare.
    private func arm(_ task: ConnectionTask, at deadline: Int) {
        core.arm(task.slot, at: deadline)
        task.armedAt.store(deadline, ordering: .relaxed)
    }

    /// The runner closes the socket. The home frees the slot: at once if
    /// that is this worker, else through its mailbox (after the session has
    /// given this worker's buffers back and is bound to the home again).
    func closeTask(_ task: ConnectionTask) {
        close(task.fd)  // also leaves the readiness set
        count(.close)
        if task.home === self {
            releaseOwn(task)
            return
        }
        let session = task.connection.session
        session.reset()
        session.rebind(to: task.home.core.loop)
        task.state.store(ConnectionTask.closed, ordering: .releasing)
        task.home.post(Message(kind: .closed, tag: task.tag))
    }

    /// Home: the slot is free for the next connection.
    private func releaseOwn(_ task: ConnectionTask) {
        task.state.store(ConnectionTask.free, ordering: .releasing)
        if core.release(task.slot) { resumeListener() }
    }

    // MARK: the mailbox (any thread posts, the home reads)

    func post(_ message: Message) {
        mailbox.withLock { $0.append(message) }
        hasMail.store(true, ordering: .releasing)
        EventFD.signal(core.wakeFD)
    }

    /// Home: releases slots thieves closed and arms deadlines they moved earlier.
    func deliverMail() {
        guard hasMail.load(ordering: .acquiring), hasMail.exchange(false, ordering: .acquiringAndReleasing) else { return }
        mailbox.withLock { swap(&$0, &delivered) }
        var index = 0
        while index < delivered.count {  // not for-in: its iterator allocates in unoptimized builds
            let message = delivered[index]
            index += 1
            count(.mailbox)
            let task = ConnectionTask.from(tag: message.tag)
            switch message.kind {
            case .closed:
                if task.state.load(ordering: .acquiring) == ConnectionTask.closed { releaseOwn(task) }
            case .rearm:
                let state = task.state.load(ordering: .acquiring) & ConnectionTask.stateMask
                guard state != ConnectionTask.free, state != ConnectionTask.closed, task.matches(message.tag) else { continue }
                arm(task, at: task.deadline.load(ordering: .relaxed))
            }
        }
        delivered.removeAll(keepingCapacity: true)
    }

    // MARK: timers (home)

    /// The wheel fired for `slot`: the deadline a thief recorded may be
    /// later (re-arm); a connection queued or running elsewhere is looked
    /// at again next tick; otherwise the home claims it and applies the
    /// core's expiry (close, or 408 then close).
    func expire(_ slot: Int) {
        let task = tasks[slot]
        let state = task.state.load(ordering: .acquiring) & ConnectionTask.stateMask
        if state == ConnectionTask.free || state == ConnectionTask.closed { return }  // a closed one is in the mailbox
        let deadline = task.deadline.load(ordering: .relaxed)
        if deadline > core.now {
            arm(task, at: deadline)
            return
        }
        guard task.claim() else {
            arm(task, at: core.now + core.timerTickMilliseconds)
            return
        }
        task.connection.session.rebind(to: core.loop)
        switch core.expiry(of: slot, sending: task.wantsWrite) {
        case .close?:
            closeTask(task)
        case .answer?:
            task.readable = false  // the 408 goes out; nothing more is read
            if drive(task), task.finish() { requeue(task) }
        case nil:
            break
        }
    }

    // MARK: stopping

    /// Stop accepting; idle connections this worker can claim get the drain
    /// grace for one last request; the rest learn of the drain from
    /// `pool.draining` when next run.
    func beginDrain() {
        pool.draining.store(true, ordering: .releasing)
        listenFD = core.closeListener(listenFD: listenFD, epfd: waitSet) { watch($0) }
        core.beginDrain(
            isIdle: { !tasks[$0].wantsWrite },
            armIdle: { [self] slot, deadline in
                tasks[slot].deadline.store(deadline, ordering: .relaxed)
                arm(tasks[slot], at: deadline)
            },
            claim: { slot in
                guard tasks[slot].claim() else { return false }
                tasks[slot].connection.session.rebind(to: core.loop)
                return true
            },
            unclaim: { slot in if tasks[slot].finish() { requeue(tasks[slot]) } })
    }

    /// Out of the main loop: once every worker is (so nobody runs a task),
    /// close what is still open, as the other engines do at the drain's end.
    func stopAfterEveryone() {
        pool.exitedCount.add(1, ordering: .sequentiallyConsistent)
        while pool.exitedCount.load(ordering: .sequentiallyConsistent) < pool.workerCount { usleep(1000) }
        deliverMail()
        for slot in core.openSlots {
            let task = tasks[slot]
            if task.state.load(ordering: .acquiring) != ConnectionTask.closed {
                close(task.fd)
                count(.close)
            }
            releaseOwn(task)
        }
        if listenFD >= 0 { close(listenFD); listenFD = -1 }
    }
}
