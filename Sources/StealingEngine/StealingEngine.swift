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
        variants: [
            // Two-task run queues, a one-run LIFO slot and small harvests: overflow
            // to the inject queue, steals and LIFO hand-offs all the time.
            EngineVariant(engine: "stealing", suffix: "tiny",
                          arguments: ["--steal-queue", "2", "--steal-lifo-polls", "1", "--steal-harvest-batch", "4",
                                      "--steal-inject-interval", "3"]) {
                $0.steal.queueCapacity = 2; $0.steal.lifoPolls = 1; $0.steal.harvestBatch = 4; $0.steal.injectInterval = 3
            },
            // Each worker's own readiness set, harvested by idle workers.
            EngineVariant(engine: "stealing", suffix: "per-worker", arguments: ["--steal-readiness", "per-worker"]) {
                $0.steal.readiness = .perWorker
            },
        ],
        validate: { configuration in
            if let problem = configuration.steal.problem() { return problem }
            // A late answer names its home worker in the tag's kind byte.
            if configuration.threads > 256 { return "--threads \(configuration.threads): the stealing engine runs at most 256 workers" }
            return nil
        },
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
