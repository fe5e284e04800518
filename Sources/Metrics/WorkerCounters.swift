import Atomics

/// Counters owned by one worker thread.
///
/// Ownership: only the owning thread writes (plain relaxed load + store, no
/// read-modify-write, so an increment costs two ordinary moves on x86); any
/// thread may read with relaxed loads when `/metrics` aggregates. Nothing on the
/// hot path takes a lock or shares a cache line with another worker.
public final class WorkerCounters: @unchecked Sendable {
    /// Shown as a per-worker series in `/metrics` when set (reactor loops);
    /// nil for short-lived workers such as a connection's own thread.
    public let name: String?

    // safety: `storage` is allocated once, holds `Slot.count` atomics and is
    // freed in deinit; no one holds a pointer past the object's lifetime.
    private let storage: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>
    /// Cached so recording a status never touches a lazily initialized global.
    private let statusIndex = Slot.statusIndex
    /// Server-side latency by priority class (loops record them per turn).
    public let latency = LatencyHistograms()

    public init(name: String? = nil) {
        self.name = name
        storage = .allocate(capacity: Slot.count)
        storage.initialize(repeating: .init(0), count: Slot.count)
    }

    deinit {
        storage.deinitialize(count: Slot.count)
        storage.deallocate()
    }

    /// A view of these counters that holds no reference (see `CounterSlots`).
    public var slots: CounterSlots { CounterSlots(storage: storage, statusIndex: statusIndex) }

    @inline(__always)
    private func atomic(_ slot: Int) -> UnsafeAtomic<UInt64> {
        UnsafeAtomic(at: storage + slot)
    }

    /// Owner thread only: adds without a locked instruction.
    @inline(__always)
    func add(_ value: UInt64, to slot: Int) {
        let counter = atomic(slot)
        counter.store(counter.load(ordering: .relaxed) &+ value, ordering: .relaxed)
    }

    /// Any thread.
    @inline(__always)
    func read(_ slot: Int) -> UInt64 { atomic(slot).load(ordering: .relaxed) }

    // MARK: what the hot path records

    @inline(__always) public func recordResponse(status: Int) {
        add(1, to: status >= 0 && status < 600 ? Int(statusIndex[status]) : Slot.otherStatus)
    }
    @inline(__always) public func recordBytesIn(_ count: Int) { add(UInt64(count), to: Slot.bytesIn) }
    @inline(__always) public func recordBytesOut(_ count: Int) { add(UInt64(count), to: Slot.bytesOut) }
    @inline(__always) public func recordConnectionOpened() { add(1, to: Slot.connectionsOpened) }
    @inline(__always) public func recordConnectionClosed() { add(1, to: Slot.connectionsClosed) }
    @inline(__always) public func recordRoutedRequest() { add(1, to: Slot.routedRequests) }
    @inline(__always) public func recordPoolMiss() { add(1, to: Slot.poolMisses) }
    /// A keep-alive connection closed because it reached `--max-requests-per-connection`.
    @inline(__always) public func recordRequestLimitClose() { add(1, to: Slot.requestLimitCloses) }
    public func recordLateResponse() { add(1, to: Slot.lateResponses) }
    public func recordStaleResume() { add(1, to: Slot.staleResumes) }
    /// A pool's decay gave `bytes` of free buffers back to the allocator.
    public func recordPoolRelease(bytes: Int) { add(UInt64(max(bytes, 0)), to: Slot.poolReleasedBytes) }
    /// A request of class `priority` (HTTP1's `PriorityClass` raw value) answered 503 by the overload controller.
    @inline(__always) public func recordShed(priority: Int) { add(1, to: Slot.shedCritical + priority) }
    /// A loop's turn: `micros` spent working (not waiting), for utilisation.
    @inline(__always) public func recordBusy(micros: Int) { add(UInt64(max(micros, 0)), to: Slot.busyMicros) }
    /// The overload controller entered its overloaded state.
    @inline(__always) public func recordOverloadEpisode() { add(1, to: Slot.overloadEpisodes) }
    /// Gauges of a loop: its last queueing-delay estimate, whether its
    /// controller is overloaded, its busy share of the last second (per mille).
    @inline(__always) public func setQueueDelay(micros: Int) { atomic(Slot.queueDelayMicros).store(UInt64(max(micros, 0)), ordering: .relaxed) }
    @inline(__always) public func setOverloaded(_ on: Bool) { atomic(Slot.overloaded).store(on ? 1 : 0, ordering: .relaxed) }
    @inline(__always) public func setUtilization(perMille: Int) { atomic(Slot.utilizationPerMille).store(UInt64(max(perMille, 0)), ordering: .relaxed) }
    /// The loop thread's CPU-time clock (`pthread_getcpuclockid`), so
    /// `/metrics` can read the loop's CPU seconds from another thread.
    public func setCPUClock(_ clock: Int32) { atomic(Slot.cpuClock).store(UInt64(UInt32(bitPattern: clock)) | 1 << 32, ordering: .relaxed) }
    /// Gauges: the owner stores the current value. In use may be negative
    /// for one worker when buffers move between workers with the connection
    /// that holds them (work stealing): stored as its bit pattern, so the sum
    /// over workers (wrapping addition) is the true count.
    @inline(__always) public func setPoolInUse(_ value: Int) {
        atomic(Slot.poolInUse).store(UInt64(bitPattern: Int64(value)), ordering: .relaxed)
    }
    @inline(__always) public func setPoolHighWater(_ value: Int) { atomic(Slot.poolHighWater).store(UInt64(value), ordering: .relaxed) }

    /// A consistent-enough copy for reporting (each counter is read atomically;
    /// the set is not a snapshot across counters, which Prometheus tolerates).
    public func snapshot() -> CounterSnapshot {
        var s = CounterSnapshot()
        for i in 0..<Slot.count { s.values[i] = read(i) }
        return s
    }
}

/// Indices into a worker's counter array.
enum Slot {
    /// Status codes we count individually; anything else lands in `otherStatus`.
    static let trackedStatuses: [Int] = [
        100, 101, 200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308,
        400, 401, 403, 404, 405, 408, 411, 413, 414, 415, 417, 429, 431,
        500, 501, 502, 503, 504, 505,
    ]
    // The indices are literals: a static computed from another static (or
    // from the array's count) is initialized lazily, and every read on the
    // hot path would pay a `swift_once` check (measured: about 100
    // instructions per request). `SlotLayoutTests` checks them.
    static let otherStatus = 32  // trackedStatuses.count
    static let bytesIn = 33
    static let bytesOut = 34
    static let connectionsOpened = 35
    static let connectionsClosed = 36
    static let routedRequests = 37
    static let poolMisses = 38
    static let poolInUse = 39
    static let poolHighWater = 40
    static let requestLimitCloses = 41
    /// Three: critical (always 0: never shed), normal, low.
    static let shedCritical = 42
    static let busyMicros = 45
    static let overloadEpisodes = 46
    // Gauges of one loop: meaningful per worker, not summed.
    static let queueDelayMicros = 47
    static let overloaded = 48
    static let utilizationPerMille = 49
    /// Bit 32 set when the low 32 bits hold a clockid_t.
    static let cpuClock = 50
    /// Responses a handler deferred and answered later; late answers that
    /// found their connection gone (closed, timed out, slot reused).
    static let lateResponses = 51
    static let staleResumes = 52
    /// Bytes of pooled buffers given back to the allocator by decay.
    static let poolReleasedBytes = 53
    static let count = 54

    /// Status code to slot, built once; a 600-entry byte table keeps the hot
    /// path to one load.
    // safety: 600 bytes, built once, immutable, never freed.
    nonisolated(unsafe) static let statusIndex: UnsafePointer<UInt8> = {
        let table = UnsafeMutablePointer<UInt8>.allocate(capacity: 600)
        table.initialize(repeating: UInt8(otherStatus), count: 600)
        for (i, code) in trackedStatuses.enumerated() { table[code] = UInt8(i) }
        return UnsafePointer(table)
    }()
}

/// Plain values copied out of one or more workers' counters.
public struct CounterSnapshot: Sendable {
    var values = [UInt64](repeating: 0, count: Slot.count)

    public init() {}

    public static func + (a: CounterSnapshot, b: CounterSnapshot) -> CounterSnapshot {
        var s = a
        for i in 0..<Slot.count { s.values[i] &+= b.values[i] }
        return s
    }

    /// Responses by status code, only codes seen; `nil` key for "other".
    public var responsesByStatus: [(status: Int?, count: UInt64)] {
        var out: [(Int?, UInt64)] = []
        for (i, code) in Slot.trackedStatuses.enumerated() where values[i] > 0 { out.append((code, values[i])) }
        if values[Slot.otherStatus] > 0 { out.append((nil, values[Slot.otherStatus])) }
        return out
    }
    public var responses: UInt64 { values[0...Slot.otherStatus].reduce(0, &+) }
    public var bytesIn: UInt64 { values[Slot.bytesIn] }
    public var bytesOut: UInt64 { values[Slot.bytesOut] }
    public var connectionsOpened: UInt64 { values[Slot.connectionsOpened] }
    public var connectionsClosed: UInt64 { values[Slot.connectionsClosed] }
    public var routedRequests: UInt64 { values[Slot.routedRequests] }
    public var poolMisses: UInt64 { values[Slot.poolMisses] }
    public var poolInUse: UInt64 { values[Slot.poolInUse] }
    public var poolHighWater: UInt64 { values[Slot.poolHighWater] }
    public var requestLimitCloses: UInt64 { values[Slot.requestLimitCloses] }
    public var lateResponses: UInt64 { values[Slot.lateResponses] }
    public var staleResumes: UInt64 { values[Slot.staleResumes] }
    public var poolReleasedBytes: UInt64 { values[Slot.poolReleasedBytes] }
    /// 503s from the overload controller, by class raw value.
    public func shed(priority: Int) -> UInt64 { values[Slot.shedCritical + priority] }
    public var busyMicros: UInt64 { values[Slot.busyMicros] }
    public var overloadEpisodes: UInt64 { values[Slot.overloadEpisodes] }
    public var queueDelayMicros: UInt64 { values[Slot.queueDelayMicros] }
    public var overloaded: Bool { values[Slot.overloaded] != 0 }
    public var utilizationPerMille: UInt64 { values[Slot.utilizationPerMille] }
    /// The loop thread's CPU clock, if it set one.
    public var cpuClock: Int32? {
        let v = values[Slot.cpuClock]
        return v >> 32 == 0 ? nil : Int32(bitPattern: UInt32(truncatingIfNeeded: v))
    }
    public var connectionsOpen: UInt64 {
        connectionsOpened >= connectionsClosed ? connectionsOpened - connectionsClosed : 0
    }
}

/// The counters a session bumps per read, write and response, as plain
/// pointers into a `WorkerCounters`' storage: recording through a class
/// reference held in a `var` retains and releases it around each call
/// (measured: three pairs per keep-alive request), through this it does not.
/// Owner-only relaxed stores, as `WorkerCounters.add`.
public struct CounterSlots: @unchecked Sendable {
    // safety: points into the storage of a WorkerCounters that the holder
    // keeps alive (a session holds its worker, which holds its counters).
    let storage: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>
    let statusIndex: UnsafePointer<UInt8>

    @inline(__always)
    func add(_ value: UInt64, to slot: Int) {
        let counter = UnsafeAtomic<UInt64>(at: storage + slot)
        counter.store(counter.load(ordering: .relaxed) &+ value, ordering: .relaxed)
    }

    @inline(__always) public func recordResponse(status: Int) {
        add(1, to: status >= 0 && status < 600 ? Int(statusIndex[status]) : Slot.otherStatus)
    }
    @inline(__always) public func recordBytesIn(_ count: Int) { add(UInt64(count), to: Slot.bytesIn) }
    @inline(__always) public func recordBytesOut(_ count: Int) { add(UInt64(count), to: Slot.bytesOut) }
}
