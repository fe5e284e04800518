import CSystem
import EngineCore
import EventLoopCore
import Glibc
import Synchronization

/// The work-stealing engine: N workers, each a thread with a run queue;
/// every connection's readiness goes to one shared epoll set, and whichever
/// worker is free turns it into a task ("drive this connection until it
/// waits"). Workers that run dry steal half of a busy worker's queue. Slots,
/// timers, budget, shedding and the drain come from EventLoopCore, as in the
/// other event-loop engines; each connection's home worker keeps them.
public enum StealingEngine {
    public static let descriptor = EngineDescriptor(
        name: "stealing",
        summary: "work-stealing workers: shared readiness, per-worker run queues, steal-half",
        isReactor: true, hasThreadPool: true,
        availability: Epoll.availability,
        make: { configuration, responder, metrics in
            let pool = Mutex<WorkerPool?>(nil)
            return LoopGroup(
                engineName: "stealing", configuration: configuration, responder: responder, metrics: metrics,
                prepare: { configuration, metrics throws(EngineError) in
                    if let problem = configuration.steal.problem() { throw EngineError(problem) }
                    let made = try WorkerPool(options: configuration.steal, workers: configuration.threads)
                    pool.withLock { $0 = made }
                    metrics.setInfo("steal", configuration.steal.summary)
                },
                makeLoop: { core throws(EngineError) in
                    guard let shared = pool.withLock({ $0 }) else { throw EngineError("stealing: workers made before the pool") }
                    return try Worker(core: core, pool: shared)
                })
        })
}
