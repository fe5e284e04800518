import CSystem
import EngineCore
import Glibc
import HTTP1
import Metrics
import Synchronization

/// The reactor engine: N event loops, each with its own epoll instance,
/// non-blocking sockets and edge-triggered readiness.
///
/// Connections reach loops by one of two policies (`--accept`):
/// - `reuseport`: one SO_REUSEPORT listener per loop; the kernel hashes each
///   new connection to a listener, and the loop accepts it itself. No thread
///   hands anything to another. The `--max-connections` budget is shared
///   (see `ConnectionBudget`); a loop that finds it spent takes its listener
///   out of its epoll set, so new clients wait in the kernel backlog.
/// - `acceptor`: one thread blocks in `accept` and hands each connection to a
///   loop (round-robin or least-loaded) through the loop's inbox and eventfd.
///   A semaphore holds the engine-wide cap.
public final class EpollEngine: Engine, @unchecked Sendable {
    public static let descriptor = EngineDescriptor(
        name: "epoll",
        summary: "thread-per-core reactors, edge-triggered epoll, timer wheel",
        isReactor: true, hasThreadPool: true,
        availability: {
            let fd = epoll_create1(Int32(EPOLL_CLOEXEC))
            guard fd >= 0 else { return .unavailable(reason: "epoll_create1 failed: \(errnoText())") }
            close(fd)
            return .available
        },
        make: { EpollEngine(configuration: $0, responder: $1, metrics: $2) })

    // @unchecked Sendable: fields are written in `start` before any thread
    // that reads them exists, or are atomic.
    let configuration: EngineConfiguration
    let responder: any HTTPResponder
    let metrics: MetricsRegistry
    private var reactors: [Reactor] = []
    private var threads: [Thread] = []
    private var acceptorThread: Thread?
    private var acceptorFD: Int32 = -1
    public private(set) var boundPort = 0
    private let stopping = Atomic(false)
    /// Free connection slots (acceptor policy).
    private let slots: ConnectionSlots

    public init(configuration: EngineConfiguration, responder: any HTTPResponder, metrics: MetricsRegistry = .shared) {
        self.configuration = configuration
        self.responder = responder
        self.metrics = metrics
        slots = ConnectionSlots(count: configuration.maxConnections)
    }

    public func start() throws(EngineError) {
        let loops = configuration.threads
        guard loops >= 1 else { throw EngineError("--threads \(loops): must be at least 1") }
        guard configuration.maxConnections >= loops else {
            throw EngineError("--max-connections \(configuration.maxConnections): must be at least --threads (\(loops))")
        }
        let usesAcceptor = configuration.acceptPolicy == .acceptor
        let budget = usesAcceptor ? nil : ConnectionBudget(cap: configuration.maxConnections)
        let release: @Sendable () -> Void
        if let budget {
            release = { [unowned self] in
                if budget.release() { for reactor in reactors { reactor.wakeIfPaused() } }
            }
        } else {
            release = { [unowned self] in self.slots.release() }
        }
        for i in 0..<loops {
            reactors.append(try Reactor(index: i, configuration: configuration, responder: responder,
                                        budget: budget, onClose: release))
        }
        if usesAcceptor {
            let (fd, port) = try Listener.open(host: configuration.host, port: configuration.port, backlog: configuration.backlog)
            acceptorFD = fd
            boundPort = port
        } else {
            // The first listener may ask for port 0; the others must share its port.
            var port = configuration.port
            var first = true
            for reactor in reactors {
                do throws(EngineError) {
                    // Only the first bind probes the port; the rest join our own group.
                    let (fd, bound) = try Listener.open(host: configuration.host, port: port, backlog: configuration.backlog,
                                                       reusePort: true, nonBlocking: true, probeFirst: first)
                    reactor.listenFD = fd
                    port = bound
                    first = false
                } catch {
                    for r in reactors where r.listenFD >= 0 { close(r.listenFD) }
                    throw error
                }
            }
            boundPort = port
        }
        metrics.setInfo("engine", "epoll")
        metrics.setInfo("accept", configuration.acceptPolicy.rawValue)
        metrics.setInfo("loops", String(loops))
        metrics.setInfo("pin", configuration.placement?.policy.description ?? "none")
        metrics.setInfo("cpus", configuration.placement?.cpuList ?? "none")
        for reactor in reactors {
            metrics.register(reactor.counters)
            threads.append(Thread.spawn(name: "loop-\(reactor.index)") { reactor.run() })
        }
        if usesAcceptor {
            acceptorThread = Thread.spawn(name: "acceptor") { [self] in acceptLoop() }
        }
    }

    /// Acceptor policy: block in accept, hand each connection to a loop.
    private func acceptLoop() {
        var next = 0
        while !stopping.load(ordering: .acquiring) {
            slots.acquire()
            if stopping.load(ordering: .acquiring) { break }
            let fd = accept4(acceptorFD, nil, nil, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
            guard fd >= 0 else {
                slots.release()
                if stopping.load(ordering: .acquiring) { break }
                if errno == EMFILE || errno == ENFILE || errno == ENOMEM { usleep(10_000) }
                continue
            }
            let target: Reactor
            switch configuration.balance {
            case .roundRobin:
                target = reactors[next]
                next = (next + 1) % reactors.count
            case .leastLoaded:
                target = reactors.min { $0.openCount.load(ordering: .relaxed) < $1.openCount.load(ordering: .relaxed) }!
            }
            target.enqueue(fd)
        }
        close(acceptorFD)
    }

    public func stop() {
        guard !stopping.exchange(true, ordering: .sequentiallyConsistent) else { return }
        if acceptorFD >= 0 {
            slots.release()
            shutdown(acceptorFD, Int32(SHUT_RDWR))
        }
        for reactor in reactors { reactor.requestStop() }
    }

    public func waitUntilStopped() {
        acceptorThread?.join()
        acceptorThread = nil
        for thread in threads { thread.join() }
        threads = []
        for reactor in reactors { metrics.retire(reactor.counters) }
        reactors = []
    }
}
