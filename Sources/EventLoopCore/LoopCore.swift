import Atomics
import CSystem
import EngineCore
import Glibc
import HTTP1
import LoopRuntime
import Metrics
import Synchronization

/// Everything an event loop does that does not depend on how it waits for
/// and issues I/O. Its parts, one file each:
///
/// - this file: the state, reload (`apply`), the turn (`begin`, `beginTurn`,
///   `waitMilliseconds`) and freeing a slot (`release`);
/// - `LoopCore+Admission`: the connection budget and listener pause,
///   shedding, the per-address limit, the slot a socket gets (`admit`);
/// - `LoopCore+Deadlines`: one deadline per connection (`DeadlinePolicy`,
///   pure) on the `TimerWheel`, the deferred release of idle connections'
///   buffers, and what a passed deadline means (`expiry`);
/// - `LoopCore+Wakeups`: what other threads hand the loop (accepted sockets,
///   late answers, a stop) and `wokenUp`, which takes them;
/// - `LoopCore+Drain`: the graceful stop.
///
/// An engine's loop (epoll's `Reactor`, io_uring's `RingLoop`, a stealing
/// `Worker`) owns one and calls it at fixed points, in the order the
/// `EventLoop` protocol's documentation lists. The core makes no I/O calls of
/// its own except the rare synchronous ones it owns outright (closing a
/// refused socket, the shedding `writev`).
///
/// Ownership: the loop thread, except `enqueue`, `resume`, `wakeIfPaused`
/// and `requestStop`, which any thread may call (they take a lock or use
/// atomics, then signal `wakeFD`).
public final class LoopCore: Resumer, @unchecked Sendable {
    // @unchecked Sendable: mutable state is confined to the loop thread except
    // `inbox`, `resumes`, `stopRequested`, `isPaused` and `openCount`, which
    // are synchronized.
    public let index: Int
    public let configuration: EngineConfiguration
    let responder: any HTTPResponder
    public let counters: WorkerCounters
    /// Created by the loop thread itself once pinned (`begin`), so its pool,
    /// arena and date cache are first touched on the loop's CPU. Loop thread only.
    public internal(set) var loop: LoopContext!
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
    let inbox = Mutex([Int32]())
    /// Sockets handed over and not yet taken from the inbox: the acceptor
    /// counts them as this loop's (`load`), or a burst between two turns
    /// would all go to the loop that looked emptiest.
    let waitingInInbox = Atomic(0)
    /// Process mode with a load-aware acceptor: this loop's cell of the
    /// workers' shared table, stored beside `openCount`. Set before the loop runs.
    public var publishedLoad: UnsafeAtomic<Int>?

    /// `open` for other threads: the acceptor's `openCount`, and in process
    /// mode the workers' shared table. On admit and release, not per request.
    @inline(__always)
    func publishOpen() {
        openCount.store(open, ordering: .relaxed)
        publishedLoad?.store(open, ordering: .relaxed)
    }
    /// Late answers for this loop's connections (`resume`, any thread),
    /// taken by the loop when it wakes (`wokenUp`); `resumesTaken` is the
    /// loop's side of the swap, so neither allocates once grown.
    let resumes = Mutex([any LateAnswer]())
    var resumesTaken: [any LateAnswer] = []
    /// Late answers queued and not yet taken: the loop looks at this, not
    /// the queue, so a wake-up without any costs no lock (and, in debug
    /// builds, no generic witness lookup, which allocates on first use).
    let resumesWaiting = Atomic(0)
    let stopRequested = Atomic(false)

    public internal(set) var connections: [LoopConnection] = []
    var freeSlots: [Int] = []
    let wheel: TimerWheel
    /// The loop's clock (ms) and turn at the top of the current turn: the
    /// loop context's one `LoopClock`, read once per turn (`beginTurn`), copied
    /// here because the request path reads them (through the context each
    /// read retained and released it). Deadlines are counted from when an
    /// event arrived; 100 ms ticks need no finer clock.
    public internal(set) var now = 0
    public internal(set) var turn: UInt32 = 0
    /// Give idle connections' buffers back at the end of the turn after the
    /// one they went idle in, not at once (`releaseIdleCandidates`). Only an
    /// engine whose idle connections wait for readiness, with no operation
    /// that may write into the session's buffers, may set it (epoll).
    public var defersIdleRelease = false
    /// Slots waiting for `releaseIdleCandidates` (each once: `releaseTurn`).
    var idleCandidates: [Int] = []
    /// When the pool next decays (ms); 0 while it holds no surplus.
    var poolDecayAt = 0
    /// `--pool-decay` in ms (0: the pool never gives buffers back).
    let poolDecayMS: Int
    /// How many of them went idle in the current turn.
    var candidatesOfThisTurn = 0
    /// The turn's two clock reads: queueing delay, the overload controller,
    /// busy time and latency samples. Loop thread only.
    var turns: TurnClock
    /// `idleDeadlineTick`'s cache: the wheel tick of an idle deadline armed
    /// at loop time `idleTickAt` (ms).
    var idleTickAt = -1
    var idleTick = 0
    /// Reused every turn, so collecting expired timers allocates nothing.
    var expired: [Int] = []
    public internal(set) var open = 0
    public internal(set) var listenerPaused = false
    /// When a listener paused for lack of descriptors tries again (ms); 0: not waiting.
    var retryListenerAt = 0
    public internal(set) var draining = false
    var drainDeadline = 0
    // What a reload may change (`apply`), in milliseconds. Atomics because a
    // reload stores them from the signal thread and a work-stealing thief
    // reads them; relaxed loads are plain loads here.
    let headTimeoutMS = Atomic(0)
    let bodyTimeoutMS = Atomic(0)
    let keepAliveTimeoutMS = Atomic(0)
    let sendTimeoutMS = Atomic(0)
    let responseTimeoutMS = Atomic(0)
    let drainIdleGraceMS = Atomic(0)
    let drainTimeoutMS = Atomic(0)
    let readAheadLimitBytes = Atomic(0)
    let shedAboveCount = Atomic(0)
    /// Request limits a reload set, taken by the loop at its next admit
    /// (the generation says when to look; the lock is taken only then).
    let reloadedLimits: Mutex<HTTPLimits>
    let limitsGeneration = Atomic(0)
    /// The limits new sessions get. Loop thread only.
    var limits: SharedLimits
    var limitsGenerationSeen = 0

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
        poolDecayMS = Int(configuration.poolDecay * 1000)
        wakeFD = EventFD.make()
        guard wakeFD >= 0 else { throw EngineError("cannot create an eventfd: \(errnoText())") }
        wheel = TimerWheel(now: monotonicMilliseconds())
        turns = TurnClock(settings: configuration.overload, now: monotonicMicroseconds())
        limits = SharedLimits(configuration.limits)
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

    /// Milliseconds a send may go without progress.
    public var sendTimeoutMilliseconds: Int { sendTimeoutMS.load(ordering: .relaxed) }
    /// How long an idle connection stays open once the drain begins (ms).
    public var drainIdleGrace: Int { drainIdleGraceMS.load(ordering: .relaxed) }
    /// Buffered input beyond which a connection stops being read (bytes).
    public var readAheadLimit: Int { readAheadLimitBytes.load(ordering: .relaxed) }

    deinit {
        close(wakeFD)
    }

    // MARK: the loop's turn

    /// The loop thread's first call: pin, then make the per-thread memory.
    public func begin() {
        // Sessions and pooled buffers are created on this thread from here
        // on, so their memory is first touched on this CPU's node.
        configuration.pinCurrentThread(index: index)
        loop = LoopContext(counters: counters, keptBuffersPerClass: configuration.poolKeep)
        loop.resumer = self  // an engine whose connections move between threads sets its own
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
        // A pool holding more free buffers than it keeps (after a burst):
        // wake to give them back rather than hold them until traffic returns.
        if poolDecayMS > 0 {
            if poolDecayAt == 0 && Unmanaged.passUnretained(loop).guaranteed({ $0.buffers.holdsSurplus }) {
                poolDecayAt = now + poolDecayMS
            }
            if poolDecayAt != 0 {
                let decay = Int32(max(1, poolDecayAt - now))
                timeout = timeout < 0 ? decay : min(timeout, decay)
            }
        }
        return timeout
    }

    /// The pool's interval is over: buffers free through all of it go back
    /// to the allocator (`BufferPool.decay`), and the allocator's free pages
    /// to the kernel: freed chunks stay resident in glibc's heap otherwise,
    /// between the sessions allocated around them.
    func decayPool() {
        let released = Unmanaged.passUnretained(loop).guaranteed { $0.buffers.decay() }
        poolDecayAt = Unmanaged.passUnretained(loop).guaranteed { $0.buffers.holdsSurplus } ? now + poolDecayMS : 0
        if released > 0 { counters.recordPoolRelease(bytes: released) }
        if released >= 64 * 1024 { malloc_trim(0) }
    }

    /// Reads the loop's clock; call once after each wait returns (or, in an
    /// engine that may run long without waiting, every so many tasks): a turn
    /// begins, with its queueing delay and shedding decision (`TurnClock`).
    @inline(__always)
    public func beginTurn() {
        candidatesOfThisTurn = 0
        // A guaranteed reference: through the stored one each use was a retain.
        Unmanaged.passUnretained(loop).guaranteed { loop in
            let clock = loop.clock.beginTurn()
            now = clock / 1000
            turn = loop.clock.turn
            turns.tick(at: clock, loop: loop)
        }
        if poolDecayAt != 0 && now >= poolDecayAt { decayPool() }
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
        publishOpen()
        counters.recordConnectionClosed()
        onClose()
        return listenerMayResume
    }

}

/// The pre-serialized parts of the load-shedding response.
enum Shedding {
    static let prefix = StaticBytes("HTTP/1.1 503 Service Unavailable\r\n")
    static let suffix = StaticBytes(
        "Retry-After: 1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 19\r\nConnection: close\r\n\r\n503 server is busy\n")
}
