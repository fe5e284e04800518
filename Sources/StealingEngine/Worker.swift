import CSystem
import EngineCore
import EventLoopCore
import Glibc
import HTTP1
import LoopRuntime
import Metrics
import Synchronization

/// One worker of the work-stealing engine: a thread with a run queue, a
/// `LoopCore` for the connections it accepted (their slots, timers, drain),
/// and a private epoll set for what is its own (listener, eventfd, and the
/// pool's shared readiness set, nested, so a parked worker wakes for it).
///
/// The turn: run a task (inject queue every `injectInterval` tasks, else
/// the LIFO slot, else the local queue); with nothing local, harvest the
/// shared readiness set; with nothing there, search (steal half of another
/// worker's queue, then the inject queue); with nothing anywhere, park in
/// the private set. See README.md for why readiness is shared.
///
/// Ownership: the worker thread, except `queue`'s thief end, `post` and the
/// records' atomics.
final class Worker: EventLoop, @unchecked Sendable {
    // @unchecked Sendable: mutable state is confined to the worker thread;
    // what other threads touch is atomic or behind a mutex.
    let core: LoopCore
    let pool: WorkerPool
    let syscalls: LoopEvents<Event>
    var events: EventCounters? { syscalls.counters }
    let gauges: EngineGauges?
    var listenFD: Int32 = -1
    /// The private set: listener, eventfd, and the readiness set(s), nested.
    let epfd: Int32
    /// Where this worker's connections report readiness: the pool's shared
    /// set, or (`--steal-readiness per-worker`) a set of its own.
    let readiness: Int32
    let queue: TaskQueue
    /// The connection that became ready again while it ran; not stealable.
    private var lifo: UInt64 = 0
    private var lifoRuns = 0
    /// Tasks until the next look at the inject queue, listener and timers.
    private var untilPeriodic = 1
    /// The only worker: nobody to steal from, wake or be woken by, and
    /// nobody else harvests its readiness set, so its eventfd and listener
    /// go in that set and it waits there directly (no nested set: one
    /// `epoll_wait` per wake-up, one level of kernel wake-up per event).
    let solo: Bool
    /// Where the eventfd and listener are registered and a parked worker
    /// waits: the private set, or for a solo worker its readiness set.
    let waitSet: Int32
    private(set) var searching = false
    /// This worker's connection records by slot (its core's numbering).
    var tasks: [ConnectionTask] = []
    /// Messages from thieves (a closed connection to release, an earlier
    /// deadline to arm), swapped out whole under the lock.
    let mailbox = PthreadLock<[Message]>([])
    let hasMail = Atomic(false)
    var delivered: [Message] = []
    /// Late answers whose connection was queued or running elsewhere when
    /// they arrived (`answer`); retried at housekeeping. Home thread only.
    var answersToRetry: [any LateAnswer] = []
    // safety: each allocated in init, freed in deinit.
    private let ready: UnsafeMutablePointer<epoll_event>
    private let readyCapacity: Int
    private let privateEvents: UnsafeMutablePointer<epoll_event>
    private let scratch: UnsafeMutablePointer<UInt64>
    private var random: UInt64

    static let listenerTag = UInt64.max
    static let wakeTag = UInt64.max - 1
    static let sharedTag = UInt64.max - 2

    /// What the worker counts (`switchyard_engine_events_total{event=...}`);
    /// the README says what each means.
    enum Event: Int, ReadinessEvent {
        case park, poll, harvest, harvestEmpty, harvestedForeign
        case recv, send, epollCtl, accept, close
        case taskRun, taskRunForeign, lifoRun, tasksStolen, tasksStolenFrom, stealFailed
        case injectTaken, overflow, wakeupSent, mailbox
    }

    struct Message {
        enum Kind { case closed, rearm }
        let kind: Kind
        let tag: UInt64
    }

    init(core: LoopCore, pool: WorkerPool) throws(EngineError) {
        self.core = core
        self.pool = pool
        syscalls = LoopEvents(loop: core.index, help: "stealing engine: scheduling events and system calls (Sources/StealingEngine/README.md)")
        epfd = Epoll.create()
        guard epfd >= 0 else { throw EngineError("cannot create an epoll instance: \(errnoText())") }
        queue = TaskQueue(capacity: pool.options.queueCapacity)
        readyCapacity = pool.options.harvestBatch
        ready = .allocate(capacity: readyCapacity)
        privateEvents = .allocate(capacity: 8)
        scratch = .allocate(capacity: pool.options.queueCapacity)
        random = UInt64(core.index) &* 0x9E37_79B9_7F4A_7C15 | 1
        let queue = self.queue
        let inject = pool.inject
        let idle = pool.idle
        let first = core.index == 0
        gauges = EngineGauges(worker: "loop-\(core.index)",
                              names: first ? ["run_queue", "inject_queue", "searching"] : ["run_queue"]) {
            first ? [queue.count, inject.count, idle.searchingCount] : [queue.count]
        }
        mailbox.withLock { $0.reserveCapacity(64) }
        delivered.reserveCapacity(64)
        if pool.options.readiness == .shared {
            readiness = pool.shared
        } else {
            readiness = Epoll.create()
            guard readiness >= 0 else { throw EngineError("cannot create an epoll instance: \(errnoText())") }
        }
        solo = pool.workerCount == 1
        waitSet = solo ? readiness : epfd
        Epoll.add(waitSet, core.wakeFD, events: Epoll.readable, tag: Worker.wakeTag)
        // Shared: the one set. Per worker: its own here, the others' in `run`
        // (once every worker exists), so a parked worker wakes for them too.
        if !solo { Epoll.add(epfd, readiness, events: Epoll.readable, tag: Worker.sharedTag) }
        pool.add(self)
    }

    deinit {
        ready.deallocate()
        privateEvents.deallocate()
        scratch.deallocate()
        close(epfd)
        if readiness != pool.shared { close(readiness) }
    }

    @inline(__always)
    func count(_ event: Event, _ value: UInt64 = 1) { syscalls.count(event, value) }

    // MARK: the loop

    func run() {
        core.begin()
        // A connection may run on any worker: its late answers go to its home
        // (named in the tag's kind byte), through the pool.
        core.loop.resumer = pool
        if listenFD >= 0 { Epoll.add(waitSet, listenFD, events: Epoll.readable, tag: Worker.listenerTag) }
        if pool.options.readiness == .perWorker && !solo {
            for other in pool.workers where other !== self {
                Epoll.add(epfd, other.readiness, events: Epoll.readable, tag: Worker.sharedTag)
            }
        }
        untilPeriodic = pool.options.injectInterval
        var markedFinished = false
        while true {
            if let task = nextTask() {
                run(task)
                continue
            }
            // Tasks queued on another worker were harvested before anything
            // still in the shared set: take those first, so that a worker
            // stuck in a long task does not hold older requests back while
            // this one serves newer ones (first come, first served overall).
            if pool.options.stealFirst && othersHaveQueuedWork(), let task = search() {
                run(task)
                continue
            }
            if harvest() { continue }
            // No housekeeping here: a worker that parks does it on waking,
            // one that keeps finding work every `injectInterval` tasks.
            if core.isFinished && !markedFinished {
                markedFinished = true
                pool.finishedCount.add(1, ordering: .sequentiallyConsistent)
            }
            if markedFinished && pool.finishedCount.load(ordering: .sequentiallyConsistent) == pool.workerCount
                && queue.isEmpty && lifo == 0 {
                break
            }
            if !solo, let task = search() {
                run(task)
                continue
            }
            if !queue.isEmpty || lifo != 0 { continue }
            park()
        }
        if searching { _ = pool.idle.stopSearching(); searching = false }
        stopAfterEveryone()
    }

    /// The next local task: the inject queue first every `injectInterval`
    /// tasks (so overflow cannot starve; also the listener, the eventfd, the
    /// clock and the timers, so a worker that never parks still accepts,
    /// stops and expires deadlines), then the LIFO slot (at most
    /// `lifoPolls` runs in a row), then the oldest queued task.
    @inline(__always)
    private func nextTask() -> UInt64? {
        untilPeriodic -= 1
        if untilPeriodic <= 0 {
            untilPeriodic = pool.options.injectInterval
            pollPrivate()
            housekeeping()
            if let task = takeInjected() { return task }
        }
        if lifo != 0 {
            let task = lifo
            lifo = 0
            if lifoRuns < pool.options.lifoPolls {
                lifoRuns += 1
                count(.lifoRun)
                return task
            }
            push(task)  // its turn is used up: to the back of the queue
        }
        lifoRuns = 0
        return queue.pop()
    }

    @inline(__always)
    func push(_ task: UInt64) {
        if queue.push(task, overflow: pool.inject) { count(.overflow) }
    }

    /// Runs one connection until it must wait.
    private func run(_ word: UInt64) {
        if searching { stopSearching() }
        // A guaranteed reference: a strong one was retained and released
        // three times per run.
        ConnectionTask.unmanaged(tag: word).guaranteed { run(task: $0) }
    }

    @inline(__always)
    private func run(task: ConnectionTask) {
        let flags = task.begin()
        count(.taskRun)
        if task.home !== self { count(.taskRunForeign) }
        // Guaranteed references: strong ones to the session and the
        // worker context were retained and released per run.
        Unmanaged.passUnretained(task.connection.session).guaranteed { session in
            Unmanaged.passUnretained(core.loop).guaranteed { session.rebind(to: $0) }
        }
        if flags & ConnectionTask.errorFlag != 0 {
            closeTask(task)
            return
        }
        task.take(flags)
        guard drive(task) else { return }
        if task.finish() { requeue(task) }
    }

    /// A task that became ready while it ran goes to the LIFO slot (its data
    /// is hot in this cache); the slot's previous task to the queue.
    func requeue(_ task: ConnectionTask) {
        if pool.options.lifoPolls == 0 {
            push(task.tag)
            return
        }
        if lifo != 0 { push(lifo) }
        lifo = task.tag
    }

    // MARK: readiness

    /// Takes ready connections (without waiting) and queues them; wakes a
    /// parked worker when there is more than this one can start on. Shared
    /// readiness: from the one set. Per worker: from its own set, and if
    /// that has nothing, from the other workers' sets (a busy worker's
    /// readiness would otherwise wait for it). Returns whether anything was queued.
    private func harvest() -> Bool {
        var queued = harvest(from: readiness)
        if queued == 0 && pool.options.readiness == .perWorker {
            let workers = pool.workers
            var i = 0
            while i < workers.count && queued == 0 {  // not for-in: its iterator allocates in unoptimized builds
                if workers[i] !== self { queued = harvest(from: workers[i].readiness) }
                i += 1
            }
        }
        if !solo && queue.count >= 2 { wakeOne() }
        return queued > 0
    }

    /// One `epoll_wait` on a readiness set (`timeout` 0: a harvest; else a
    /// solo worker's park), its connections queued. A solo worker's eventfd
    /// and listener are in the same set and handled here.
    private func harvest(from set: Int32, timeout: Int32 = 0) -> Int {
        let room = min(readyCapacity, queue.capacity - queue.count)
        guard room > 0 else { return 0 }
        let n = epoll_wait(set, ready, Int32(room), timeout)
        if timeout == 0 {
            count(.harvest)
        } else {
            count(.park)
            core.beginTurn()
        }
        guard n > 0 else {
            if timeout == 0 { count(.harvestEmpty) }
            return 0
        }
        // A full harvest leaves ready connections in the set, unseen: the
        // loop's queue-delay estimate must keep counting from its origin.
        if Int(n) == room { core.noteFullBatch() }
        var queued = 0
        for i in 0..<Int(n) {
            let tag = ready[i].data.u64
            if tag >= Worker.sharedTag {  // a solo worker's eventfd or listener
                privateEvent(tag)
                continue
            }
            let task = ConnectionTask.from(tag: tag)
            guard task.matches(tag) else { continue }  // readiness for a slot's previous connection
            if task.home !== self { count(.harvestedForeign) }
            if task.notify(Self.flags(ready[i].events)) {
                push(tag)
                queued += 1
            }
        }
        return queued
    }

    @inline(__always)
    static func flags(_ events: UInt32) -> UInt32 {
        var flags = ConnectionTask.readyFlag
        if events & (Epoll.readable | Epoll.peerHangUp | Epoll.hangUp) != 0 { flags |= ConnectionTask.readableFlag }
        if events & (Epoll.peerHangUp | Epoll.hangUp) != 0 { flags |= ConnectionTask.hungUpFlag }
        if events & Epoll.error != 0 { flags |= ConnectionTask.errorFlag }
        return flags
    }

    // MARK: searching and parking

    /// With nothing local: steal half of another worker's queue (random
    /// start, then in order), else take from the inject queue. Only
    /// `searcherCap` workers search at once.
    private func search() -> UInt64? {
        if !searching {
            guard pool.idle.startSearching() else { return nil }
            searching = true
        }
        let workers = pool.workers
        let n = workers.count
        if n > 1 {
            random ^= random << 13
            random ^= random >> 7
            random ^= random << 17
            let start = Int(random % UInt64(n))
            for i in 0..<n {
                let victim = workers[(start + i) % n]
                if victim === self { continue }
                var moved = 0
                let task = victim.queue.stealInto(queue, moved: &moved)
                if task != 0 {
                    count(.tasksStolen, UInt64(moved))
                    victim.syscalls.counters.addFromAnyThread(Event.tasksStolenFrom.rawValue, UInt64(moved))
                    return task
                }
                count(.stealFailed)
            }
        }
        return takeInjected()
    }

    /// A share of the inject queue: one to run, the rest into the local queue.
    private func takeInjected() -> UInt64? {
        let waiting = pool.inject.count
        guard waiting > 0 else { return nil }
        let room = queue.capacity - queue.count
        let share = min(waiting / max(pool.workerCount, 1) + 1, room + 1, queue.capacity / 2)
        let taken = pool.inject.pop(upTo: share, into: scratch)
        guard taken > 0 else { return nil }
        count(.injectTaken, UInt64(taken))
        for i in 1..<max(taken, 1) { push(scratch[i]) }
        return scratch[0]
    }

    /// Stops searching; the last searcher to find work wakes another
    /// worker, which keeps looking for what is left.
    private func stopSearching() {
        searching = false
        if pool.idle.stopSearching() && workIsVisible() { wakeOne() }
    }

    private func othersHaveQueuedWork() -> Bool {
        let workers = pool.workers
        var i = 0
        while i < workers.count {  // not for-in: its iterator allocates in unoptimized builds
            if workers[i] !== self && workers[i].queue.count > 0 { return true }
            i += 1
        }
        return false
    }

    private func workIsVisible() -> Bool {
        !pool.inject.isEmpty || othersHaveQueuedWork() || queue.count > 0
    }

    /// Wakes one parked worker if nobody searches.
    func wakeOne() {
        let chosen = pool.idle.workerToWake()
        guard chosen >= 0 else { return }
        EventFD.signal(pool.workers[chosen].core.wakeFD)
        count(.wakeupSent)
    }

    /// Sleeps in the private set until readiness (shared or a listener), a
    /// wake-up, or the next timer tick.
    private func park() {
        if solo {
            _ = harvest(from: readiness, timeout: parkMilliseconds())
            expireAndDeliver()
            return
        }
        // Listed as a sleeper first, then one more look: a worker that
        // queued work before seeing this one listed is seen here.
        pool.idle.park(core.index, searching: searching)
        if workIsVisible() { wakeOne() }
        searching = false
        let n = epoll_wait(epfd, privateEvents, 8, parkMilliseconds())
        count(.park)
        searching = pool.idle.unpark(core.index)
        core.beginTurn()
        if n > 0 { for i in 0..<Int(n) { privateEvent(privateEvents[i].data.u64) } }
        expireAndDeliver()
    }

    /// Without waiting: the listener and the eventfd (every `injectInterval`
    /// tasks, so a busy worker still accepts and stops).
    private func pollPrivate() {
        if solo {
            _ = harvest(from: readiness)
            return
        }
        let n = epoll_wait(epfd, privateEvents, 8, 0)
        count(.poll)
        if n > 0 { for i in 0..<Int(n) { privateEvent(privateEvents[i].data.u64) } }
    }

    private func privateEvent(_ tag: UInt64) {
        switch tag {
        case Worker.listenerTag:
            core.acceptReady(listenFD: listenFD, epfd: waitSet, tag: Worker.listenerTag, events: syscalls) { watch($0) }
        case Worker.wakeTag:
            EventFD.drain(core.wakeFD)
            if core.wokenUp(adopt: { watch($0) }, answer: { answer($0, $1) }) { beginDrain() }
            if core.listenerMayResume { resumeListener() }
        default:
            break  // a readiness set: harvested on the next turn
        }
    }

    /// With the local queue empty: the clock, timers, thieves' messages.
    private func housekeeping() {
        core.beginTurn()
        expireAndDeliver()
    }

    /// How long a park may last: the core's wait, and no more than 1 ms
    /// while a late answer waits to be retried (its connection was busy
    /// elsewhere; nothing else would wake this worker for it).
    private func parkMilliseconds() -> Int32 {
        let timeout = core.waitMilliseconds()
        guard !answersToRetry.isEmpty else { return timeout }
        return timeout < 0 ? 1 : min(timeout, 1)
    }

    private func expireAndDeliver() {
        deliverMail()
        if !answersToRetry.isEmpty { retryAnswers() }
        core.expireDeadlines { expire($0) }
        if core.listenerMayResume { resumeListener() }
    }

    func resumeListener() {
        core.resumeListener(listenFD: listenFD, epfd: waitSet, tag: Worker.listenerTag, events: syscalls)
    }
}
