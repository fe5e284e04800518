/// The work-stealing engine's knobs, each a `--steal-*` flag, so that an
/// experiment can sweep them and tests can shrink the queues until every
/// overflow and steal path runs. Plain values, read once at start-up.
public struct StealOptions: Sendable, Equatable {
    /// Where connections' readiness goes.
    public enum Readiness: String, Sendable, CaseIterable {
        /// One epoll set for all connections; whichever worker is free
        /// harvests it, so readiness never waits for a busy worker.
        case shared
        /// Each worker's own set for the connections it accepted; a worker
        /// with nothing to do harvests other workers' sets too.
        case perWorker = "per-worker"
    }

    public var readiness = Readiness.shared
    /// Tasks each worker's run queue holds (a power of two, at least 2);
    /// beyond it half the queue moves to the shared inject queue.
    public var queueCapacity = 256
    /// Consecutive runs of the LIFO slot (the connection that became ready
    /// again while it ran) before it must wait at the back of the queue;
    /// 0 turns the slot off.
    public var lifoPolls = 3
    /// Workers that may search other workers' queues at once; 0 means half
    /// the workers (at least one), as tokio and Go do.
    public var searchers = 0
    /// A worker takes from the inject queue first every this many tasks, so
    /// the overflow cannot starve behind a busy local queue.
    public var injectInterval = 61
    /// Readiness events taken from the shared epoll instance in one call.
    public var harvestBatch = 64
    /// With its own queue empty, a worker steals tasks other workers have
    /// queued before it harvests new readiness (older work first); off:
    /// it steals only when the shared set is empty too.
    public var stealFirst = true

    public init() {}

    /// The searcher cap for `workers` threads.
    public func searcherCap(workers: Int) -> Int { searchers > 0 ? min(searchers, workers) : max(1, workers / 2) }

    /// Why these values cannot run, naming the flag; nil when they can.
    public func problem() -> String? {
        if queueCapacity < 2 || queueCapacity > 1 << 16 || queueCapacity & (queueCapacity - 1) != 0 {
            return "--steal-queue \(queueCapacity): must be a power of two from 2 to 65536"
        }
        if lifoPolls < 0 || lifoPolls > 1000 { return "--steal-lifo-polls \(lifoPolls): must be 0 (off) to 1000" }
        if searchers < 0 { return "--steal-searchers \(searchers): must be 0 (half the workers) or more" }
        if injectInterval < 1 { return "--steal-inject-interval \(injectInterval): must be at least 1" }
        if harvestBatch < 1 || harvestBatch > 1024 { return "--steal-harvest-batch \(harvestBatch): must be 1 to 1024" }
        return nil
    }

    /// The settings as `flag=value` words, for logs and results.
    public var summary: String {
        "readiness=\(readiness.rawValue) queue=\(queueCapacity) lifo-polls=\(lifoPolls) searchers=\(searchers == 0 ? "half" : String(searchers))"
            + " inject-interval=\(injectInterval) harvest-batch=\(harvestBatch) steal-first=\(stealFirst)"
    }
}
