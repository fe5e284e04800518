import Atomics

/// Counters of engine-specific events (system calls by kind, io_uring
/// conditions such as ENOBUFS), one set per event loop.
///
/// Each engine names its own events once, at start-up; `/metrics` shows the
/// sum over loops and each loop's own series. Ownership as for
/// `WorkerCounters`: only the loop thread writes (relaxed load and store, no
/// locked instruction), any thread reads.
public final class EventCounters: @unchecked Sendable {
    public struct Event: Sendable {
        public let name: String
        public let help: String
        public init(_ name: String, _ help: String) {
            self.name = name
            self.help = help
        }
    }

    /// The loop these count for (`loop-0`...).
    public let worker: String
    public let events: [Event]
    // safety: `events.count` atomics, allocated in init, freed in deinit.
    private let storage: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>

    public init(worker: String, events: [Event]) {
        self.worker = worker
        self.events = events
        storage = .allocate(capacity: max(events.count, 1))
        storage.initialize(repeating: .init(0), count: max(events.count, 1))
    }

    deinit {
        storage.deinitialize(count: max(events.count, 1))
        storage.deallocate()
    }

    /// Owner thread only. `index` is the event's position in `events`.
    @inline(__always)
    public func add(_ index: Int, _ value: UInt64 = 1) {
        let counter = UnsafeAtomic<UInt64>(at: storage + index)
        counter.store(counter.load(ordering: .relaxed) &+ value, ordering: .relaxed)
    }

    /// Any thread, with a locked add: for the rare counts a loop's peers
    /// make on its behalf (a thief counting what it took from this loop).
    public func addFromAnyThread(_ index: Int, _ value: UInt64 = 1) {
        UnsafeAtomic<UInt64>(at: storage + index).wrappingIncrement(by: value, ordering: .relaxed)
    }

    /// Any thread.
    public func value(_ index: Int) -> UInt64 {
        UnsafeAtomic<UInt64>(at: storage + index).load(ordering: .relaxed)
    }

    public func snapshot() -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        for (i, event) in events.enumerated() { out[event.name] = value(i) }
        return out
    }
}

/// Current values an engine's loop can report (queue lengths), read only
/// when `/metrics` is asked; shown as `switchyard_worker_engine_state`.
public final class EngineGauges: Sendable {
    public let worker: String
    public let names: [String]
    let read: @Sendable () -> [Int]

    public init(worker: String, names: [String], read: @escaping @Sendable () -> [Int]) {
        self.worker = worker
        self.names = names
        self.read = read
    }
}
