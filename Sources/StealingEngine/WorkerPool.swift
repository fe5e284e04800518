import CSystem
import EngineCore
import EventLoopCore
import Glibc
import LoopRuntime
import Synchronization

/// What the work-stealing engine's workers share: the one epoll instance
/// every connection's readiness goes to, the inject queue, the idle
/// protocol, and the stop's bookkeeping.
///
/// Ownership: `workers` is filled while the engine starts, before any worker
/// thread exists, and only read afterwards; the rest is atomic or locked.
final class WorkerPool: Resumer, @unchecked Sendable {
    // @unchecked Sendable: see the ownership note.
    let options: StealOptions
    /// Connections' readiness, edge-triggered, for whichever worker is free.
    let shared: Int32
    let inject = InjectQueue()
    let idle: Idle
    private(set) var workers: [Worker] = []
    /// Set by the first worker told to stop; runners check it before each
    /// drive, so a connection another worker holds learns of the drain too.
    let draining = Atomic(false)
    /// Workers whose own core has finished its drain.
    let finishedCount = Atomic(0)
    /// Workers out of their main loop (none runs a task any more).
    let exitedCount = Atomic(0)

    /// How many workers the engine makes (known before they exist).
    let workerCount: Int

    init(options: StealOptions, workers: Int) throws(EngineError) {
        self.options = options
        workerCount = workers
        idle = Idle(workers: workers, searcherCap: options.searcherCap(workers: workers))
        shared = Epoll.create()
        guard shared >= 0 else { throw EngineError("cannot create an epoll instance: \(errnoText())") }
    }

    deinit { close(shared) }

    /// Engine start only (before threads).
    func add(_ worker: Worker) { workers.append(worker) }

    /// Any thread: a late answer goes to its connection's home worker, whose
    /// index is the tag's kind byte (`LoopCore.admit`); at most 256 workers.
    func resume(_ answer: any LateAnswer) {
        let home = Int(SlotTag(raw: answer.connection).kind)
        guard home < workers.count else { return }
        workers[home].core.resume(answer)
    }

}
