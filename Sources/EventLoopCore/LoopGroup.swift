import CSystem
import EngineCore
import Glibc
import HTTP1
import Metrics
import Synchronization

/// An engine's event loop: the contract a new event-loop engine implements.
/// The group makes one per thread (`makeLoop`), sets `listenFD`, and calls
/// `run` on the loop's own thread. Everything below the I/O is the loop's
/// `LoopCore`; the engine's file holds only how it waits for and issues I/O.
///
/// `run` calls its core in this order (the names are `LoopCore`'s):
///
/// 1. `begin()` once, on the loop thread: pins it and makes its `LoopContext`.
/// 2. Each turn:
///    - `waitMilliseconds()` for the wait's timeout (the turn's work ends
///      here), then the engine's wait (epoll_wait, io_uring_enter, a park);
///    - `beginTurn()` as the wait returns (`noteFullBatch()` if the batch was full):
///      the loop clock, queueing delay and shedding decision of the turn;
///    - for each event or completion:
///      - a listener ready: `takeBudget()`, accept, `admit(fd)` (nil:
///        refused and closed), then watch the slot; `listenerDidPause` /
///        `listenerDidResume` as the budget runs out and returns;
///      - the wake-up descriptor: `wokenUp(adopt:answer:)`; `true` means a
///        stop began: close the listener and `beginDrain(...)`;
///      - a connection: drive its machine (`ConnectionMachine`, through
///        `driveReadiness` or the engine's own completions) until it waits,
///        then `armDeadline(slot, sending:)`; on `.close`, close the socket
///        and `release(slot)` (true: resume the listener);
///      - a late answer handed to `answer`: `session.answer(late)`, then
///        drive the slot;
///    - `expireDeadlines { slot in ... }`, each slot through `expiry(of:sending:)`
///      (`.close`, or `.answer`: drive the queued 408/504 out);
///    - `listenerMayResume` and `isFinished` (end the loop).
/// 3. After the loop: close what is still open (`openSlots`), `release` each.
///
/// Connections are named outside the table by `SlotTag` (slot, generation,
/// kind), so an event or completion for a slot's previous connection is
/// recognised and ignored.
public protocol EventLoop: AnyObject, Sendable {
    var core: LoopCore { get }
    /// This loop's SO_REUSEPORT listener, set by the group before `run`; -1
    /// with the acceptor policy. Loop thread only once `run` has begun.
    var listenFD: Int32 { get set }
    /// Engine-specific event counters shown in `/metrics`, if any.
    var events: EventCounters? { get }
    /// Engine-specific current values (queue lengths), if any.
    var gauges: EngineGauges? { get }
    /// The loop's body; returns when the drain is over.
    func run()
}

extension EventLoop {
    public var gauges: EngineGauges? { nil }
}

/// An event-loop engine: what every one does around its loops (one loop per
/// thread, connections reaching them by `--accept` policy, the engine-wide
/// connection cap, metrics registration, the graceful stop). An engine module
/// supplies only `makeLoop`, which builds its loop on a `LoopCore`, and
/// optionally `prepare`, run at start before any loop exists (checks of its
/// own flags, facts for `/metrics`).
///
/// - `reuseport`: one SO_REUSEPORT listener per loop; the kernel hashes each
///   new connection to a listener, and the loop accepts it itself. The
///   `--max-connections` budget is shared (`ConnectionBudget`); a loop that
///   finds it spent pauses its listener, so new clients wait in the kernel
///   backlog, and the loop that frees a unit wakes the paused ones.
/// - `acceptor`: one thread blocks in `accept` and hands each connection to a
///   loop (round-robin or least-loaded) through the loop's inbox and eventfd.
///   A semaphore holds the engine-wide cap.
public final class LoopGroup: Engine, @unchecked Sendable {
    // @unchecked Sendable: fields are written in `start` before any thread
    // that reads them exists, or are atomic.
    public typealias MakeLoop = @Sendable (LoopCore) throws(EngineError) -> any EventLoop
    public typealias Prepare = @Sendable (EngineConfiguration, MetricsRegistry) throws(EngineError) -> Void

    let engineName: String
    let configuration: EngineConfiguration
    let responder: any HTTPResponder
    let metrics: MetricsRegistry
    private let prepare: Prepare
    private let makeLoop: MakeLoop
    private var loops: [any EventLoop] = []
    private var threads: [Thread] = []
    private var acceptorThread: Thread?
    private var acceptorFD: Int32 = -1
    public private(set) var boundPort = 0
    private let stopping = Atomic(false)
    /// Set by the first `stop`, so a second one does nothing.
    private let stopCalled = Atomic(false)
    /// Listening sockets this process opened (not inherited), for `stop` to
    /// refuse new connections on before the loops drain. Written by `start`.
    private var ownListeners: [Int32] = []
    /// Set by the acceptor thread once it has handed over its queue and
    /// closed the listener (acceptor policy).
    private let acceptorFinished = Atomic(false)
    /// Free connection slots (acceptor policy).
    private let slots: ConnectionSlots
    /// How the acceptor thread picks a loop; written by `start`, then the
    /// acceptor thread's alone.
    private var chooser: AcceptorChoice?
    /// Process mode, `p2c` or `least-loaded`: every worker's loads and the
    /// hand-off socket. Written by `start`.
    private var shared: SharedLoads?

    public init(engineName: String, configuration: EngineConfiguration, responder: any HTTPResponder,
                metrics: MetricsRegistry, prepare: @escaping Prepare = { _, _ in }, makeLoop: @escaping MakeLoop) {
        self.engineName = engineName
        self.configuration = configuration
        self.responder = responder
        self.metrics = metrics
        self.prepare = prepare
        self.makeLoop = makeLoop
        slots = ConnectionSlots(count: configuration.maxConnections)
    }

    /// Builds the loops, opens the listeners, starts the threads.
    public func start() throws(EngineError) {
        try prepare(configuration, metrics)
        let count = configuration.threads
        guard count >= 1 else { throw EngineError("--threads \(count): must be at least 1") }
        guard configuration.maxConnections >= count else {
            throw EngineError("--max-connections \(configuration.maxConnections): must be at least --threads (\(count))")
        }
        let usesAcceptor = configuration.acceptPolicy.usesAcceptorThread
        let addressLimiter = configuration.maxConnectionsPerAddress > 0
            ? AddressLimiter(limit: configuration.maxConnectionsPerAddress) : nil
        let budget = usesAcceptor ? nil : ConnectionBudget(cap: configuration.maxConnections)
        let release: @Sendable () -> Void
        if let budget {
            release = { [unowned self] in
                if budget.release() { for loop in loops { loop.core.wakeIfPaused() } }
            }
        } else {
            release = { [unowned self] in self.slots.release() }
        }
        for i in 0..<count {
            let core = try LoopCore(index: i, configuration: configuration, responder: responder, budget: budget,
                                    addressLimiter: addressLimiter, onClose: release)
            loops.append(try makeLoop(core))
        }
        if !configuration.inheritedListeners.isEmpty {
            let inherited = configuration.inheritedListeners
            if usesAcceptor {
                acceptorFD = inherited[0]
            } else {
                guard inherited.count == loops.count else {
                    throw EngineError("\(inherited.count) inherited listeners for \(loops.count) loops")
                }
                for (loop, fd) in zip(loops, inherited) { loop.listenFD = fd }
            }
            boundPort = Listener.boundPort(of: inherited[0])
        } else if usesAcceptor {
            // Non-blocking, as an inherited one is: the acceptor polls it, so a
            // stop needs no shutdown (which would reset the queue) to wake it.
            let (fd, port) = try Listener.open(host: configuration.host, port: configuration.port, backlog: configuration.backlog,
                                               nonBlocking: true)
            acceptorFD = fd
            ownListeners.append(fd)
            boundPort = port
        } else {
            // The first listener may ask for port 0; the others must share its port.
            var port = configuration.port
            var first = true
            for loop in loops {
                do throws(EngineError) {
                    // Only the first bind probes the port; the rest join our own group.
                    let (fd, bound) = try Listener.open(host: configuration.host, port: port, backlog: configuration.backlog,
                                                       reusePort: true, nonBlocking: true, probeFirst: first)
                    loop.listenFD = fd
                    ownListeners.append(fd)
                    port = bound
                    first = false
                } catch {
                    for l in loops where l.listenFD >= 0 { close(l.listenFD) }
                    ownListeners = []  // closed: `stop` must not touch their numbers
                    throw error
                }
            }
            boundPort = port
            if let kind = configuration.acceptPolicy.steering {
                metrics.setInfo("steering", try attachSteering(kind))
            }
        }
        metrics.setInfo("engine", engineName)
        metrics.setInfo("accept", configuration.acceptPolicy.rawValue)
        if let choice = configuration.acceptPolicy.acceptorChoice(balance: configuration.balance) {
            metrics.setInfo("balance", choice.rawValue)
            if let plan = configuration.sharedLoads, SharedLoadsPlan.applies(to: choice), plan.processes > 1 {
                let shared = try SharedLoads(plan: plan, loops: count)
                for (index, loop) in loops.enumerated() { loop.core.publishedLoad = shared.publisher(forLoop: index) }
                self.shared = shared
                metrics.setInfo("balance_scope", "workers")
                metrics.setLabelledCounters(
                    "switchyard_acceptor_handoffs_total",
                    help: "Accepted sockets the acceptor handed to another worker's loop (sent), took from another worker (received), or kept because the other worker was gone (failed).",
                    label: "outcome") {
                        [("sent", shared.sent.load(ordering: .relaxed)), ("received", shared.received.load(ordering: .relaxed)),
                         ("failed", shared.failed.load(ordering: .relaxed))]
                    }
            }
            chooser = AcceptorChoice(rule: choice, loops: loops.map(\.core), hashPort: configuration.hashPort, shared: shared)
        }
        metrics.setInfo("loops", String(count))
        metrics.setInfo("pin", configuration.placement?.policy.description ?? "none")
        metrics.setInfo("cpus", configuration.placement?.cpuList ?? "none")
        for loop in loops {
            metrics.register(loop.core.counters)
            if let events = loop.events { metrics.register(events) }
            if let gauges = loop.gauges { metrics.register(gauges) }
            threads.append(Thread.spawn(name: "loop-\(loop.core.index)") { loop.run() })
        }
        if usesAcceptor {
            acceptorThread = Thread.spawn(name: "acceptor") { [self] in
                if let shared { sharedAcceptLoop(shared) } else { acceptLoop() }
            }
        }
    }

    /// `reuseport-cpu` and `reuseport-hash` on listeners this process
    /// opened (a supervisor attaches its own group's program): the kernel
    /// refusing the program stops the start unless `--steering-fallback`.
    /// Returns what `/metrics` shows as `steering`.
    private func attachSteering(_ kind: ReuseportSteering.Kind) throws(EngineError) -> String {
        var cpus: [Int] = []
        if kind == .cpu {
            for index in loops.indices {
                guard let cpu = configuration.pinnedCPU(forThread: index) else {
                    closeOwnListeners()
                    throw EngineError(ReuseportSteering.needsPinMessage)
                }
                cpus.append(cpu)
            }
        }
        let warning: String?
        do {
            warning = try ReuseportSteering.install(
                kind, to: loops[0].listenFD, identities: ReuseportSteering.identities(slots: 1, loops: loops.count), cpus: cpus,
                hashPort: configuration.hashPort, refuse: configuration.testRefuseSteering,
                policy: configuration.acceptPolicy, fallback: configuration.steeringFallback)
        } catch {
            closeOwnListeners()
            throw error
        }
        guard let warning else { return kind.rawValue }
        let line = Array("switchyard: warning: \(warning)\n".utf8)
        line.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
        return "refused"
    }

    private func closeOwnListeners() {
        for fd in ownListeners { close(fd) }
        ownListeners = []
        for loop in loops { loop.listenFD = -1 }
    }

    /// Acceptor policy: block in accept, hand each connection to a loop.
    private func acceptLoop() {
        var address = sockaddr_storage()
        let wantsAddress = chooser!.needsAddress
        while !stopping.load(ordering: .acquiring) {
            slots.acquire()
            if stopping.load(ordering: .acquiring) { break }
            let fd = accept(into: &address, wantsAddress)
            guard fd >= 0 else {
                slots.release()
                if stopping.load(ordering: .acquiring) { break }
                if errno == EAGAIN || errno == EWOULDBLOCK { Listener.waitReadable(acceptorFD) }  // inherited: non-blocking
                if errno == EMFILE || errno == ENFILE || errno == ENOMEM { usleep(10_000) }
                continue
            }
            handOff(fd, from: &address)
        }
        finishAccepting(&address, wantsAddress)
    }

    /// The acceptor's last step: clients already in the queue would be reset
    /// by the close, so they are handed to this process's loops first (`stop`
    /// holds the loops back from draining until this is done); a socket with
    /// no slot left is closed. Then the listener closes.
    private func finishAccepting(_ address: inout sockaddr_storage, _ wantsAddress: Bool) {
        while true {
            let fd = accept(into: &address, wantsAddress)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                break  // EAGAIN: the queue is empty
            }
            if slots.tryAcquire() { handOff(fd, from: &address) } else { close(fd) }
        }
        close(acceptorFD)
        acceptorFinished.store(true, ordering: .releasing)
    }

    /// Process mode, load-aware choice over every worker's loops: as
    /// `acceptLoop`, but a connection may go to another worker (`SharedLoads`),
    /// and the acceptor also takes what other workers hand here. It never
    /// blocks on the connection cap (a hand-off may arrive meanwhile): without
    /// a free slot it waits for the socket or a hand-off. A hand-off that
    /// finds no slot left here is closed.
    private func sharedAcceptLoop(_ shared: SharedLoads) {
        var address = sockaddr_storage()
        while !stopping.load(ordering: .acquiring) {
            takeHandOffs(shared)
            guard slots.tryAcquire() else {
                wait(for: shared, listener: false)
                continue
            }
            let fd = accept(into: &address, false)
            guard fd >= 0 else {
                slots.release()
                if errno == EAGAIN || errno == EWOULDBLOCK { wait(for: shared, listener: true) }
                if errno == EMFILE || errno == ENFILE || errno == ENOMEM { usleep(10_000) }
                continue
            }
            switch chooser!.target(for: &address) {
            case .here(let loop):
                loop.enqueue(fd)
            case .worker(let slot, let loop):
                if shared.pass(fd, toWorker: slot, loop: loop) {
                    close(fd)  // the other worker has its own copy
                    slots.release()
                } else {
                    handOff(fd, from: &address)
                }
            }
        }
        // Stopping: nobody can find this worker's name any more, then what
        // was handed here already, then this worker's own queue (kept here:
        // the other workers are draining too).
        unlink(shared.ownPath)
        takeHandOffs(shared)
        finishAccepting(&address, false)
    }

    private func takeHandOffs(_ shared: SharedLoads) {
        while let (fd, loop) = shared.receive() {
            if slots.tryAcquire() { loops[loop].core.enqueue(fd) } else { close(fd) }
        }
    }

    /// Up to 100 ms for a hand-off, or (`listener`) a connection to accept.
    private func wait(for shared: SharedLoads, listener: Bool) {
        var polled = [pollfd(fd: shared.socket, events: Int16(POLLIN), revents: 0),
                      pollfd(fd: acceptorFD, events: Int16(POLLIN), revents: 0)]
        _ = poll(&polled, listener ? 2 : 1, 100)
    }

    /// One non-blocking accept; the peer's address only when the choice reads it.
    private func accept(into address: inout sockaddr_storage, _ wantsAddress: Bool) -> Int32 {
        let flags = Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        guard wantsAddress else { return accept4(acceptorFD, nil, nil, flags) }
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        return withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept4(acceptorFD, $0, &length, flags) }
        }
    }

    /// Gives an accepted socket to the loop of this process the policy chooses.
    private func handOff(_ fd: Int32, from address: inout sockaddr_storage) {
        withUnsafePointer(to: &address) { chooser!.loop(for: $0) }.enqueue(fd)
    }

    public func stop() {
        guard !stopCalled.exchange(true, ordering: .sequentiallyConsistent) else { return }
        // New clients are turned away first, so the queues the drain empties
        // stop growing. Inherited sockets are the supervisor's to refuse: it
        // does so on a stop, never on a reload, whose new workers share them.
        // Before `stopping` is set: once it is, the acceptor may close its
        // listener, and its number may already name another socket.
        for fd in ownListeners { Listener.refuseNewConnections(fd) }
        stopping.store(true, ordering: .sequentiallyConsistent)
        if acceptorFD >= 0 {
            slots.release()  // wake the acceptor if it waits for a slot
            // The listener is non-blocking: the acceptor sees `stopping` within
            // a poll, hands what its queue holds to the loops and closes it.
            // The loops start draining after that (a loop with nothing open
            // would otherwise end before those connections reach it); two
            // seconds at most.
            for _ in 0..<2000 where !acceptorFinished.load(ordering: .acquiring) { usleep(1000) }
        }
        for loop in loops { loop.core.requestStop() }
    }

    public func reconfigure(_ settings: LiveSettings) {
        for loop in loops { loop.core.apply(settings) }
    }

    public func waitUntilStopped() {
        acceptorThread?.join()
        acceptorThread = nil
        for thread in threads { thread.join() }
        threads = []
        for loop in loops {
            metrics.retire(loop.core.counters)
            if let events = loop.events { metrics.retire(events) }
            if let gauges = loop.gauges { metrics.retire(gauges) }
        }
        loops = []
    }
}

extension EngineDescriptor {
    /// The descriptor of an event-loop engine: a reactor with a pool of
    /// loops, made as a `LoopGroup`. The engine module gives its loop
    /// (`makeLoop`, called once per engine made, so loops of one engine may
    /// share state it creates) and optionally `prepare`, its start-up checks.
    public static func eventLoops(
        name: String, summary: String, availability: @escaping @Sendable () -> Availability,
        variants: [EngineVariant] = [],
        validate: @escaping @Sendable (EngineConfiguration) -> String? = { _ in nil },
        details: @escaping @Sendable () -> [String] = { [] },
        prepare: @escaping LoopGroup.Prepare = { _, _ in },
        makeLoop: @escaping @Sendable (EngineConfiguration) -> LoopGroup.MakeLoop
    ) -> EngineDescriptor {
        EngineDescriptor(
            name: name, summary: summary, isReactor: true, hasThreadPool: true, availability: availability,
            variants: variants, validate: validate, details: details,
            make: { configuration, responder, metrics in
                LoopGroup(engineName: name, configuration: configuration, responder: responder, metrics: metrics,
                          prepare: prepare, makeLoop: makeLoop(configuration))
            })
    }
}
