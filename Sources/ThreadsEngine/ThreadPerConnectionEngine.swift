import EngineCore
import Glibc
import HTTP1
import LoopRuntime
import Metrics
import Synchronization

/// The baseline engine: one blocking thread per connection.
///
/// An acceptor thread blocks in `accept`; each connection gets its own thread
/// that blocks in `recv` and `send` and drives an `HTTPSession`. The kernel's
/// scheduler is the event loop. It is the simplest correct design and the one
/// every other engine is compared against: cheap at low concurrency, costly in
/// memory and context switches at high concurrency.
///
/// A counting semaphore caps live connections at `maxConnections`: at the cap
/// the acceptor stops calling `accept`, so new clients wait in the kernel's
/// listen backlog instead of costing a thread.
public final class ThreadPerConnectionEngine: Engine, @unchecked Sendable {
    public static let descriptor = EngineDescriptor(
        name: "threads",
        summary: "thread per connection, blocking reads and writes (baseline)",
        isReactor: false, hasThreadPool: false,
        availability: { .available },
        make: { ThreadPerConnectionEngine(configuration: $0, responder: $1, metrics: $2) })

    // @unchecked Sendable: every mutable field below is atomic, behind the
    // Mutex, or written once in `start` before any other thread reads it.
    let configuration: EngineConfiguration
    let responder: any HTTPResponder
    let metrics: MetricsRegistry
    private var listenFD: Int32 = -1
    public private(set) var boundPort = 0
    private var acceptor: Thread?

    /// Set once by `stop`; the acceptor and connections watch it.
    private let stopping = Atomic(false)
    /// Set by the first `stop`, so a second one does nothing.
    private let stopCalled = Atomic(false)
    /// Free connection slots.
    private let slots: ConnectionSlots
    /// Live connections, for the graceful stop to reach idle ones.
    private let connections = Mutex([ObjectIdentifier: Connection]())
    /// What a reload may change; read once per accepted connection and when
    /// the drain begins, never per request.
    private let live: Mutex<LiveSettings>
    /// `--max-connections-per-address`; nil when off.
    private let addressLimiter: AddressLimiter?

    public init(configuration: EngineConfiguration, responder: any HTTPResponder, metrics: MetricsRegistry = .shared) {
        self.configuration = configuration
        live = Mutex(LiveSettings(configuration))
        addressLimiter = configuration.maxConnectionsPerAddress > 0 ? AddressLimiter(limit: configuration.maxConnectionsPerAddress) : nil
        self.responder = responder
        self.metrics = metrics
        slots = ConnectionSlots(count: configuration.maxConnections)
    }

    public func start() throws(EngineError) {
        guard configuration.maxConnections >= 1 else {
            throw EngineError("--max-connections \(configuration.maxConnections): must be at least 1")
        }
        if let inherited = configuration.inheritedListeners.first {
            listenFD = inherited
            boundPort = Listener.boundPort(of: inherited)
        } else {
            // Non-blocking, as an inherited one is: the acceptor polls it, so a
            // stop needs no shutdown (which would reset the queue) to wake it.
            let (fd, port) = try Listener.open(host: configuration.host, port: configuration.port, backlog: configuration.backlog,
                                               nonBlocking: true)
            listenFD = fd
            boundPort = port
        }
        metrics.setInfo("engine", "threads")
        metrics.setInfo("pin", configuration.placement?.policy.description ?? "none")
        metrics.setInfo("cpus", configuration.placement?.cpuList ?? "none")
        // The acceptor thread also runs the drain once accepting stops, so a
        // stop makes progress whether or not anyone waits for it.
        acceptor = Thread.spawn(name: "acceptor") { [self] in
            acceptLoop()
            drain()
        }
    }

    private func acceptLoop() {
        configuration.pinCurrentThread(index: 0)
        var accepted = 0
        while !stopping.load(ordering: .acquiring) {
            slots.acquire()
            if stopping.load(ordering: .acquiring) { break }
            let fd = accept(listenFD, nil, nil)
            guard fd >= 0 else {
                slots.release()
                if stopping.load(ordering: .acquiring) { break }
                // Nothing queued: wait for a client or, within 100 ms, notice a stop.
                if errno == EAGAIN || errno == EWOULDBLOCK { Listener.waitReadable(listenFD) }
                // Out of descriptors: back off instead of spinning on the error.
                if errno == EMFILE || errno == ENFILE || errno == ENOMEM { usleep(10_000) }
                continue
            }
            serveOnNewThread(fd, number: accepted)
            accepted &+= 1
        }
        // Clients already in the queue would be reset by the close: each is
        // served (its response says Connection: close, the engine stopping).
        // Not waiting for a slot: the connections holding them may be idle
        // ones that only the drain, after this, closes. Past the cap, closed.
        Listener.acceptQueued(listenFD, blocking: true) { fd in
            guard slots.tryAcquire() else { close(fd); return }
            serveOnNewThread(fd, number: accepted)
            accepted &+= 1
        }
        close(listenFD)
    }

    /// Serves an accepted socket on a thread of its own; the caller holds a slot for it.
    private func serveOnNewThread(_ fd: Int32, number: Int) {
        SocketOptions.setNoDelay(fd)
        SocketOptions.setReceiveTimeout(fd, seconds: live.withLock { $0.readTimeout })
        let connection = Connection(fd: fd, thread: number)
        connections.withLock { $0[ObjectIdentifier(connection)] = connection }
        let started = Thread.trySpawn(name: "conn") { [self] in
            serve(connection)
            finish(connection)
        }
        if let started {
            started.detach()
        } else {
            finish(connection)  // at the system's thread limit: refuse this one
        }
    }

    /// Closes under the lock that `stop` holds while it shuts sockets down, so
    /// it can never shut down a descriptor number already reused elsewhere.
    private func finish(_ connection: Connection) {
        connections.withLock {
            _ = $0.removeValue(forKey: ObjectIdentifier(connection))
            close(connection.fd)
        }
        slots.release()
    }

    /// One connection, start to end, on its own thread.
    private func serve(_ connection: Connection) {
        // Connection threads rotate over the placement's CPUs.
        configuration.pinCurrentThread(index: connection.thread)
        let counters = WorkerCounters()
        metrics.register(counters)
        counters.recordConnectionOpened()
        defer {
            counters.recordConnectionClosed()
            metrics.retire(counters)
        }
        let loop = LoopContext(counters: counters)
        let fd = connection.fd
        if let addressLimiter, let peer = AddressLimiter.peer(of: fd) {
            guard addressLimiter.admit(peer) else {
                loop.date.refresh()
                SocketOptions.writeRefusal(fd, AddressLimitResponse.prefix.buffer, loop.date.headerLine,
                                           AddressLimitResponse.suffix.buffer)
                counters.recordResponse(status: 429)
                return
            }
            defer { addressLimiter.release(peer) }
            serve(connection, fd: fd, loop: loop)
        } else {
            serve(connection, fd: fd, loop: loop)
        }
    }

    /// The request loop of one admitted connection.
    private func serve(_ connection: Connection, fd: Int32, loop: LoopContext) {
        let session = ServerConnection(responder: responder, loop: loop, limits: live.withLock { $0.limits })
        // This thread's context serves this one connection: its resumer is the connection's.
        let resumer = ConnectionResumer()
        loop.resumer = resumer
        session.attach(connection: 0)

        while true {
            if stopping.load(ordering: .relaxed) { session.beginDraining() }
            switch session.process() {
            case .write:
                let n = SegmentSend.send(fd, session)
                if n < 0 {
                    if errno == EINTR { continue }
                    return  // peer gone, or the send timeout passed
                }
                session.didWrite(n)
            case .read:
                let idle = session.isIdle
                if idle { connection.becomeIdle() }
                let space = session.readSpace()
                let n = recv(fd, space.baseAddress, space.count, 0)
                // A stop that claimed this idle connection shut its reading
                // side; bytes that were already here are still a request to answer.
                if idle && !connection.becomeBusy() && n <= 0 { return }
                if n > 0 {
                    session.didRead(n)
                } else if n == 0 {
                    return  // peer closed
                } else if errno == EINTR {
                    continue
                } else if errno == EAGAIN || errno == EWOULDBLOCK {
                    session.deadlinePassed()
                } else {
                    return
                }
            case .close:
                return
            case .wait:
                // A handler deferred its response: block until it comes, or
                // until --response-timeout (then 504 and close).
                let deadline = monotonicMilliseconds() + Int(live.withLock { $0.responseTimeout } * 1000)
                while true {
                    let remaining = deadline - monotonicMilliseconds()
                    guard remaining > 0 else {
                        session.deadlinePassed()
                        break
                    }
                    if let late = resumer.next(waitingAtMost: remaining), session.answer(late) { break }
                }
            }
        }
    }

    public func stop() {
        guard !stopCalled.exchange(true, ordering: .sequentiallyConsistent) else { return }
        // New clients are turned away while the queue is emptied; an
        // inherited socket is the supervisor's to refuse (on a stop only).
        // Before `stopping` is set: once it is, the acceptor may close the
        // listener, and its number may already name another socket.
        if configuration.inheritedListeners.isEmpty { Listener.refuseNewConnections(listenFD) }
        stopping.store(true, ordering: .sequentiallyConsistent)
        slots.release()  // wake the acceptor if it waits for a slot
        // The listener is non-blocking: the acceptor sees `stopping` within a poll.
    }

    /// Closes the reading side of each connection that has been idle for
    /// the drain grace: its blocked recv returns what is buffered, then 0.
    /// Connections idle for less may have a request on its way (the stop
    /// reaches a thread that is busy only once it has answered).
    private func closeIdleConnections(grace: Int) {
        let now = monotonicMilliseconds()
        connections.withLock {
            for connection in $0.values where now - connection.idleSince.load(ordering: .sequentiallyConsistent) >= grace {
                if connection.claimIfIdle() { shutdown(connection.fd, Int32(SHUT_RD)) }
            }
        }
    }

    /// Applies to connections accepted from now on (their receive timeout)
    /// and to the drain. The threads engine has no keep-alive, head, body or
    /// send deadlines of its own, nor read-ahead or shedding.
    public func reconfigure(_ settings: LiveSettings) {
        live.withLock { $0 = settings }
    }

    public func waitUntilStopped() {
        acceptor?.join()
        acceptor = nil
    }

    /// Acceptor thread, after the stop: waits for the connections to end,
    /// closing idle ones after the grace, and cuts the rest off at the drain timeout.
    private func drain() {
        let settings = live.withLock { $0 }
        let grace = Int(settings.drainIdleGrace * 1000)
        var waited = 0.0
        var forced = false
        while connections.withLock({ !$0.isEmpty }) {
            closeIdleConnections(grace: grace)
            if !forced && waited >= settings.drainTimeout {
                // In-flight requests had their chance; cut the stragglers off.
                connections.withLock {
                    for connection in $0.values { shutdown(connection.fd, Int32(SHUT_RDWR)) }
                }
                forced = true
            }
            usleep(5_000)
            waited += 0.005
        }
    }
}

/// A connection's fd and whether its thread is waiting for a new request.
///
/// The graceful stop may shut a connection's reading side only while it is
/// idle, and only once it has been idle for the drain grace. The two sides
/// use one atomic word (busy, idle, claimed): the stop claims with a CAS from
/// idle, and the thread learns it was claimed when its CAS back to busy
/// fails; it still answers any bytes its recv returned.
final class Connection: Sendable {
    let fd: Int32
    /// Sequence number, for placing the connection's thread.
    let thread: Int
    private let state = Atomic(State.busy.rawValue)
    /// When the connection last became idle (ms, monotonic); written by its
    /// thread, read by the stop.
    let idleSince = Atomic(Int.max)
    enum State: Int { case busy, idle, claimed }

    init(fd: Int32, thread: Int) {
        self.fd = fd
        self.thread = thread
    }

    /// Connection thread: about to block for the next request. The time
    /// is written first, so a stop that sees the idle state sees it too.
    func becomeIdle() {
        idleSince.store(monotonicMilliseconds(), ordering: .sequentiallyConsistent)
        state.store(State.idle.rawValue, ordering: .sequentiallyConsistent)
    }

    /// Connection thread: bytes arrived. False if `stop` claimed it first.
    func becomeBusy() -> Bool {
        state.compareExchange(expected: State.idle.rawValue, desired: State.busy.rawValue,
                              ordering: .sequentiallyConsistent).exchanged
    }

    /// Stopping thread (or the connection itself): take an idle connection.
    func claimIfIdle() -> Bool {
        state.compareExchange(expected: State.idle.rawValue, desired: State.claimed.rawValue,
                              ordering: .sequentiallyConsistent).exchanged
    }
}
