import CSystem
import EngineCore
import Glibc
import HTTP1
import LoopRuntime
import Metrics
import Synchronization

/// Everything an event loop does that does not depend on how it waits for
/// and issues I/O: the connection table with generation tags, the deadline
/// policy and its timer wheel, the connection budget and listener pause,
/// load shedding, hand-offs from an acceptor, and the graceful drain.
///
/// An engine's loop (epoll's `Reactor`, io_uring's `RingLoop`) owns one and
/// calls it at fixed points: `admit` for a new socket, `armDeadline` when a
/// connection waits, `expiry` for each slot the wheel hands back, `release`
/// after it has closed a socket, `beginDrain` when a stop is requested. The
/// core makes no I/O calls of its own except the rare synchronous ones it
/// owns outright (closing a refused socket, the shedding `writev`).
///
/// Ownership: the loop thread, except `enqueue`, `wakeIfPaused` and
/// `requestStop`, which any thread may call (they take a lock or use atomics,
/// then signal `wakeFD`).
public final class LoopCore: Resumer, @unchecked Sendable {
    // @unchecked Sendable: mutable state is confined to the loop thread except
    // `inbox`, `stopRequested`, `isPaused` and `openCount`, which are synchronized.
    public let index: Int
    public let configuration: EngineConfiguration
    let responder: any HTTPResponder
    public let counters: WorkerCounters
    /// Created by the loop thread itself once pinned (`begin`), so its pool,
    /// arena and date cache are first touched on the loop's CPU. Loop thread only.
    public private(set) var loop: LoopContext!
    /// Other threads write it to wake the loop; the engine waits on it
    /// (an epoll registration, a poll on the ring) and calls `wokenUp`.
    public let wakeFD: Int32
    /// The engine-wide cap (reuseport policy); nil with an acceptor, which
    /// enforces the cap before handing connections over.
    public let budget: ConnectionBudget?
    /// The per-address connection limit, shared by the engine's loops; nil when off.
    let addressLimiter: AddressLimiter?
    /// Returns one unit of the connection cap and wakes paused loops.
    let onClose: @Sendable () -> Void
    /// Set while this loop's listener is paused for lack of budget; other
    /// loops read it to decide whom to wake.
    let isPaused = Atomic(false)
    /// Open connections; written by the loop, read by the acceptor.
    public let openCount = Atomic(0)
    private let inbox = Mutex([Int32]())
    /// Late answers for this loop's connections (`resume`, any thread),
    /// taken by the loop when it wakes (`wokenUp`); `resumesTaken` is the
    /// loop's side of the swap, so neither allocates once grown.
    private let resumes = Mutex([any LateAnswer]())
    private var resumesTaken: [any LateAnswer] = []
    private let stopRequested = Atomic(false)

    public private(set) var connections: [LoopConnection] = []
    private var freeSlots: [Int] = []
    private let wheel: TimerWheel
    /// The loop's clock (ms) and turn at the top of the current turn: the
    /// loop context's one `LoopClock`, read once per turn (`tick`), copied
    /// here because the request path reads them (through the context each
    /// read retained and released it). Deadlines are counted from when an
    /// event arrived; 100 ms ticks need no finer clock.
    public private(set) var now = 0
    public private(set) var turn: UInt32 = 0
    /// Give idle connections' buffers back at the end of the turn after the
    /// one they went idle in, not at once (`releaseIdleCandidates`). Only an
    /// engine whose idle connections wait for readiness, with no operation
    /// that may write into the session's buffers, may set it (epoll).
    public var defersIdleRelease = false
    /// Slots waiting for `releaseIdleCandidates` (each once: `releaseTurn`).
    private var idleCandidates: [Int] = []
    /// How many of them went idle in the current turn.
    private var candidatesOfThisTurn = 0
    /// The turn's two clock reads: queueing delay, the overload controller,
    /// busy time and latency samples. Loop thread only.
    private var turns: TurnClock
    /// Reused every turn, so collecting expired timers allocates nothing.
    private var expired: [Int] = []
    public private(set) var open = 0
    public private(set) var listenerPaused = false
    /// When a listener paused for lack of descriptors tries again (ms); 0: not waiting.
    private var retryListenerAt = 0
    public private(set) var draining = false
    private var drainDeadline = 0
    // What a reload may change (`apply`), in milliseconds. Atomics because a
    // reload stores them from the signal thread and a work-stealing thief
    // reads them; relaxed loads are plain loads here.
    private let headTimeoutMS = Atomic(0)
    private let bodyTimeoutMS = Atomic(0)
    private let keepAliveTimeoutMS = Atomic(0)
    private let sendTimeoutMS = Atomic(0)
    private let responseTimeoutMS = Atomic(0)
    private let drainIdleGraceMS = Atomic(0)
    private let drainTimeoutMS = Atomic(0)
    private let readAheadLimitBytes = Atomic(0)
    private let shedAboveCount = Atomic(0)
    /// Request limits a reload set, taken by the loop at its next admit
    /// (the generation says when to look; the lock is taken only then).
    private let reloadedLimits: Mutex<HTTPLimits>
    private let limitsGeneration = Atomic(0)
    /// The limits new sessions get. Loop thread only.
    private var limits: HTTPLimits
    private var limitsGenerationSeen = 0

    public init(index: Int, configuration: EngineConfiguration, responder: any HTTPResponder,
                budget: ConnectionBudget?, addressLimiter: AddressLimiter? = nil,
                onClose: @escaping @Sendable () -> Void) throws(EngineError) {
        self.addressLimiter = addressLimiter
        self.index = index
        self.configuration = configuration
        self.responder = responder
        self.budget = budget
        self.onClose = onClose
        counters = WorkerCounters(name: "loop-\(index)")
        wakeFD = Epoll.makeEventFD()
        guard wakeFD >= 0 else { throw EngineError("cannot create an eventfd: \(errnoText())") }
        wheel = TimerWheel(now: monotonicMilliseconds())
        turns = TurnClock(settings: configuration.overload, now: monotonicMicroseconds())
        limits = configuration.limits
        reloadedLimits = Mutex(configuration.limits)
        apply(LiveSettings(configuration))
    }

    /// Any thread (a reload): new values for the next deadline armed, the
    /// next connection admitted, the next drain.
    public func apply(_ live: LiveSettings) {
        headTimeoutMS.store(Int(live.headTimeout * 1000), ordering: .relaxed)
        bodyTimeoutMS.store(Int(live.bodyTimeout * 1000), ordering: .relaxed)
        keepAliveTimeoutMS.store(Int(live.keepAliveTimeout * 1000), ordering: .relaxed)
        sendTimeoutMS.store(Int(live.sendTimeout * 1000), ordering: .relaxed)
        responseTimeoutMS.store(Int(live.responseTimeout * 1000), ordering: .relaxed)
        drainIdleGraceMS.store(Int(live.drainIdleGrace * 1000), ordering: .relaxed)
        drainTimeoutMS.store(Int(live.drainTimeout * 1000), ordering: .relaxed)
        readAheadLimitBytes.store(live.readAheadLimit, ordering: .relaxed)
        shedAboveCount.store(live.shedAbove, ordering: .relaxed)
        reloadedLimits.withLock { $0 = live.limits }
        limitsGeneration.add(1, ordering: .releasing)
    }

    /// The deadline `admit` arms for a new connection: the keep-alive
    /// timeout, or while draining the drain grace.
    public var admissionDeadline: Int { idleDeadline(draining: draining, now: now) }

    /// Milliseconds an idle connection may wait for its next request.
    public var keepAliveMilliseconds: Int { keepAliveTimeoutMS.load(ordering: .relaxed) }
    /// Milliseconds a send may go without progress.
    public var sendTimeoutMilliseconds: Int { sendTimeoutMS.load(ordering: .relaxed) }
    /// How long an idle connection stays open once the drain begins (ms).
    public var drainIdleGrace: Int { drainIdleGraceMS.load(ordering: .relaxed) }
    /// Buffered input beyond which a connection stops being read (bytes).
    public var readAheadLimit: Int { readAheadLimitBytes.load(ordering: .relaxed) }

    deinit {
        close(wakeFD)
    }

    // MARK: other threads

    /// Acceptor thread: hands over an accepted, non-blocking socket.
    public func enqueue(_ fd: Int32) {
        inbox.withLock { $0.append(fd) }
        Epoll.signal(wakeFD)
    }

    /// Any thread: budget was freed; a paused loop may accept again.
    public func wakeIfPaused() {
        if isPaused.load(ordering: .sequentiallyConsistent) { Epoll.signal(wakeFD) }
    }

    /// Any thread: a late answer for one of this loop's connections; the
    /// loop applies it when it wakes (`wokenUp`), or drops it if the slot's
    /// connection is no longer the one it was for.
    public func resume(_ answer: any LateAnswer) {
        resumes.withLock { $0.append(answer) }
        Epoll.signal(wakeFD)
    }

    /// Any thread: begin the graceful stop.
    public func requestStop() {
        stopRequested.store(true, ordering: .releasing)
        Epoll.signal(wakeFD)
    }

    // MARK: the loop's turn

    /// The loop thread's first call: pin, then make the per-thread memory.
    public func begin() {
        // Sessions and pooled buffers are created on this thread from here
        // on, so their memory is first touched on this CPU's node.
        configuration.pinCurrentThread(index: index)
        loop = LoopContext(counters: counters)
        var cpuClock = clockid_t()
        if pthread_getcpuclockid(pthread_self(), &cpuClock) == 0 { counters.setCPUClock(Int32(cpuClock)) }
        turns = TurnClock(settings: configuration.overload, now: loop.clock.micros)
        now = loop.clock.millis
    }

    /// The engine's wait or harvest returned as many ready events as it had
    /// room for: more are waiting in the kernel, unseen, so the queue-delay
    /// estimate keeps counting from the current turn's origin. Loop thread only.
    @inline(__always)
    public func noteFullBatch() { turns.fullBatch = true }

    /// How long the loop may sleep (ms, -1: until an event): until the next
    /// timer tick, and no longer than 50 ms while draining.
    /// The turn's work ends here (`TurnClock`).
    public func waitMilliseconds() -> Int32 {
        // Every candidate went idle in this turn: nothing is due yet.
        if idleCandidates.count != candidatesOfThisTurn { releaseIdleCandidates() }
        let clock = monotonicMicroseconds()
        // A guaranteed reference: passing the stored one into a mutating
        // call on `turns` retained and released it each turn.
        Unmanaged.passUnretained(loop).guaranteed { turns.willWait(at: clock, loop: $0) }
        var timeout = wheel.waitMilliseconds(now: clock / 1000)
        if draining { timeout = timeout < 0 ? 50 : min(timeout, 50) }
        // Idle connections still holding buffers: a quiet loop wakes within
        // 10 ms to give them back, rather than at the wheel's next tick.
        if !idleCandidates.isEmpty { timeout = timeout < 0 ? 10 : min(timeout, 10) }
        // An overloaded controller recovers only on turns: wake for them.
        if turns.controller.overloaded {
            let interval = Int32(max(1, turns.controller.settings.intervalMicros / 1000))
            timeout = timeout < 0 ? interval : min(timeout, interval)
        }
        if listenerPaused && retryListenerAt > 0 {
            let retry = Int32(max(1, retryListenerAt - now))
            timeout = timeout < 0 ? retry : min(timeout, retry)
        }
        return timeout
    }

    /// Reads the loop's clock; call once after each wait returns (or, in an
    /// engine that may run long without waiting, every so many tasks): a turn
    /// begins, with its queueing delay and shedding decision (`TurnClock`).
    @inline(__always)
    public func tick() {
        candidatesOfThisTurn = 0
        // A guaranteed reference: through the stored one each use was a retain.
        Unmanaged.passUnretained(loop).guaranteed { loop in
            let clock = loop.clock.beginTurn()
            now = clock / 1000
            turn = loop.clock.turn
            turns.tick(at: clock, loop: loop)
        }
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
        if !resumes.withLock({ $0.isEmpty }) {
            resumes.withLock { swap(&$0, &resumesTaken) }
            var i = 0
            while i < resumesTaken.count {
                let late = resumesTaken[i]
                i += 1
                let tag = SlotTag(raw: late.connection)
                guard tag.slot < connections.count else { continue }
                let connection = connections[tag.slot]
                guard connection.isOpen, tag.matches(generation: connection.generation) else {
                    counters.recordStaleResume()
                    continue
                }
                answer(tag.slot, late)
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
                i += 1
            }
        }
        return stopRequested.load(ordering: .acquiring) && !draining
    }

    /// True when the loop should end: draining, and nothing left or out of time.
    public var isFinished: Bool { draining && (open == 0 || now >= drainDeadline) }

    // MARK: accepting

    /// Takes one unit of the engine-wide budget before an accept.
    @inline(__always)
    public func takeBudget() -> Bool { budget?.tryAcquire() ?? true }

    /// Gives back a unit taken for an accept that brought no connection.
    public func returnBudget() { onClose() }

    /// Whether the budget has room now (after a pause, to resume).
    public var budgetHasRoom: Bool { budget?.hasRoom ?? true }

    /// The engine took its listener out of service: the budget is spent, or
    /// the process is out of descriptors (EMFILE/ENFILE), in which case it
    /// retries after 100 ms even if no connection of this loop closes.
    public func listenerDidPause(outOfDescriptors: Bool = false) {
        listenerPaused = true
        retryListenerAt = outOfDescriptors ? now + 100 : 0
        isPaused.store(true, ordering: .sequentiallyConsistent)
    }

    public func listenerDidResume() {
        listenerPaused = false
        retryListenerAt = 0
        isPaused.store(false, ordering: .sequentiallyConsistent)
    }

    /// The listener is paused and may come back (room in the budget, not
    /// draining, and past the retry time after running out of descriptors).
    /// Engines check it after closes, wake-ups and each turn.
    public var listenerMayResume: Bool { listenerPaused && !draining && now >= retryListenerAt && budgetHasRoom }

    /// Takes an accepted socket into the table: returns its slot, with the
    /// keep-alive deadline armed; nil if the socket was refused and closed
    /// (shed with 503). Its budget unit is then given back.
    ///
    /// A socket accepted while draining (an io_uring accept completing after
    /// its cancel, a hand-off from the acceptor) is admitted, not closed: its
    /// client may have sent a request already. It drains like the others:
    /// the drain grace on its timer, `Connection: close` on its response.
    ///
    /// `fd` is a descriptor, or for `directDescriptor` an index into the
    /// engine's registered file table (io_uring). Refusing a real
    /// descriptor is done here (a `writev` and a `close`); a direct one the
    /// engine must shed (503 with Retry-After, `shedResponse`) and close its
    /// own way, in `shed`. A direct descriptor gets TCP_NODELAY from the
    /// listener it was accepted on.
    public func admit(_ fd: Int32, directDescriptor: Bool = false, shed shedDirect: (Int32) -> Void = { _ in }) -> Int? {
        let shedAbove = shedAboveCount.load(ordering: .relaxed)
        if shedAbove > 0 && open >= shedAbove {
            if directDescriptor {
                shedDirect(fd)
                counters.recordResponse(status: 503)
                onClose()
            } else {
                shed(fd)
            }
            return nil
        }
        var peer: AddressLimiter.Key?
        if let addressLimiter, !directDescriptor, let key = AddressLimiter.peer(of: fd) {
            guard addressLimiter.admit(key) else {
                answerAndClose(fd, prefix: AddressLimitResponse.prefix.buffer, suffix: AddressLimitResponse.suffix.buffer, status: 429)
                return nil
            }
            peer = key
        }
        if !directDescriptor { SocketOptions.setNoDelay(fd) }
        let generation = limitsGeneration.load(ordering: .acquiring)
        if generation != limitsGenerationSeen {
            limits = reloadedLimits.withLock { $0 }
            limitsGenerationSeen = generation
        }
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            // A reload changed the limits: this connection's session takes them.
            if connections[slot].session.limits != limits { connections[slot].session.adopt(limits) }
        } else {
            let session = ServerConnection(responder: responder, loop: loop, limits: limits)
            connections.append(LoopConnection(session: session))
            slot = connections.count - 1
            wheel.reserve(slots: connections.count)
        }
        let connection = connections[slot]
        connection.session.outputHighWater = readAheadLimit
        connection.fd = fd
        connection.generation &+= 1
        connection.session.attach(resumer: self, connection: connection.tag(slot: slot).raw)
        connection.requestStartedAt = -1
        connection.requestsSeen = 0
        connection.peer = peer
        open += 1
        openCount.store(open, ordering: .relaxed)
        counters.recordConnectionOpened()
        if draining { connection.session.beginDraining() }
        wheel.arm(slot, at: admissionDeadline)
        return slot
    }

    /// The shedding response (with this second's Date line) written at
    /// `buffer`, which must hold `shedResponseCount` bytes; returns its length.
    public func shedResponse(into buffer: UnsafeMutableRawPointer) -> Int {
        loop.date.refresh()
        let date = loop.date.headerLine
        buffer.copyMemory(from: Shedding.prefix.base, byteCount: Shedding.prefix.count)
        (buffer + Shedding.prefix.count).copyMemory(from: date.baseAddress!, byteCount: date.count)
        (buffer + Shedding.prefix.count + date.count).copyMemory(from: Shedding.suffix.base, byteCount: Shedding.suffix.count)
        return Shedding.prefix.count + date.count + Shedding.suffix.count
    }

    /// Room `shedResponse` needs.
    public static let shedResponseCount = 512

    /// Load shedding: answer 503 with Retry-After straight away and close,
    /// without a session. One writev of three pieces (the Date line is the
    /// loop's cached one); rare by construction, so a blocking-free
    /// synchronous call suits every engine.
    private func shed(_ fd: Int32) {
        answerAndClose(fd, prefix: Shedding.prefix.buffer, suffix: Shedding.suffix.buffer, status: 503)
    }

    /// Answers a refused connection with a fixed response around this
    /// second's Date line, in one writev, closes it and gives its budget back.
    private func answerAndClose(_ fd: Int32, prefix: UnsafeRawBufferPointer, suffix: UnsafeRawBufferPointer, status: Int) {
        loop.date.refresh()
        SocketOptions.writeRefusal(fd, prefix, loop.date.headerLine, suffix)
        close(fd)
        counters.recordResponse(status: status)
        onClose()
    }

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
    private func idleDeadlineTick(draining: Bool) -> Int {
        if draining { return wheel.tick(for: idleDeadline(draining: true, now: now)) }
        if now != idleTickAt {
            idleTickAt = now
            idleTick = wheel.tick(for: idleDeadline(draining: false, now: now))
        }
        return idleTick
    }
    private var idleTickAt = -1
    private var idleTick = 0

    /// When an idle connection is closed (`DeadlinePolicy.idle`), reading
    /// only the one timeout it needs.
    @inline(__always)
    private func idleDeadline(draining: Bool, now: Int) -> Int {
        DeadlinePolicy.idle(now: now, draining: draining, keepAlive: keepAliveMilliseconds, drainIdleGrace: drainIdleGrace)
    }

    /// Gives back the buffers of connections that went idle in an earlier
    /// turn and stayed idle through this one (`defersIdleRelease`). Called
    /// as a turn's work ends, so an idle keep-alive connection holds no
    /// buffer for longer than the rest of its turn and one more (a quiet
    /// loop wakes after 10 ms for that turn), and one that
    /// sends its next request within that time keeps its buffers, saving the
    /// pool round trip (six takes and gives, the parser state's reset).
    private func releaseIdleCandidates() {
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
        let settings = deadlineSettings
        if sending { return DeadlinePolicy.deadline(.sending, now: now, settings: settings) }
        switch session.waitingFor {
        case .response:
            return DeadlinePolicy.deadline(.response, now: now, settings: settings)
        case .idle:
            connection.requestStartedAt = -1
            // Waiting for the next request needs no buffer: lend them to busy connections.
            session.releaseIdleBuffers()
            return DeadlinePolicy.deadline(.idle(draining: session.isDraining), now: now, settings: settings)
        case .body:
            return DeadlinePolicy.deadline(.body, now: now, settings: settings)
        case .head:
            let completed = session.requestsCompleted
            connection.requestStartedAt = DeadlinePolicy.headStart(
                startedAt: connection.requestStartedAt, requestsSeen: connection.requestsSeen, requestsCompleted: completed, now: now)
            connection.requestsSeen = completed
            return DeadlinePolicy.deadline(.head(startedAt: connection.requestStartedAt), now: now, settings: settings)
        }
    }

    /// The timeouts as the last reload set them (five relaxed loads).
    public var deadlineSettings: DeadlineSettings {
        DeadlineSettings(head: headTimeoutMS.load(ordering: .relaxed), body: bodyTimeoutMS.load(ordering: .relaxed),
                         keepAlive: keepAliveTimeoutMS.load(ordering: .relaxed), send: sendTimeoutMS.load(ordering: .relaxed),
                         drainIdleGrace: drainIdleGraceMS.load(ordering: .relaxed), response: responseTimeoutMS.load(ordering: .relaxed))
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
        if connection.session.waitingFor == .response {
            connection.session.responseTimedOut()
        } else {
            connection.session.readTimedOut()
        }
        return .answer
    }

    // MARK: closing

    /// The engine has closed the slot's socket (and no I/O on it is
    /// outstanding): frees the slot for the next connection. Returns true
    /// when the engine should resume its paused listener.
    @discardableResult
    public func release(_ slot: Int) -> Bool {
        let connection = connections[slot]
        guard connection.fd >= 0 else { return false }
        wheel.cancel(slot)
        connection.fd = -1
        if let peer = connection.peer {
            addressLimiter?.release(peer)
            connection.peer = nil
        }
        connection.session.reset()
        freeSlots.append(slot)
        open -= 1
        openCount.store(open, ordering: .relaxed)
        counters.recordConnectionClosed()
        onClose()
        return listenerMayResume
    }

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

/// The pre-serialized parts of the load-shedding response.
enum Shedding {
    static let prefix = StaticBytes("HTTP/1.1 503 Service Unavailable\r\n")
    static let suffix = StaticBytes(
        "Retry-After: 1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 19\r\nConnection: close\r\n\r\n503 server is busy\n")
}
