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
    public static let descriptor = EngineDescriptor.eventLoops(
        name: "stealing", summary: "work-stealing workers: shared readiness, per-worker run queues, steal-half",
        availability: Epoll.availability,
        prepare: { configuration, metrics throws(EngineError) in
            if let problem = configuration.steal.problem() { throw EngineError(problem) }
            metrics.setInfo("steal", configuration.steal.summary)
        },
        makeLoop: { configuration in
            // One pool per engine made, shared by its workers; made with the
            // first worker (the group makes them in turn, before any runs).
            let pool = Mutex<WorkerPool?>(nil)
            return { core throws(EngineError) in
                let shared = try pool.withLock { slot throws(EngineError) -> WorkerPool in
                    if let existing = slot { return existing }
                    let made = try WorkerPool(options: configuration.steal, workers: configuration.threads)
                    slot = made
                    return made
                }
                return try Worker(core: core, pool: shared)
            }
        })
}
