import Glibc
import HTTP1
import Metrics
import Topology

/// Settings shared by every engine; each is a `switchyard serve` flag.
public struct EngineConfiguration: Sendable, Equatable {
    public var host = "127.0.0.1"
    /// 0 asks the kernel for a free port (tests); read it back from `boundPort`.
    public var port = 8080
    /// Worker threads for engines with a fixed pool (event loops); the
    /// `threads` engine runs one thread per connection and does not use it.
    public var threads = 1
    /// Connections served at once; more wait in the listen backlog.
    public var maxConnections = 1024
    public var backlog = 1024
    /// Seconds a connection may wait for the client's next bytes; 0 disables.
    public var readTimeout = 60.0
    /// Seconds a graceful stop waits for in-flight requests before forcing.
    public var drainTimeout = 10.0
    /// Seconds a graceful stop keeps an idle keep-alive connection open for
    /// a request the client may already have sent (it is answered with
    /// `Connection: close`). Closing at once would reset requests already in
    /// the kernel's receive buffer or on the wire; see the README's drain section.
    public var drainIdleGrace = 0.5
    /// Listening sockets opened by a supervisor process and inherited: one
    /// per loop with `--accept reuseport`, else one. Empty: the engine opens
    /// its own. The engine may close its copies (the supervisor keeps its
    /// own open, so the accept queue outlives this process).
    public var inheritedListeners: [Int32] = []
    public var limits = HTTPLimits()
    /// Where engine threads run (`--pin`); nil leaves them to the scheduler.
    public var placement: Placement?

    // Reactor engines (epoll and later ones).

    /// How connections reach event loops.
    public var acceptPolicy = AcceptPolicy.reusePort
    /// How the `acceptor` policy picks a loop.
    public var balance = Balance.roundRobin
    /// `hash` and `reuseport-hash`: hash the client's port with its address
    /// (each connection of one client may land elsewhere; for many clients
    /// behind one address).
    public var hashPort = false
    /// `reuseport-cpu` and `reuseport-hash`: if the kernel refuses the BPF
    /// program, serve with the plain reuseport hash (logged) rather than stop.
    public var steeringFallback = false
    /// Tests only: attach a program the kernel must refuse, to exercise the
    /// refusal path on a kernel that would accept the real one.
    public var testRefuseSteering = false
    /// Process mode with a load-aware acceptor choice (`p2c`,
    /// `least-loaded`): the table of every worker's loop loads and where the
    /// other workers' acceptors listen for hand-offs. nil otherwise.
    public var sharedLoads: SharedLoadsPlan?
    /// Seconds from a request's first byte to the end of its head; a client
    /// trickling bytes is still cut off (408).
    public var headTimeout = 10.0
    /// Seconds an idle keep-alive connection stays open.
    public var keepAliveTimeout = 60.0
    /// Seconds without body bytes before a request is abandoned (408).
    public var bodyTimeout = 30.0
    /// Seconds without write progress before the client is cut off.
    public var sendTimeout = 30.0
    /// Seconds a deferred response (`respondLater`) may take before the
    /// client gets 504 and the connection closes.
    public var responseTimeout = 30.0
    /// Unsent response bytes per connection beyond which it stops being read.
    public var readAheadLimit = 256 * 1024
    /// Event loops: seconds a free pooled buffer must stay unused before it
    /// goes back to the allocator (0: never; the pool keeps up to 256 per class).
    public var poolDecay = 0.5
    /// Event loops: free buffers per size class a loop's pool always keeps.
    public var poolKeep = 16
    /// Connections per loop beyond which new ones get 503 with Retry-After
    /// (load shedding); 0 turns it off.
    public var shedAbove = 0
    /// Connections one client address may hold at once (0: no limit); past
    /// it a new connection gets 429 with Retry-After, then close.
    public var maxConnectionsPerAddress = 0

    /// The io_uring engine's feature switches.
    public var uring = UringOptions()
    /// The work-stealing engine's queue and scheduling knobs.
    public var steal = StealOptions()
    /// Process mode: worker k's threads take the plan's places from
    /// k x threads on, so the workers' loops do not pile onto the same CPUs.
    public var placementOffset = 0
    /// The queueing-delay overload controller of event-loop engines.
    public var overload = OverloadSettings()

    public init() {}
}

extension EngineConfiguration {
    /// The CPU for engine thread `index`, if placement pins it. Threads beyond
    /// the plan (a thread-per-connection engine) rotate over its CPUs.
    public func pinnedCPU(forThread index: Int) -> Int? {
        guard let placement else { return nil }
        let cpus = placement.cpus.compactMap { $0 }
        return cpus.isEmpty ? nil : cpus[(index + placementOffset) % cpus.count]
    }

    /// Binds the calling thread as the placement says; a failure is logged,
    /// not fatal (the CPU may have gone offline since planning).
    public func pinCurrentThread(index: Int) {
        guard let cpu = pinnedCPU(forThread: index) else { return }
        do {
            try bindCurrentThread(toCPU: cpu)
        } catch {
            let line = Array("switchyard: warning: cannot pin thread \(index) to CPU \(cpu): \(error)\n".utf8)
            line.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
        }
    }
}

/// How accepted connections are spread over event loops (`--accept`).
///
/// Two mechanisms: the kernel picks among one SO_REUSEPORT listener per
/// loop (`reuseport`, and the two steered by a BPF program attached to the
/// group), or one acceptor thread accepts and hands each connection to a
/// loop it chooses (`hash`, `p2c`, `round-robin`, `least-loaded`; `acceptor`
/// is the older spelling that takes its choice from `--balance`).
public enum AcceptPolicy: String, Sendable, CaseIterable {
    /// One SO_REUSEPORT listener per loop: the kernel hashes the 4-tuple.
    case reusePort = "reuseport"
    /// Kernel steering: the listener of the loop pinned to the CPU that
    /// received the connection (a classic BPF program on the group).
    case reusePortCPU = "reuseport-cpu"
    /// Kernel steering: rendezvous (highest random weight) hashing of the
    /// client address onto the group's listeners, in a classic BPF program.
    case reusePortHash = "reuseport-hash"
    /// The acceptor thread, choosing by `--balance`.
    case acceptor
    /// The acceptor thread, consistent hashing of the client address (Maglev table).
    case hash
    /// The acceptor thread, the less loaded of two loops drawn at random.
    case p2c
    /// The acceptor thread, loops in turn.
    case roundRobin = "round-robin"
    /// The acceptor thread, the loop with the fewest connections.
    case leastLoaded = "least-loaded"

    /// Whether one acceptor thread hands connections out (else every loop
    /// accepts on its own listener).
    public var usesAcceptorThread: Bool {
        switch self {
        case .reusePort, .reusePortCPU, .reusePortHash: false
        case .acceptor, .hash, .p2c, .roundRobin, .leastLoaded: true
        }
    }

    /// How the acceptor thread chooses a loop under this policy; nil for
    /// the kernel's policies. `.acceptor` defers to `--balance`.
    public func acceptorChoice(balance: Balance) -> Balance? {
        switch self {
        case .reusePort, .reusePortCPU, .reusePortHash: nil
        case .acceptor: balance
        case .hash: .hash
        case .p2c: .p2c
        case .roundRobin: .roundRobin
        case .leastLoaded: .leastLoaded
        }
    }

    /// The BPF program the reuseport group gets, if any.
    public var steering: ReuseportSteering.Kind? {
        switch self {
        case .reusePortCPU: .cpu
        case .reusePortHash: .hash
        default: nil
        }
    }

    /// The names `--accept` takes, for error messages.
    public static var allowedText: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// Process mode: where the workers' acceptors meet (`EventLoopCore.SharedLoads`).
public struct SharedLoadsPlan: Sendable, Equatable {
    /// A memfd of `processes x loops` 64-bit loads, made by the supervisor.
    public var tableFD: Int32
    public var slot: Int
    public var processes: Int
    /// The supervisor's directory; worker k of configuration generation g
    /// binds `acceptor-k-g.sock` there.
    public var directory: String
    public var generation: Int

    public init(tableFD: Int32, slot: Int, processes: Int, directory: String, generation: Int) {
        self.tableFD = tableFD
        self.slot = slot
        self.processes = processes
        self.directory = directory
        self.generation = generation
    }

    /// Whether the acceptor's choice reads loads (and so is made across workers).
    public static func applies(to choice: Balance?) -> Bool { choice == .p2c || choice == .leastLoaded }
}

/// How the acceptor thread picks the loop for a new connection.
public enum Balance: String, Sendable, CaseIterable {
    case roundRobin = "round-robin"
    case leastLoaded = "least-loaded"
    /// Power of two random choices on live connections.
    case p2c
    /// Consistent hashing of the client address (`MaglevTable`).
    case hash
}

/// Why an engine could not start, worded for the operator.
public struct EngineError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// An I/O engine: owns sockets, buffers and threads, and drives one
/// `HTTPSession` per connection. It knows nothing of HTTP beyond that.
///
/// Life cycle: `start()` binds and begins accepting (it returns once the
/// listening socket is ready, so `boundPort` is valid); `stop()` begins a
/// graceful stop from any thread (stop accepting, finish responses in flight,
/// close idle keep-alive connections) and returns at once;
/// `waitUntilStopped()` blocks until every connection is closed and every
/// thread has ended.
public protocol Engine: AnyObject, Sendable {
    func start() throws(EngineError)
    var boundPort: Int { get }
    func stop()
    func waitUntilStopped()
    /// Applies what a reload may change while serving (any thread). Each
    /// value takes effect at the next point that reads it: a deadline armed,
    /// a connection admitted, a drain begun.
    func reconfigure(_ settings: LiveSettings)
}

/// The settings a running server takes on reload without a restart. The rest
/// of `EngineConfiguration` (engine, threads, address, limits, placement...)
/// is fixed for the life of the engine.
public struct LiveSettings: Sendable, Equatable {
    public var readTimeout: Double
    public var headTimeout: Double
    public var keepAliveTimeout: Double
    public var bodyTimeout: Double
    public var sendTimeout: Double
    public var responseTimeout: Double
    public var drainTimeout: Double
    public var drainIdleGrace: Double
    public var readAheadLimit: Int
    public var shedAbove: Int
    /// For connections accepted from now on; a connection keeps the limits
    /// it was accepted with (its parser and buffers are sized by them).
    public var limits: HTTPLimits

    public init(_ configuration: EngineConfiguration) {
        readTimeout = configuration.readTimeout
        headTimeout = configuration.headTimeout
        keepAliveTimeout = configuration.keepAliveTimeout
        bodyTimeout = configuration.bodyTimeout
        sendTimeout = configuration.sendTimeout
        responseTimeout = configuration.responseTimeout
        drainTimeout = configuration.drainTimeout
        drainIdleGrace = configuration.drainIdleGrace
        readAheadLimit = configuration.readAheadLimit
        shedAbove = configuration.shedAbove
        limits = configuration.limits
    }
}

/// Whether an engine can run on this machine, and why not.
public enum Availability: Sendable, Equatable {
    case available
    case unavailable(reason: String)

    public var isAvailable: Bool { self == .available }
}

/// One entry of the engine registry.
public struct EngineDescriptor: Sendable {
    public let name: String
    public let summary: String
    /// Probed when asked, so the answer reflects this machine now.
    public let availability: @Sendable () -> Availability
    /// Builds the engine; its workers record into `metrics`.
    public let make: @Sendable (EngineConfiguration, any HTTPResponder, MetricsRegistry) -> any Engine
    /// Whether `--accept` and `--balance` mean anything to it (event loops
    /// that accept for themselves); a sweep collapses `accept` otherwise.
    public let isReactor: Bool
    /// Whether `--threads` sizes a pool of workers. One thread per
    /// connection does not, so a sweep does not vary threads for it.
    public let hasThreadPool: Bool

    /// The configurations the end-to-end suites run as engines of their own
    /// (the engine itself first): each engine module names the variants
    /// worth covering, e.g. io_uring's single-shot receive.
    public let variants: [EngineVariant]
    /// Checks the engine's own settings before anything starts (all
    /// engines' checks run, whichever is chosen: a flag is checked even when
    /// it does not apply); nil when they are fine, else the operator message.
    public let validate: @Sendable (EngineConfiguration) -> String?
    /// What `switchyard engines` prints about the engine on this machine
    /// beyond availability (io_uring: the probe's findings).
    public let details: @Sendable () -> [String]

    public init(name: String, summary: String, isReactor: Bool, hasThreadPool: Bool,
                availability: @escaping @Sendable () -> Availability,
                variants: [EngineVariant] = [],
                validate: @escaping @Sendable (EngineConfiguration) -> String? = { _ in nil },
                details: @escaping @Sendable () -> [String] = { [] },
                make: @escaping @Sendable (EngineConfiguration, any HTTPResponder, MetricsRegistry) -> any Engine) {
        self.name = name
        self.summary = summary
        self.isReactor = isReactor
        self.hasThreadPool = hasThreadPool
        self.availability = availability
        self.variants = [EngineVariant(engine: name)] + variants
        self.validate = validate
        self.details = details
        self.make = make
    }
}

/// An engine under a configuration worth testing as if it were an engine
/// of its own ("io_uring/single", "stealing/tiny"): its name, the engine,
/// and the settings both as a configuration change (in-process tests) and
/// as `serve` flags (tests of the binary).
public struct EngineVariant: Sendable {
    public let name: String
    public let engine: String
    public let arguments: [String]
    public let configure: @Sendable (inout EngineConfiguration) -> Void

    /// The engine as it is.
    public init(engine: String) {
        self.init(name: engine, engine: engine, arguments: [], configure: { _ in })
    }

    /// `engine/suffix` with `arguments` (added after `--engine engine`) and
    /// the same change as a configuration.
    public init(engine: String, suffix: String, arguments: [String],
                configure: @escaping @Sendable (inout EngineConfiguration) -> Void) {
        self.init(name: "\(engine)/\(suffix)", engine: engine, arguments: arguments, configure: configure)
    }

    private init(name: String, engine: String, arguments: [String], configure: @escaping @Sendable (inout EngineConfiguration) -> Void) {
        self.name = name
        self.engine = engine
        self.arguments = ["--engine", engine] + arguments
        self.configure = configure
    }
}
