import ArgumentParser
import Experiments
import Application
import CSystem
import EngineCore
import Engines
import Glibc
import HTTP1
import Logging
import Metrics
import Topology

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the built-in application with the chosen engine.",
        discussion: """
            Routes: /plaintext /json /echo /work?us=N /users/:id /static/*path /health /metrics. SIGINT or SIGTERM stops \
            gracefully; SIGHUP reloads the configuration. Every option below is also a key of the --config file (TOML, \
            read-timeout = "30s") and an environment variable (SWITCHYARD_READ_TIMEOUT=30s); flags win over the \
            environment, which wins over the file. `switchyard config check FILE` shows the result.
            """)

    @Option(help: "Configuration file (TOML; keys are these options' names, see `switchyard config check`).")
    var config: String?

    @Option(help: "single: one process; processes: a supervisor that runs no request code keeps the listening sockets and runs --processes worker processes, restarting any that dies.")
    var workers: WorkerMode = .single

    @Option(help: "Process mode: worker processes (0: one per CPU this process may use).")
    var processes: Int = 0

    @Option(help: "Process mode: worker deaths in one minute beyond which the supervisor stops restarting that worker.")
    var restartLimit: Int = 10

    @Flag(help: "Test aid: adds GET /crash, whose handler traps, to watch a supervisor contain a crash. Never in production.")
    var enableCrashRoute = false

    @Option(help: "Operator messages shown: trace, debug, info, notice, warning, error, critical (reloadable).")
    var logLevel: Logger.Level = .info

    // Set by a supervisor for its workers, not by hand.
    @Option(help: .hidden) var inheritListeners: Int = 0
    @Option(help: .hidden) var processSlot: Int = -1
    @Option(help: .hidden) var processDir: String?
    @Option(help: .hidden) var configGeneration: Int = 1
    /// Process mode: the supervisor's table of loop loads is the descriptor after the listeners.
    @Flag(help: .hidden) var sharedLoads = false

    @Flag(help: "Stop gracefully when the process that started this one exits (`switchyard sweep` sets it, so a sweep killed outright leaves no server running).")
    var exitWithParent = false

    @Option(help: "I/O engine (see `switchyard engines`); auto picks io_uring where it works here, else epoll.")
    var engine: String = EngineRegistry.defaultName

    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "TCP port (0: any free port).")
    var port: Int = 8080

    @Option(help: "Worker threads for engines with a fixed pool (ignored by `threads`, which runs one per connection).")
    var threads: Int = 1

    @Option(help: "Connections served at once; more wait in the listen backlog.")
    var maxConnections: Int = 1024

    @Option(help: "Listen backlog.")
    var backlog: Int = 1024

    @Option(help: "How long to wait for a client's next bytes (0: forever); 500ms, 10s, 2m, or seconds.")
    var readTimeout = Seconds(60)

    @Option(help: "How long a graceful stop waits for requests in flight (10s, 500ms, or seconds).")
    var drainTimeout = Seconds(10)

    @Option(help: "How long a graceful stop keeps an idle keep-alive connection open for a request already on its way (answered with Connection: close); 0: close idle connections at once.")
    var drainIdleGrace = Seconds(0.5)

    @Option(help: "Longest request line in bytes (414 beyond).")
    var maxRequestLine: Int = 8 * 1024

    @Option(help: "Largest header section in bytes (431 beyond).")
    var maxHeaderBytes: Int = 16 * 1024

    @Option(help: "Longest single header field line in bytes (431 beyond).")
    var maxFieldBytes: Int = 8 * 1024

    @Option(help: "Most header fields in a request (431 beyond).")
    var maxFields: Int = 100

    @Option(help: "Largest request body in bytes (413 beyond).")
    var maxBody: Int = 1024 * 1024

    @Option(help: "Requests one keep-alive connection may carry; the last response says Connection: close (0: no limit).")
    var maxRequestsPerConnection: Int = 0

    @Option(name: .customLong("parser-simd"),
            help: "The parser's byte scanners: auto (the fastest this CPU runs), avx2, sse42 or scalar; every variant parses identically.")
    var parserSIMD: String = "auto"

    @Option(help: "Directory served under /static/.")
    var staticDir: String?

    @Option(help: "Thread placement: none, compact (fill cores in order, hyper-threads last), scatter (spread over packages and NUMA nodes first), or cpus:0,2,4.")
    var pin: String = "none"

    @Option(help: "Reactor engines: how connections reach loops. The kernel, over one listener per loop: reuseport (its 4-tuple hash), reuseport-cpu (the loop pinned to the CPU that received the connection; needs --pin), reuseport-hash (consistent hashing of the client address). One acceptor thread: hash (consistent, Maglev), p2c (less loaded of two random loops), round-robin, least-loaded; acceptor takes its choice from --balance.")
    var accept: AcceptPolicy = .reusePort

    @Option(help: "With --accept acceptor: how the acceptor thread chooses a loop (the older spelling of --accept round-robin|least-loaded|p2c|hash).")
    var balance: Balance = .roundRobin

    @Flag(inversion: .prefixedNo, help: "--accept hash or reuseport-hash: hash the client's port with its address (spreads many clients behind one address; a client no longer keeps its loop).")
    var hashPort = false

    @Flag(help: "--accept reuseport-cpu or reuseport-hash: if the kernel refuses the BPF program, serve with the plain reuseport hash (logged) instead of refusing to start.")
    var steeringFallback = false

    @Flag(help: .hidden) var testRefuseSteering = false

    @Option(help: "Reactor engines: time from a request's first byte to the end of its head (408 after); 10s, 500ms, or seconds.")
    var headTimeout = Seconds(10)

    @Option(help: "Reactor engines: how long an idle keep-alive connection stays open (60s, 2m, or seconds).")
    var keepAliveTimeout = Seconds(60)

    @Option(help: "Reactor engines: time without body bytes before a request gets 408 (30s, or seconds).")
    var bodyTimeout = Seconds(30)

    @Option(help: "Reactor engines: time without write progress before the client is cut off (30s, or seconds).")
    var sendTimeout = Seconds(30)

    @Option(help: "Time a handler's deferred response (respondLater) may take before the client gets 504 and the connection closes (30s, 500ms, or seconds).")
    var responseTimeout = Seconds(30)

    @Option(help: "Reactor engines: unsent response bytes per connection beyond which it stops being read.")
    var readAheadLimit: Int = 256 * 1024

    @Option(help: "Event-loop engines: a pooled buffer unused for this long goes back to the allocator, so a burst's memory is returned (500ms, or seconds; 0: never).")
    var poolDecay = Seconds(0.5)

    @Option(help: "Event-loop engines: free buffers per size class (4, 16, 64 KiB) each loop's pool keeps through a decay.")
    var poolKeep: Int = 16

    @Option(help: "Reactor engines: connections per loop beyond which new ones get 503 with Retry-After (0: off).")
    var shedAbove: Int = 0

    @Flag(inversion: .prefixedNo, help: "Reactor engines: shed by priority class when a loop's queueing delay stays above --overload-target for --overload-interval (503 with Retry-After, no handler run; critical routes never).")
    var overloadControl = false

    @Option(help: "Reactor engines: queueing delay a loop may sustain before the overload controller sheds low-priority requests (CoDel's target).")
    var overloadTarget = Seconds(0.005)

    @Option(help: "Reactor engines: how long the queueing delay must stay above the target (or, to recover, below it) before the overload state changes.")
    var overloadInterval = Seconds(0.1)

    @Option(help: "Reactor engines: queueing delay beyond which an overloaded loop sheds normal-priority requests too.")
    var overloadNormalTarget = Seconds(0.05)

    @Option(help: "Route classes for the overload controller, PATTERN=CLASS[,...] over the defaults /health=critical,/metrics=critical,/work=low; CLASS is critical, normal or low; PATTERN a route pattern (/users/:id) or a prefix ending in * (/static/*).")
    var priority: String = ""

    @Option(help: "Connections one client address may hold at once; past it a new one gets 429 with Retry-After, then close (0: no limit).")
    var maxConnectionsPerAddress: Int = 0

    @Option(help: "io_uring: how connections receive (multishot: one multishot receive into provided buffers, parsed in place; single: one receive at a time into the session's buffer).")
    var uringRecv: UringOptions.ReceiveMode = .multishot

    @Option(help: "io_uring: submission queue entries per ring (a power of two).")
    var uringSqEntries: Int = 256

    @Option(help: "io_uring: completion queue size as a multiple of the submission queue.")
    var uringCqFactor: Int = 8

    @Option(help: "io_uring: provided buffers per ring (multishot receive; a power of two).")
    var uringBuffers: Int = 512

    @Option(help: "io_uring: bytes per provided buffer.")
    var uringBufferSize: Int = 4096

    @Flag(inversion: .prefixedNo, help: "io_uring: SINGLE_ISSUER|DEFER_TASKRUN (6.1); off: COOP_TASKRUN.")
    var uringDeferTaskrun = true

    @Flag(inversion: .prefixedNo, help: "io_uring: register the ring fd (5.18), no fd lookup per io_uring_enter.")
    var uringRegisterRingFd = true

    @Flag(inversion: .prefixedNo, help: "io_uring: multishot accept (5.19); off: one accept at a time.")
    var uringMultishotAccept = true

    @Flag(inversion: .prefixedNo, help: "io_uring: each turn waits for its sends' completions plus one more, so one io_uring_enter serves a turn (smaller batches; pays only with few connections); off: wake on the first completion.")
    var uringWaitForSends = false

    @Flag(help: "io_uring: accept straight into the ring's registered file table (5.19; --accept reuseport only): no descriptors, no file lookup per operation.")
    var uringDirectDescriptors = false

    @Flag(help: "io_uring: recv bundles, several buffers per completion (6.10).")
    var uringBundle = false

    @Flag(help: "io_uring: incremental provided-buffer consumption (IOU_PBUF_RING_INC, 6.12).")
    var uringIncremental = false

    @Option(help: "io_uring: microseconds the kernel may keep gathering completions once one is ready (6.12; 0: off).")
    var uringMinWaitUs: Int = 0

    @Option(help: "io_uring: responses of at least this many bytes use zero-copy send (0: off; loopback copies anyway).")
    var uringZcThreshold: Int = 0

    @Flag(help: "io_uring: a kernel thread polls the submission queue (costs a core; does not pay with one server core).")
    var uringSqpoll = false

    @Option(help: "stealing: where readiness goes: shared (one epoll set, harvested by whichever worker is free) or per-worker (each worker's own set; idle workers harvest busy ones' sets).")
    var stealReadiness: StealOptions.Readiness = .shared

    @Option(help: "stealing: tasks each worker's run queue holds (a power of two); beyond it half moves to the shared inject queue.")
    var stealQueue: Int = 256

    @Option(help: "stealing: runs in a row of the LIFO slot (a connection ready again while it ran) before it waits its turn; 0: no LIFO slot.")
    var stealLifoPolls: Int = 3

    @Option(help: "stealing: workers that may search other queues at once (0: half the workers, at least one).")
    var stealSearchers: Int = 0

    @Option(help: "stealing: a worker looks at the inject queue (and its listener) first every this many tasks.")
    var stealInjectInterval: Int = 61

    @Option(help: "stealing: readiness events taken from the shared epoll set per call.")
    var stealHarvestBatch: Int = 64

    @Flag(inversion: .prefixedNo, help: "stealing: a worker with an empty queue steals what others have queued before it harvests new readiness (older work first); off: it steals only when nothing is ready.")
    var stealFirst = true

    var stealOptions: StealOptions {
        var o = StealOptions()
        o.readiness = stealReadiness
        o.queueCapacity = stealQueue
        o.lifoPolls = stealLifoPolls
        o.searchers = stealSearchers
        o.injectInterval = stealInjectInterval
        o.harvestBatch = stealHarvestBatch
        o.stealFirst = stealFirst
        return o
    }

    var uringOptions: UringOptions {
        var o = UringOptions()
        o.receive = uringRecv
        o.sqEntries = uringSqEntries
        o.cqFactor = uringCqFactor
        o.buffers = uringBuffers
        o.bufferSize = uringBufferSize
        o.deferTaskrun = uringDeferTaskrun
        o.registerRingFD = uringRegisterRingFd
        o.multishotAccept = uringMultishotAccept
        o.waitForSends = uringWaitForSends
        o.directDescriptors = uringDirectDescriptors
        o.bundle = uringBundle
        o.incremental = uringIncremental
        o.minWaitMicroseconds = uringMinWaitUs
        o.zeroCopyThreshold = uringZcThreshold
        o.sqPoll = uringSqpoll
        return o
    }

    /// The engine `--engine` names, with `auto` resolved, and why.
    func resolvedEngine() -> (name: String, why: String?) {
        guard engine == EngineRegistry.defaultName else { return (engine, nil) }
        let choice = EngineRegistry.autoChoice(engineSettings)
        return (choice.name, choice.why)
    }

    /// The engines' own settings, for their checks and the auto choice.
    var engineSettings: EngineConfiguration {
        var settings = EngineConfiguration()
        settings.uring = uringOptions
        settings.steal = stealOptions
        settings.threads = threads
        return settings
    }

    /// `--parser-simd` as the variant it selects on this CPU.
    func resolvedParserSIMD() throws -> ParserSIMD {
        guard let simd = ParserSIMD(choice: parserSIMD) else {
            throw ValidationError("--parser-simd \(parserSIMD): allowed values are \(ParserSIMD.choices.joined(separator: ", "))")
        }
        guard simd.isSupported else {
            let here = ParserSIMD.supported.map(\.description).joined(separator: ", ")
            throw ValidationError("--parser-simd \(parserSIMD): this CPU does not have it (it runs: auto, \(here))")
        }
        return simd
    }

    func validate() throws {
        if let problem = EngineRegistry.problem(with: engineSettings) { throw ValidationError(problem) }
        let engine = resolvedEngine().name
        guard let descriptor = EngineRegistry.named(engine) else {
            throw ValidationError("--engine '\(engine)' is unknown; allowed values: auto, \(EngineRegistry.names.joined(separator: ", "))")
        }
        if case .unavailable(let reason) = descriptor.availability() {
            let others = EngineRegistry.available.map(\.name).joined(separator: ", ")
            throw ValidationError("--engine \(engine) is not available on this machine: \(reason) (available: \(others))")
        }
        guard processes >= 0 else { throw ValidationError("--processes \(processes): must be 0 (one per CPU) or more") }
        if let problem = acceptProblem(engine: engine, isReactor: descriptor.isReactor) { throw ValidationError(problem) }
        guard restartLimit >= 1 else { throw ValidationError("--restart-limit \(restartLimit): must be at least 1") }
        guard (0...65535).contains(port) else { throw ValidationError("--port \(port): must be from 0 to 65535") }
        guard threads >= 1 else { throw ValidationError("--threads \(threads): must be at least 1") }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections \(maxConnections): must be at least 1") }
        guard backlog >= 1 else { throw ValidationError("--backlog \(backlog): must be at least 1") }
        guard readTimeout.value >= 0 else { throw ValidationError("--read-timeout \(readTimeout.text): must be 0 or more seconds") }
        for (flag, value) in [("--head-timeout", headTimeout), ("--keep-alive-timeout", keepAliveTimeout),
                              ("--body-timeout", bodyTimeout), ("--send-timeout", sendTimeout),
                              ("--response-timeout", responseTimeout)] where value.value <= 0 {
            throw ValidationError("\(flag) \(value.text): must be more than 0 seconds")
        }
        guard poolDecay.value >= 0 else { throw ValidationError("--pool-decay \(poolDecay.text): must be 0 (never) or more seconds") }
        guard (0...256).contains(poolKeep) else { throw ValidationError("--pool-keep \(poolKeep): must be from 0 to 256 (a pool caches at most 256 buffers per class)") }
        guard readAheadLimit >= 1024 else { throw ValidationError("--read-ahead-limit \(readAheadLimit): must be at least 1024") }
        guard maxRequestsPerConnection >= 0 else {
            throw ValidationError("--max-requests-per-connection \(maxRequestsPerConnection): must be 0 (no limit) or more")
        }
        guard maxConnectionsPerAddress >= 0 else {
            throw ValidationError("--max-connections-per-address \(maxConnectionsPerAddress): must be 0 (no limit) or more")
        }
        if maxConnectionsPerAddress > 0 && uringDirectDescriptors {
            throw ValidationError("--max-connections-per-address needs each connection's address, which --uring-direct-descriptors does not give (no descriptor to ask); use one or the other")
        }
        guard shedAbove >= 0 else { throw ValidationError("--shed-above \(shedAbove): must be 0 (off) or more") }
        for (flag, value) in [("--overload-target", overloadTarget), ("--overload-interval", overloadInterval),
                              ("--overload-normal-target", overloadNormalTarget)] where value.value <= 0 {
            throw ValidationError("\(flag) \(value.text): must be more than 0 seconds")
        }
        guard overloadNormalTarget.value >= overloadTarget.value else {
            throw ValidationError("--overload-normal-target \(overloadNormalTarget.text): must be at least --overload-target (\(overloadTarget.text)), so low requests are shed before normal ones")
        }
        _ = try priorityRules()
        _ = try pinPolicy()
        _ = try resolvedParserSIMD()
        guard drainTimeout.value >= 0 else { throw ValidationError("--drain-timeout \(drainTimeout.text): must be 0 or more seconds") }
        guard drainIdleGrace.value >= 0 else { throw ValidationError("--drain-idle-grace \(drainIdleGrace.text): must be 0 or more seconds") }
        for (flag, value, least) in [("--max-request-line", maxRequestLine, 16), ("--max-header-bytes", maxHeaderBytes, 64),
                                     ("--max-field-bytes", maxFieldBytes, 16), ("--max-fields", maxFields, 1),
                                     ("--max-body", maxBody, 0)] where value < least {
            throw ValidationError("\(flag) \(value): must be at least \(least)")
        }
    }

    func priorityRules() throws -> PriorityRules {
        do {
            return try PriorityRules.defaults(overriddenBy: priority)
        } catch {
            throw ValidationError("--priority \(error.description)")
        }
    }

    func pinPolicy() throws -> PinPolicy {
        do {
            return try PinPolicy(parsing: pin)
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// Resolves flags over environment over file, then serves here or, in
    /// process mode, supervises workers that do.
    func run() throws {
        let cli = Self.ownArguments()
        let effective: Serve, layers: SettingsLayers
        do {
            (effective, layers) = try Self.resolve(cli: cli)
        } catch {
            OperatorLog.bootstrap(level: .info)
            log("error: \(error.description)", .error)
            throw ExitCode(2)  // a supervisor does not restart a worker that exits 2
        }
        OperatorLog.bootstrap(level: effective.logLevel)
        for warning in layers.warnings { log("warning: \(warning)", .warning) }
        if effective.workers == .processes && effective.processSlot < 0 {
            try Supervisor(serve: effective, layers: layers, cli: cli).run()
        } else {
            try effective.serveHere(cli: cli, layers: layers)
        }
    }

    /// `serve`'s own arguments from the process's command line.
    static func ownArguments() -> [String] {
        let all = CommandLine.arguments
        guard let index = all.firstIndex(of: "serve") else { return [] }
        return Array(all[(index + 1)...])
    }

    /// The effective settings; a problem is reported with where its value came from.
    static func resolve(cli: [String]) throws(SettingsLayers.Failure) -> (Serve, SettingsLayers) {
        let layers = try SettingsLayers.resolve(cli: cli, environment: SettingsLayers.processEnvironment())
        do {
            return (try Serve.parse(layers.arguments), layers)
        } catch {
            throw SettingsLayers.Failure(description: layers.annotate(Serve.message(for: error)))
        }
    }

    /// The engine configuration these settings describe.
    func engineConfiguration() throws -> EngineConfiguration {
        var configuration = EngineConfiguration()
        let policy = try pinPolicy()
        if policy != .none {
            do {
                let topology = try CPUTopology.discover()
                // A supervisor's worker plans for every worker's threads and takes its own share.
                let workersSharing = processSlot >= 0 ? max(1, processes) : 1
                configuration.placement = try Placement.plan(policy, threads: threads * workersSharing, topology: topology)
                if processSlot >= 0 { configuration.placementOffset = processSlot * threads }
            } catch {
                throw ValidationError("\(error)")
            }
        }
        configuration.host = host
        configuration.port = port
        configuration.threads = threads
        configuration.maxConnections = maxConnections
        configuration.backlog = backlog
        configuration.readTimeout = readTimeout.value
        configuration.drainTimeout = drainTimeout.value
        configuration.drainIdleGrace = drainIdleGrace.value
        configuration.acceptPolicy = accept
        configuration.balance = balance
        configuration.hashPort = hashPort
        configuration.steeringFallback = steeringFallback
        configuration.testRefuseSteering = testRefuseSteering
        configuration.headTimeout = headTimeout.value
        configuration.keepAliveTimeout = keepAliveTimeout.value
        configuration.bodyTimeout = bodyTimeout.value
        configuration.sendTimeout = sendTimeout.value
        configuration.responseTimeout = responseTimeout.value
        configuration.readAheadLimit = readAheadLimit
        configuration.poolDecay = poolDecay.value
        configuration.poolKeep = poolKeep
        configuration.shedAbove = shedAbove
        configuration.maxConnectionsPerAddress = maxConnectionsPerAddress
        configuration.overload.enabled = overloadControl
        configuration.overload.targetMicros = Int(overloadTarget.value * 1_000_000)
        configuration.overload.intervalMicros = Int(overloadInterval.value * 1_000_000)
        configuration.overload.normalTargetMicros = Int(overloadNormalTarget.value * 1_000_000)
        configuration.uring = uringOptions
        configuration.steal = stealOptions
        configuration.limits = HTTPLimits(
            maxRequestLineBytes: maxRequestLine, maxHeaderBytes: maxHeaderBytes, maxFieldBytes: maxFieldBytes,
            maxFieldCount: maxFields, maxBodyBytes: maxBody, maxRequestsPerConnection: maxRequestsPerConnection,
            parserSIMD: (try? resolvedParserSIMD()) ?? .scalar)
        configuration.inheritedListeners = (0..<inheritListeners).map { Int32(3 + $0) }
        if sharedLoads && processSlot >= 0 {
            configuration.sharedLoads = SharedLoadsPlan(tableFD: Int32(3 + inheritListeners), slot: processSlot,
                                                        processes: max(1, processes), directory: processDir ?? "",
                                                        generation: configGeneration)
        }
        return configuration
    }

    /// Serves in this process (single mode, or one worker of a supervisor)
    /// until SIGINT or SIGTERM; SIGHUP reloads.
    func serveHere(cli: [String], layers: SettingsLayers) throws {
        let configuration = try engineConfiguration()
        var demo = DemoConfiguration(staticDirectory: staticDir, crashRoute: enableCrashRoute)
        demo.priorities = try priorityRules()
        let peers = processSlot >= 0 ? WorkerPeers(directory: processDir ?? "", slot: processSlot, generation: configGeneration) : nil
        if let peers { demo.metricsText = { peers.mergedText() } }
        let application: Application
        do {
            application = try Application.demo(demo)
        } catch {
            log("error: \(error)", .error)
            throw ExitCode(2)
        }
        let unmatched = demo.priorities.unmatched(by: application.routes.map(\.pattern))
        if !unmatched.isEmpty {
            let routes = Set(application.routes.map(\.pattern)).sorted().joined(separator: ", ")
            log("error: --priority: \(unmatched.map { "'\($0.pattern)'" }.joined(separator: ", ")) matches no route (routes: \(routes))", .error)
            throw ExitCode(2)
        }
        if processSlot >= 0 { MetricsRegistry.shared.setInfo("process", String(processSlot)) }
        let (engine, why) = resolvedEngine()
        if let why { log(why) }
        let descriptor = EngineRegistry.named(engine)!
        let server = descriptor.make(configuration, application, .shared)
        let reloader = Reloader(running: self, cli: cli, server: server, inProcessMode: processSlot >= 0)
        reloader.publish(generation: configGeneration, outcome: 1)
        // Signals first: the mask must be in place before any thread starts.
        ShutdownSignals.install { signal in
            if signal == SIGHUP { return reloader.reload() }
            log("received \(signal == SIGINT ? "SIGINT" : "SIGTERM"), stopping gracefully")
            server.stop()
        }
        if exitWithParent {
            // SIGTERM goes through the handler above: a graceful stop.
            switchyard_set_parent_death_signal(SIGTERM)
            // The parent may have died before the request took effect.
            if getppid() == 1 {
                log("error: --exit-with-parent: the parent process has already exited", .error)
                throw ExitCode(1)
            }
        }
        do {
            try server.start()
        } catch {
            log("error: \(error)", .error)
            throw ExitCode(1)
        }
        MetricsRegistry.shared.setInfo("max_connections", String(maxConnections))
        MetricsRegistry.shared.setInfo("parser_simd", configuration.limits.parserSIMD.description)
        let display = host.contains(":") ? "[\(host)]" : host
        log("serving http://\(display):\(server.boundPort)/ with engine \(engine)"
            + (engine == "threads" ? " (one thread per connection, at most \(maxConnections))"
                : " (\(threads) loops, --accept \(accept.rawValue), at most \(maxConnections) connections)")
            + (engine == "io_uring" ? " [\(configuration.uring.summary)]" : "")
            + (engine == "stealing" ? " [\(configuration.steal.summary)]" : "")
            + ", parser \(configuration.limits.parserSIMD)")
        if let placement = configuration.placement { log("placement: \(placement.describe())") }
        if let file = layers.file { log("configuration: \(file), generation \(configGeneration)") }
        peers?.startAnswering()  // a supervisor takes this as "ready"
        server.waitUntilStopped()
        peers?.stopAnswering()
        log("stopped")
    }
}

enum WorkerMode: String, ExpressibleByArgument, CaseIterable, Sendable {
    case single, processes
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

extension AcceptPolicy: ExpressibleByArgument {}

extension Serve {
    /// Combinations of --accept, --balance, --hash-port and --steering-fallback that mean nothing.
    func acceptProblem(engine: String, isReactor: Bool) -> String? {
        if !isReactor && accept != .reusePort && accept != .acceptor {
            return "--accept \(accept.rawValue): the \(engine) engine accepts on one listener, with no loops to choose among; use --engine \(EngineRegistry.all.filter(\.isReactor).map(\.name).joined(separator: ", ")), or leave --accept out"
        }
        if balance != .roundRobin && accept != .acceptor {
            return "--balance \(balance.rawValue) applies only to --accept acceptor (with --accept \(accept.rawValue) it would be ignored); say --accept \(balance.rawValue) instead"
        }
        let choice = accept.acceptorChoice(balance: balance)
        if hashPort && accept != .reusePortHash && choice != .hash {
            return "--hash-port applies only to --accept hash or reuseport-hash (got --accept \(accept.rawValue))"
        }
        let processMode = workers == .processes || processSlot >= 0
        if steeringFallback && accept.steering == nil && !(choice == .hash && processMode) {
            return "--steering-fallback applies only to --accept reuseport-cpu or reuseport-hash, or hash in process mode (got --accept \(accept.rawValue))"
        }
        if accept == .reusePortCPU && pin == "none" { return ReuseportSteering.needsPinMessage }
        let listeners = threads * (processMode ? (processes > 0 ? processes : Supervisor.usableCPUs()) : 1)
        if accept == .reusePortHash && listeners > ReuseportSteering.maxHashedListeners {
            return "--accept reuseport-hash scores every listener in one BPF program, at most \(ReuseportSteering.maxHashedListeners) (here --threads x --processes = \(listeners)); use --accept hash or fewer loops"
        }
        return nil
    }
}
extension UringOptions.ReceiveMode: ExpressibleByArgument {}
extension Balance: ExpressibleByArgument {}

extension StealOptions.Readiness: ExpressibleByArgument {}
