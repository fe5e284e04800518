import ArgumentParser
import CSystem
import EngineCore
import Glibc
import LoopRuntime
import Synchronization
import Topology

/// Process mode (`--workers processes`): nginx's master and workers.
///
/// The supervisor runs no request code. It opens every listening socket
/// (one per worker loop with `--accept reuseport`, else one per worker) and
/// keeps them open for the life of the service, so the accept queue of a
/// worker that dies waits for its replacement instead of being reset. Each
/// worker is this executable again (`serve --process-slot K`), given its
/// sockets as descriptors 3, 4, ... and `--exit-with-parent`, so it never
/// outlives the supervisor.
///
/// - A worker that dies is logged with its signal or status, counted, and
///   restarted after an exponential back-off (100 ms doubling to 5 s); past
///   `--restart-limit` deaths in a minute its slot is given up. Exit status 2
///   (the configuration was refused) is never restarted.
/// - SIGHUP: the settings are read and validated again; new workers start with
///   them on the same sockets, and once each is ready (its metrics socket is
///   up) the old ones are told to drain (SIGTERM). If a new worker fails, the
///   old ones stay and the reload is reported as rejected.
/// - SIGTERM or SIGINT: the supervisor turns new connection attempts away
///   (a socket filter) and closes its copies of the listening sockets, every
///   worker drains (accepting what its queue holds, then closing its own),
///   then the supervisor exits 0. New clients are refused, never queued and reset.
///
/// Signals are taken synchronously with `sigtimedwait` on the main thread
/// (the thread that spawns the workers, which their parent-death signal is tied to).
struct Supervisor {
    let serve: Serve
    let layers: SettingsLayers
    let cli: [String]

    final class Worker {
        let pid: pid_t
        let slot: Int
        let generation: Int
        let started: Int
        var retiring = false
        init(pid: pid_t, slot: Int, generation: Int, started: Int) {
            self.pid = pid
            self.slot = slot
            self.generation = generation
            self.started = started
        }
    }

    /// What `/metrics` shows of the supervisor (its answering thread reads it).
    struct Counts {
        var exits: [String: Int] = [:]
        var restarts = 0
        var running = 0
        var generation = 1
        var reloadTime = 0
        var reloadSuccess = 1
        var reloadsRejected = 0
    }

    func run() throws {
        let count = serve.processes > 0 ? serve.processes : Self.usableCPUs()
        let perWorker = Self.listenersPerWorker(serve)
        // Signals first: blocked here, so no thread started below sees them.
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGCHLD] { sigaddset(&signals, signal) }
        pthread_sigmask(SIG_SETMASK, &signals, nil)
        Glibc.signal(SIGPIPE, SIG_IGN)

        var listeners: [Int32] = []
        var port = serve.port
        do {
            for index in 0..<(count * perWorker) {
                let (fd, bound) = try Listener.open(host: serve.host, port: port, backlog: serve.backlog, reusePort: true,
                                                    nonBlocking: true, probeFirst: index == 0)
                // Above the range the workers' descriptors are mapped to.
                let high = fcntl(fd, F_DUPFD_CLOEXEC, 100)
                close(fd)
                listeners.append(high)
                port = bound
            }
        } catch {
            log("error: \(error)", .error)
            throw ExitCode(1)
        }
        do {
            try attachSteering(listeners, count: count, perWorker: perWorker)
        } catch {
            for fd in listeners { close(fd) }
            log("error: \(error.description)", .error)
            throw ExitCode(2)  // the settings cannot work here: not worth a retry
        }
        var template = Array("/tmp/switchyard-supervisor-XXXXXX".utf8CString)
        let directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        let counts = SharedCounts()
        let answerer = MetricsAnswerer(path: "\(directory)/supervisor.sock") { Self.text(counts.withLock { $0 }) }
        answerer.start()
        defer {
            answerer.stop()
            // Sockets a crashed worker could not remove.
            for file in WorkerPeers.socketFiles(in: directory) { unlink("\(directory)/\(file)") }
            rmdir(directory)
        }
        if serve.exitWithParent { switchyard_set_parent_death_signal(SIGTERM) }
        let display = serve.host.contains(":") ? "[\(serve.host)]" : serve.host
        log("supervising \(count) worker processes on http://\(display):\(port)/ (\(perWorker) listening socket\(perWorker == 1 ? "" : "s") each, kept open here; restart limit \(serve.restartLimit) a minute)")

        var state = SupervisorState(serve: serve, cli: cli, listeners: listeners, perWorker: perWorker, port: port,
                                    directory: directory, counts: counts)
        // p2c and least-loaded choose over every worker's loops: a table of
        // their loads that every worker maps (EventLoopCore's SharedLoads).
        if count > 1 && SharedLoadsPlan.applies(to: serve.accept.acceptorChoice(balance: serve.balance)) {
            let table = switchyard_memfd("switchyard-loop-loads")
            guard table >= 0, ftruncate(table, off_t(count * serve.threads * MemoryLayout<Int>.stride)) == 0 else {
                log("error: cannot make the shared table of loop loads: \(errnoText())", .error)
                throw ExitCode(1)
            }
            state.loadTable = fcntl(table, F_DUPFD_CLOEXEC, 100)
            close(table)
            state.pinned += ["--threads", String(serve.threads)]  // the table has a cell per loop
            log("acceptors choose over every worker's loops (\(count) x \(serve.threads), --accept \(serve.accept.rawValue))")
        }
        state.processCount = count
        for slot in 0..<count { state.start(slot: slot, generation: 1) }
        var timeout = timespec(tv_sec: 0, tv_nsec: 100_000_000)
        while true {
            var info = siginfo_t()
            let signal = sigtimedwait(&signals, &info, &timeout)
            switch signal {
            case SIGTERM, SIGINT:
                log("received \(signal == SIGINT ? "SIGINT" : "SIGTERM"), draining every worker")
                // Before the workers drain: new connection attempts are
                // dropped from here on (handshakes under way still complete,
                // and the drains accept them), and our copies close, so each
                // socket closes with its worker's copy. Kept open, a socket
                // nobody accepts from would still queue clients, to be reset
                // when we exit; dropped, a client retries and is refused.
                for fd in listeners {
                    Listener.refuseNewConnections(fd)
                    close(fd)
                }
                state.shutdown()
                log("stopped")
                return
            case SIGHUP:
                state.reload()
            default:
                break
            }
            state.reap()
            state.restartDue()
            if state.nothingLeft {
                log("error: every worker slot has been given up; stopping", .error)
                state.shutdown()
                throw ExitCode(1)
            }
        }
    }

    /// The reuseport group's program, over every worker's listeners (in
    /// slot order, so a restarted worker's sockets keep their indices and
    /// their clients): `reuseport-cpu` and `reuseport-hash` choose a loop in
    /// a worker; `hash` (the acceptor's Maglev table in each worker) has the
    /// kernel choose the worker by rendezvous hashing, so a client keeps its
    /// worker and then its loop. Other acceptor choices leave the kernel's
    /// hash across workers: load-aware choices cannot be made in a classic
    /// BPF program (ReuseportSteering's notes).
    func attachSteering(_ listeners: [Int32], count: Int, perWorker: Int) throws(EngineError) {
        let kind: ReuseportSteering.Kind
        if let steering = serve.accept.steering {
            kind = steering
        } else if serve.accept.acceptorChoice(balance: serve.balance) == .hash {
            kind = .hash
        } else {
            return
        }
        var cpus: [Int] = []
        if kind == .cpu {
            do {
                let placement = try Placement.plan(try serve.pinPolicy(), threads: listeners.count, topology: try CPUTopology.discover())
                cpus = placement.cpus.compactMap { $0 }
            } catch {
                throw EngineError("\(error)")
            }
            guard cpus.count == listeners.count else { throw EngineError(ReuseportSteering.needsPinMessage) }
        }
        if let warning = try ReuseportSteering.install(
            kind, to: listeners[0], identities: ReuseportSteering.identities(slots: count, loops: perWorker), cpus: cpus,
            hashPort: serve.hashPort, refuse: serve.testRefuseSteering, policy: serve.accept, fallback: serve.steeringFallback) {
            log("warning: \(warning)", .warning)
        } else {
            log("reuseport steering: \(kind.rawValue) over \(listeners.count) listening sockets")
        }
    }

    static func listenersPerWorker(_ serve: Serve) -> Int {
        serve.resolvedEngine().name == "threads" || serve.accept.usesAcceptorThread ? 1 : serve.threads
    }

    static func usableCPUs() -> Int {
        max(1, (try? allowedCPUsOfCurrentThread().count) ?? Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    static func text(_ counts: Counts) -> String {
        var out = "# HELP switchyard_supervisor_worker_exits_total Worker processes that ended, by how.\n"
        out += "# TYPE switchyard_supervisor_worker_exits_total counter\n"
        for (reason, n) in counts.exits.sorted(by: { $0.key < $1.key }) {
            out += "switchyard_supervisor_worker_exits_total{reason=\"\(reason)\"} \(n)\n"
        }
        out += "# HELP switchyard_supervisor_worker_restarts_total Workers started again after an unexpected exit.\n"
        out += "# TYPE switchyard_supervisor_worker_restarts_total counter\n"
        out += "switchyard_supervisor_worker_restarts_total \(counts.restarts)\n"
        out += "# HELP switchyard_supervisor_workers Worker processes running now (draining ones included).\n"
        out += "# TYPE switchyard_supervisor_workers gauge\n"
        out += "switchyard_supervisor_workers \(counts.running)\n"
        out += "# HELP switchyard_supervisor_config_generation Configuration generation the current workers run.\n"
        out += "# TYPE switchyard_supervisor_config_generation gauge\n"
        out += "switchyard_supervisor_config_generation \(counts.generation)\n"
        out += "# HELP switchyard_supervisor_last_reload_timestamp_seconds When the configuration was last loaded or a reload tried (Unix time).\n"
        out += "# TYPE switchyard_supervisor_last_reload_timestamp_seconds gauge\n"
        out += "switchyard_supervisor_last_reload_timestamp_seconds \(counts.reloadTime)\n"
        out += "# HELP switchyard_supervisor_last_reload_success 1 if the last reload was accepted (or none was tried), 0 if rejected.\n"
        out += "# TYPE switchyard_supervisor_last_reload_success gauge\n"
        out += "switchyard_supervisor_last_reload_success \(counts.reloadSuccess)\n"
        out += "# HELP switchyard_supervisor_reloads_rejected_total Reloads refused (invalid settings, or a new worker that failed).\n"
        out += "# TYPE switchyard_supervisor_reloads_rejected_total counter\n"
        out += "switchyard_supervisor_reloads_rejected_total \(counts.reloadsRejected)\n"
        return out
    }
}

/// The supervisor's counts, shared with its metrics-answering thread.
final class SharedCounts: Sendable {
    private let counts = Mutex(Supervisor.Counts())
    func withLock<T>(_ body: (inout Supervisor.Counts) -> T) -> T { counts.withLock { body(&$0) } }
}

/// The supervisor's bookkeeping; main thread only (but `counts`).
struct SupervisorState {
    var serve: Serve
    let cli: [String]
    let listeners: [Int32]
    let perWorker: Int
    let port: Int
    let directory: String
    let counts: SharedCounts
    /// Workers in all (for each worker's share of the placement plan).
    var processCount = 1
    /// The memfd of every worker's loop loads (process mode, p2c or least-loaded), passed after the listeners.
    var loadTable: Int32?
    var workers: [Supervisor.Worker] = []
    var generation = 1
    /// Per slot: recent deaths (ms), when to restart (ms; 0: not due), given up.
    var deaths: [Int: [Int]] = [:]
    var restartAt: [Int: Int] = [:]
    var givenUp: Set<Int> = []
    /// Flags pinned on every worker: the sockets cannot change without a restart.
    var pinned: [String] = []

    init(serve: Serve, cli: [String], listeners: [Int32], perWorker: Int, port: Int, directory: String,
         counts: SharedCounts) {
        self.serve = serve
        self.cli = cli
        self.listeners = listeners
        self.perWorker = perWorker
        self.port = port
        self.directory = directory
        self.counts = counts
        counts.withLock { $0.reloadTime = unixSeconds() }
        pinned = ["--host", serve.host, "--port", String(port), "--backlog", String(serve.backlog)] + Self.steeringFlags(serve)
    }

    /// The accept policy is pinned too: the supervisor attached the group's
    /// steering program for it (`--balance hash` included), and the
    /// listeners per worker follow it.
    static func steeringFlags(_ serve: Serve) -> [String] {
        ["--accept", serve.accept.rawValue, "--balance", serve.balance.rawValue, serve.hashPort ? "--hash-port" : "--no-hash-port"]
    }

    var nothingLeft: Bool { workers.isEmpty && restartAt.isEmpty && !givenUp.isEmpty }

    /// Starts the worker for `slot` at `generation`; nil if spawning failed.
    @discardableResult
    mutating func start(slot: Int, generation: Int) -> Supervisor.Worker? {
        let exe = Self.executable()
        let arguments = [exe, "serve"] + cli + pinned + [
            "--workers", "single", "--processes", String(processCount), "--inherit-listeners", String(perWorker), "--process-slot", String(slot),
            "--process-dir", directory, "--config-generation", String(generation), "--exit-with-parent",
        ] + (loadTable != nil ? ["--shared-loads"] : [])
        var files = (0..<perWorker).map {
            ChildProcess.FileAction.duplicate(source: listeners[slot * perWorker + $0], target: Int32(3 + $0))
        }
        if let loadTable { files.append(.duplicate(source: loadTable, target: Int32(3 + perWorker))) }
        let pid: pid_t
        switch ChildProcess.spawn(arguments, files: files, ownProcessGroup: false) {
        case .success(let started): pid = started
        case .failure(let error):
            log("error: cannot start worker \(slot): \(error)", .error)
            restartAt[slot] = Self.now() + 1000
            return nil
        }
        let worker = Supervisor.Worker(pid: pid, slot: slot, generation: generation, started: Self.now())
        workers.append(worker)
        counts.withLock { $0.running = workers.count }
        log("worker \(slot) started (pid \(pid), configuration generation \(generation))", .debug)
        return worker
    }

    /// Collects every exited worker; plans restarts for current ones.
    mutating func reap() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { return }
            exited(pid: pid, status: status)
        }
    }

    mutating func exited(pid: pid_t, status: Int32) {
        guard let index = workers.firstIndex(where: { $0.pid == pid }) else { return }
        let worker = workers.remove(at: index)
        counts.withLock { $0.running = workers.count }
        let how = Self.describe(status)
        if worker.retiring {
            log("worker \(worker.slot) of generation \(worker.generation) (pid \(pid)) finished draining: \(how)")
            return
        }
        counts.withLock { $0.exits[how, default: 0] += 1 }
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : -1
        if code == 2 {
            log("error: worker \(worker.slot) (pid \(pid)) refused its configuration (exit 2); not restarted", .error)
            givenUp.insert(worker.slot)
            return
        }
        let now = Self.now()
        var recent = (deaths[worker.slot] ?? []).filter { now - $0 < 60_000 }
        recent.append(now)
        deaths[worker.slot] = recent
        if recent.count > serve.restartLimit {
            log("error: worker \(worker.slot) (pid \(pid)) \(how); \(recent.count) deaths in a minute is past --restart-limit \(serve.restartLimit): no more restarts for it", .error)
            givenUp.insert(worker.slot)
            return
        }
        let delay = min(5000, 100 << min(recent.count - 1, 10))
        log("error: worker \(worker.slot) (pid \(pid)) \(how); restarting in \(delay) ms (its sockets stay open here)", .error)
        restartAt[worker.slot] = now + delay
    }

    mutating func restartDue() {
        let now = Self.now()
        for (slot, at) in restartAt where at <= now {
            restartAt[slot] = nil
            if start(slot: slot, generation: generation) != nil {
                counts.withLock { $0.restarts += 1 }
            }
        }
    }

    /// SIGHUP: validate, start the next generation, retire the old one once it is ready.
    mutating func reload() {
        let next: Serve
        do {
            (next, _) = try Serve.resolve(cli: cli)
        } catch {
            log("error: reload rejected, keeping configuration generation \(generation): \(error.description)", .error)
            rejected()
            return
        }
        var restartOnly: [String] = []
        for key in ["host", "port", "backlog", "processes", "accept", "balance", "hash-port"] {
            let setting = ServeSetting.byKey[key]!
            if setting.render(next) != setting.render(serve) && !(key == "port" && serve.port == 0) {
                restartOnly.append("\(key) \(setting.render(serve)) -> \(setting.render(next))")
            }
        }
        if Supervisor.listenersPerWorker(next) != perWorker || next.threads != serve.threads && perWorker > 1 {
            restartOnly.append("listening sockets per worker \(perWorker) -> \(Supervisor.listenersPerWorker(next)) (threads, accept or engine)")
            pinned = ["--host", serve.host, "--port", String(port), "--backlog", String(serve.backlog),
                      "--threads", String(serve.threads), "--engine", serve.resolvedEngine().name] + Self.steeringFlags(serve)
        }
        if !restartOnly.isEmpty {
            log("warning: needs a restart of the supervisor: \(restartOnly.joined(separator: ", ")); the rest is applied", .warning)
        }
        let old = workers.filter { !$0.retiring }
        let nextGeneration = generation + 1
        var fresh: [Supervisor.Worker] = []
        for slot in Set(old.map(\.slot)).union(restartAt.keys).sorted() {
            if let worker = start(slot: slot, generation: nextGeneration) { fresh.append(worker) }
        }
        // Ready: the new worker's metrics socket exists (it starts answering
        // once its engine serves). A new worker that exits fails the reload.
        let deadline = Self.now() + 10_000
        var failed: String?
        while failed == nil && Self.now() < deadline {
            var waiting = false
            for worker in fresh {
                var status: Int32 = 0
                if waitpid(worker.pid, &status, WNOHANG) == worker.pid {
                    failed = "new worker \(worker.slot) (pid \(worker.pid)) \(Self.describe(status))"
                    workers.removeAll { $0.pid == worker.pid }
                    break
                }
                if access("\(directory)/worker-\(worker.slot)-\(nextGeneration).sock", F_OK) != 0 { waiting = true }
            }
            if !waiting { break }
            usleep(10_000)
        }
        if failed == nil && Self.now() >= deadline { failed = "new workers were not ready within 10 s" }
        if let failed {
            for worker in fresh where workers.contains(where: { $0.pid == worker.pid }) {
                worker.retiring = true
                kill(worker.pid, SIGTERM)
            }
            log("error: reload failed, keeping configuration generation \(generation): \(failed)", .error)
            rejected()
            return
        }
        for worker in old {
            worker.retiring = true
            kill(worker.pid, SIGTERM)
        }
        for slot in fresh.map(\.slot) { restartAt[slot] = nil }
        generation = nextGeneration
        serve = next
        counts.withLock {
            $0.generation = nextGeneration
            $0.reloadTime = unixSeconds()
            $0.reloadSuccess = 1
        }
        log("reloaded: \(fresh.count) workers of configuration generation \(nextGeneration) serve; \(old.count) of generation \(nextGeneration - 1) drain")
    }

    private func rejected() {
        counts.withLock {
            $0.reloadTime = unixSeconds()
            $0.reloadSuccess = 0
            $0.reloadsRejected += 1
        }
    }

    /// Every worker drains; those still there after the drain timeout (and 5 s) are killed.
    mutating func shutdown() {
        restartAt = [:]
        for worker in workers {
            worker.retiring = true
            kill(worker.pid, SIGTERM)
        }
        let deadline = Self.now() + Int(serve.drainTimeout.value * 1000) + 5000
        while !workers.isEmpty {
            reap()
            if Self.now() >= deadline {
                for worker in workers { kill(worker.pid, SIGKILL) }
            }
            usleep(10_000)
        }
    }

    static func describe(_ status: Int32) -> String {
        let signal = status & 0x7f
        if signal == 0 { return "exited with status \((status >> 8) & 0xff)" }
        let name = String(cString: strsignal(signal))
        return "killed by signal \(signal) (\(name))" + ((status & 0x80) != 0 ? ", core dumped" : "")
    }

    static func now() -> Int { monotonicMilliseconds() }

    static func executable() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        return n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
    }
}
