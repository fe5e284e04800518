import CSystem
import EngineCore
import Glibc
import HTTP1
import Histogram
import Topology

/// Nanoseconds on the monotonic clock (vDSO: no system call). Latency needs
/// microsecond precision, so the coarse clock the reactor uses is not enough.
@inline(__always)
func monotonicNanoseconds() -> Int64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
}

/// SplitMix64: tiny, fast, and seedable, so a run's mix and arrivals repeat.
struct SplitMix64 {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in (0, 1]: never 0, so `-log(u)` is finite.
    mutating func unit() -> Double {
        Double((next() >> 11) + 1) / Double(1 << 53)
    }
}

/// Everything one I/O thread needs, decided before it starts.
struct WorkerPlan: Sendable {
    var index: Int
    var connections: Int
    var pipeline: Int
    var address: SocketAddress
    var target: String
    /// One pre-serialized request per mix entry.
    var requests: [[UInt8]]
    /// Cumulative mix weights normalized to end at 1.
    var cumulativeWeights: [Double]
    var startTime: Int64
    var measureStart: Int64
    var endTime: Int64
    /// This thread's share of the open-loop rate; nil = closed loop.
    var rate: Double?
    var arrivals: Arrivals
    /// Offset of this thread's first constant-rate arrival, so threads interleave.
    var firstArrivalOffset: Double
    var timeout: Int64
    /// Open loop: nanoseconds a send may trail its intended time and still be on schedule.
    var scheduleSlack: Int64
    var seed: UInt64
    var cpu: Int?
    var seconds: Int
    var highestLatency: UInt64
    /// 2xx responses at or under this many µs count as good; .max without an SLO.
    var sloMicros: UInt64
    var cancellation: LoadCancellation?
    var closeGate: LoadGate?
    var realtime = false
    /// This thread's first connection's index among all threads'.
    var firstConnection = 0
    /// See `LoadConfiguration.sourceAddresses`.
    var sourceAddresses = 0
    /// Open loop with skew: connections 0..<hotConnections get `hotShare` of the requests.
    var hotConnections = 0
    var hotShare = 0.0
}

/// What one thread measured; merged by `LoadGenerator.run`.
struct WorkerResult: Sendable {
    var latency: Histogram<UInt64>
    /// One per mix entry, in mix order.
    var perClass: [Histogram<UInt64>]
    var perSecond: [Histogram<UInt64>?]
    var errorsPerSecond: [Int]
    /// Indexed like `ErrorKind.allCases`.
    var errors: [Int]
    var requests = 0
    var responses2xx = 0
    /// Per mix entry: 2xx responses, and those within the SLO.
    var perClass2xx: [Int]
    var perClassGood: [Int]
    var bytes = 0
    /// The first failure seen, in words, for an error message.
    var firstProblem: String?
    var warning: String?
    var stoppedAt: Int64 = 0
    /// Sent (or due, open loop) and unanswered when the window closed.
    var outstanding = 0
    /// Connections that never received a response.
    var silentConnections = 0
    /// Open loop, arrivals due in the window: sent, and sent off schedule.
    var scheduledSends = 0
    var lateSends = 0
}

/// One client connection's state; lives in the worker's flat array and is
/// reached by index (the epoll tag), never by pointer.
struct Connection {
    var fd: Int32 = -1
    /// Bumped on every (re)connect so stale epoll events for a reused slot
    /// are recognised and dropped.
    var generation: UInt32 = 0
    var connecting = false
    var connectStarted: Int64 = 0
    /// Whether EPOLLOUT is registered (only while bytes wait to be sent).
    var watchingWrite = false
    /// Serialized requests not yet fully written; capacity reserved up front.
    var outbox: [UInt8] = []
    var sent = 0
    /// Start times of in-flight requests, oldest first: a ring of `pipeline`.
    var starts: [Int64] = []
    /// The mix entry of each in-flight request, beside `starts`.
    var classes: [Int] = []
    /// Whether any response ever came back on this slot.
    var answered = false
    var head = 0
    var inflight = 0
    var parser = ResponseParser()
    var retryAt: Int64 = 0
    /// Consecutive connect failures, for backoff.
    var failures = 0
    /// Open loop: whether the slot is in its group's queue of connections
    /// that can take a request (`Worker.available`).
    var queued = false
}

/// A fixed ring of connection indices (each at most once: `Connection.queued`).
struct IndexRing {
    private var slots: [Int]
    private var head = 0
    private(set) var count = 0

    init(capacity: Int) { slots = [Int](repeating: 0, count: max(1, capacity)) }

    mutating func push(_ index: Int) {
        slots[(head + count) % slots.count] = index
        count += 1
    }

    mutating func pop() -> Int? {
        guard count > 0 else { return nil }
        let index = slots[head]
        head = (head + 1) % slots.count
        count -= 1
        return index
    }
}

/// One I/O thread: its own epoll, its own connections, its own histograms.
/// Everything here is touched by that thread only.
final class Worker {
    private let plan: WorkerPlan
    private let epfd: Int32
    private var connections: [Connection]
    private var result: WorkerResult
    private var random: SplitMix64
    // safety: both buffers are allocated once here and freed in deinit; only
    // this worker's thread uses them.
    private let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    private let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: 256)

    // Open loop: intended start times that have come due but wait for a free
    // connection. Their latency clock is already running.
    private var pending: [Int64] = []
    private var pendingHead = 0
    private var nextArrival: Int64 = .max
    /// Open loop: connections that can take a request, oldest first, per
    /// group (hot, then cold; without skew every connection is cold). A
    /// connection joins when its connect finishes or a response frees a
    /// place in its pipeline, and is checked again when taken (it may have
    /// closed since), so finding one is O(1) at any number of connections.
    private var available: [IndexRing] = []
    private var lastMaintenance: Int64 = 0
    /// Whether epoll_pwait2 works here; if not, waits round down to whole
    /// milliseconds and the last one before an arrival is a busy poll.
    private var preciseWait = true

    init(plan: WorkerPlan) {
        self.plan = plan
        epfd = Epoll.create()
        random = SplitMix64(state: plan.seed &+ UInt64(plan.index) &* 0x1000_0000_01B3)
        var histogram = Histogram<UInt64>(
            lowestDiscernibleValue: 1, highestTrackableValue: plan.highestLatency, numberOfSignificantValueDigits: .three)
        histogram.autoResize = true
        result = WorkerResult(
            latency: histogram, perClass: Array(repeating: histogram, count: plan.requests.count), perSecond: Array(repeating: nil, count: plan.seconds),
            errorsPerSecond: Array(repeating: 0, count: plan.seconds), errors: Array(repeating: 0, count: ErrorKind.allCases.count),
            perClass2xx: Array(repeating: 0, count: plan.requests.count), perClassGood: Array(repeating: 0, count: plan.requests.count))
        let longest = plan.requests.map(\.count).max() ?? 0
        var template = Connection()
        template.outbox.reserveCapacity(longest * plan.pipeline)
        template.starts = Array(repeating: 0, count: plan.pipeline)
        template.classes = Array(repeating: 0, count: plan.pipeline)
        connections = []
        connections.reserveCapacity(plan.connections)
        for _ in 0..<plan.connections {
            // Each slot gets buffers of its own (a copy would share until the
            // first write, then allocate mid-run).
            var connection = template
            connection.outbox = []
            connection.outbox.reserveCapacity(longest * plan.pipeline)
            connection.starts = Array(repeating: 0, count: plan.pipeline)
            connection.classes = Array(repeating: 0, count: plan.pipeline)
            connections.append(connection)
        }
        pending.reserveCapacity(1024)
    }

    deinit {
        readBuffer.deallocate()
        events.deallocate()
    }

    func run() -> WorkerResult {
        if let cpu = plan.cpu {
            do {
                try bindCurrentThread(toCPU: cpu)
            } catch {
                result.warning = "cannot pin load thread \(plan.index) to CPU \(cpu): \(error)"
            }
        }
        if plan.realtime {
            var parameters = sched_param(sched_priority: 1)
            let code = pthread_setschedparam(pthread_self(), Int32(SCHED_FIFO), &parameters)
            if code != 0 {
                result.warning = "cannot run load thread \(plan.index) under SCHED_FIFO: \(String(cString: strerror(code))); at normal priority"
            }
        }
        guard epfd >= 0 else {
            result.firstProblem = "epoll_create1 failed: \(errnoText())"
            return result
        }
        var now = monotonicNanoseconds()
        if let rate = plan.rate {
            let gap = plan.arrivals == .constant ? plan.firstArrivalOffset : -Glibc.log(random.unit()) / rate
            nextArrival = plan.startTime + Int64(gap * 1e9)
        }
        for i in connections.indices { open(i, now: now) }
        lastMaintenance = now
        while now < plan.endTime {
            if let cancellation = plan.cancellation, cancellation.isCancelled { break }
            if plan.rate != nil {
                arrive(until: now)
                dispatch(now: now)
            }
            if now - lastMaintenance >= 5_000_000 {
                maintain(now: now)
                lastMaintenance = now
            }
            var wait = min(plan.endTime - now, 5_000_000)
            if nextArrival < plan.endTime { wait = min(wait, max(0, nextArrival - now)) }
            let count = Epoll.wait(epfd, events, capacity: 256, nanoseconds: wait, precise: &preciseWait)
            now = monotonicNanoseconds()
            if count > 0 {
                for k in 0..<Int(count) {
                    let tag = events[k].data.u64
                    let i = Int(tag & 0xFFFF_FFFF)
                    guard i < connections.count, connections[i].fd >= 0,
                          connections[i].generation == UInt32(truncatingIfNeeded: tag >> 32) else { continue }
                    handle(i, events: events[k].events, now: now)
                }
            }
        }
        result.stoppedAt = now
        // What the window leaves unanswered: in flight on a connection, or
        // due (open loop) and still waiting for a free one. A server that
        // never answers some clients shows here, not as silence.
        for i in connections.indices {
            if connections[i].fd >= 0 { result.outstanding += connections[i].inflight }
            if !connections[i].answered { result.silentConnections += 1 }
        }
        result.outstanding += pending.count - pendingHead
        // Whoever samples the server at the window's end must see it with its
        // connections still open, not in the middle of tearing them down.
        plan.closeGate?.wait()
        for i in connections.indices where connections[i].fd >= 0 {
            Glibc.close(connections[i].fd)
            connections[i].fd = -1
        }
        Glibc.close(epfd)
        return result
    }

    // MARK: Connections

    private func tag(_ i: Int) -> UInt64 {
        UInt64(connections[i].generation) << 32 | UInt64(i)
    }

    private func open(_ i: Int, now: Int64) {
        let fd = socket(plan.address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            connectFailed(i, code: errno, now: now)
            return
        }
        // Requests leave in one write each; Nagle would hold back pipelined ones.
        SocketOptions.setNoDelay(fd)
        if plan.sourceAddresses > 0 && !bindSource(fd, address: UInt32(0x7F00_0001) + UInt32((plan.firstConnection + i) % plan.sourceAddresses)) {
            let code = errno
            Glibc.close(fd)
            connectFailed(i, code: code, now: now)
            return
        }
        let status = plan.address.connect(fd)
        if status != 0 && errno != EINPROGRESS {
            let code = errno
            Glibc.close(fd)
            connectFailed(i, code: code, now: now)
            return
        }
        connections[i].fd = fd
        connections[i].generation &+= 1
        connections[i].connecting = true
        connections[i].connectStarted = now
        connections[i].outbox.removeAll(keepingCapacity: true)
        connections[i].sent = 0
        connections[i].head = 0
        connections[i].inflight = 0
        connections[i].parser.reset()
        // Writable means the handshake finished (or failed: SO_ERROR says).
        connections[i].watchingWrite = true
        Epoll.add(epfd, fd, events: Epoll.readable | Epoll.writable, tag: tag(i))
    }

    /// Binds a socket to a loopback source address (host order), leaving
    /// the port to `connect` (IP_BIND_ADDRESS_NO_PORT), which can reuse a port
    /// across destinations.
    private func bindSource(_ fd: Int32, address: UInt32) -> Bool {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_IP), 24 /* IP_BIND_ADDRESS_NO_PORT */, &one, socklen_t(MemoryLayout<Int32>.size))
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = address.bigEndian
        return withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    private func connectFailed(_ i: Int, code: Int32, now: Int64) {
        if connections[i].fd >= 0 {
            Epoll.remove(epfd, connections[i].fd)
            Glibc.close(connections[i].fd)
            connections[i].fd = -1
        }
        connections[i].connecting = false
        count(.connect, now: now, detail: "\(Self.lowercased(String(cString: strerror(code)))) to \(plan.target)")
        // Back off 10 ms, doubling to 1 s, so a dead server is not hammered.
        let failures = min(connections[i].failures, 7)
        connections[i].failures += 1
        connections[i].retryAt = now + (10_000_000 << Int64(failures))
    }

    /// Drops a connection; every request in flight on it fails as `kind`.
    private func drop(_ i: Int, kind: ErrorKind?, now: Int64) {
        let fd = connections[i].fd
        guard fd >= 0 else { return }
        Epoll.remove(epfd, fd)
        Glibc.close(fd)
        connections[i].fd = -1
        connections[i].connecting = false
        if let kind {
            let detail: String
            switch kind {
            case .malformed: detail = "malformed response from \(plan.target)"
            case .timeout: detail = "no response within \(plan.timeout / 1_000_000) ms from \(plan.target)"
            default: detail = "connection to \(plan.target) closed with requests in flight"
            }
            for _ in 0..<max(1, connections[i].inflight) { count(kind, now: now, detail: detail) }
        }
        connections[i].inflight = 0
        connections[i].retryAt = now
        // Reconnect at once: servers that close after N requests are normal.
        if now < plan.endTime { open(i, now: now) }
    }

    private func count(_ kind: ErrorKind, now: Int64, detail: @autoclosure () -> String) {
        if result.firstProblem == nil { result.firstProblem = detail() }
        guard now >= plan.measureStart else { return }
        result.errors[kind.index] += 1
        result.errorsPerSecond[second(of: now)] += 1
    }

    private func second(of time: Int64) -> Int {
        min(plan.seconds - 1, max(0, Int((time - plan.measureStart) / 1_000_000_000)))
    }

    // MARK: Events

    private func handle(_ i: Int, events: UInt32, now: Int64) {
        if connections[i].connecting {
            var code: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(connections[i].fd, SOL_SOCKET, SO_ERROR, &code, &length)
            if code != 0 || events & (Epoll.error | Epoll.hangUp) != 0 && events & Epoll.writable == 0 {
                connectFailed(i, code: code != 0 ? code : ECONNREFUSED, now: now)
                return
            }
            guard events & Epoll.writable != 0 else { return }
            connections[i].connecting = false
            connections[i].failures = 0
            makeAvailable(i)
            refill(i, now: now)
            flush(i, now: now)
            return
        }
        if events & (Epoll.readable | Epoll.hangUp | Epoll.error) != 0 {
            receive(i, now: now)
        }
        if connections[i].fd >= 0 && events & Epoll.writable != 0 {
            flush(i, now: now)
        }
    }

    private func receive(_ i: Int, now: Int64) {
        let fd = connections[i].fd
        let n = recv(fd, readBuffer.baseAddress, readBuffer.count, 0)
        if n < 0 {
            if errno == EAGAIN || errno == EINTR { return }
            drop(i, kind: .reset, now: now)
            return
        }
        if n == 0 {
            let outcome = connections[i].parser.endOfInput()
            if case .response(let status, _) = outcome { complete(i, status: status, now: now) }
            let kind: ErrorKind? = outcome == .malformed ? .malformed : (connections[i].inflight > 0 ? .reset : nil)
            drop(i, kind: kind, now: now)
            return
        }
        if now >= plan.measureStart { result.bytes += n }
        var offset = 0
        while offset < n {
            // safety: offset < n <= readBuffer.count, and recv wrote the first n bytes.
            let (used, outcome) = connections[i].parser.parse(UnsafeRawBufferPointer(rebasing: readBuffer[offset..<n]))
            offset += used
            switch outcome {
            case .needMore:
                continue
            case .response(let status, let close):
                guard connections[i].inflight > 0 else {
                    // A response nobody asked for: the framing is off.
                    drop(i, kind: .malformed, now: now)
                    return
                }
                complete(i, status: status, now: now)
                if close {
                    drop(i, kind: connections[i].inflight > 0 ? .reset : nil, now: now)
                    return
                }
            case .malformed:
                drop(i, kind: .malformed, now: now)
                return
            }
        }
        if plan.rate == nil {
            refill(i, now: now)
        }
        flush(i, now: now)
        if plan.rate != nil && connections[i].inflight < plan.pipeline {
            // A connection just became free: queued arrivals go out now.
            dispatch(now: now)
        }
    }

    private func complete(_ i: Int, status: Int, now: Int64) {
        let start = connections[i].starts[connections[i].head]
        let requestClass = connections[i].classes[connections[i].head]
        connections[i].head = (connections[i].head + 1) % plan.pipeline
        connections[i].inflight -= 1
        connections[i].answered = true
        makeAvailable(i)
        guard now >= plan.measureStart else { return }
        let micros = UInt64(max(0, now - start) / 1000)
        _ = result.latency.record(micros)
        _ = result.perClass[requestClass].record(micros)
        let s = second(of: now)
        if result.perSecond[s] == nil {
            // One histogram per second, made when that second's first
            // response arrives: an allocation per second, not per request.
            // Two significant digits (1% resolution) are plenty for a
            // timeline's p99 and take 18 KB a second instead of 123 KB
            // (10 s range); the run's own histogram keeps three.
            var histogram = Histogram<UInt64>(
                lowestDiscernibleValue: 1, highestTrackableValue: plan.highestLatency, numberOfSignificantValueDigits: .two)
            histogram.autoResize = true
            result.perSecond[s] = histogram
        }
        _ = result.perSecond[s]!.record(micros)
        result.requests += 1
        if (200..<300).contains(status) {
            result.responses2xx += 1
            result.perClass2xx[requestClass] += 1
            if micros <= plan.sloMicros { result.perClassGood[requestClass] += 1 }
        } else {
            count(.non2xx, now: now, detail: "status \(status) from \(plan.target)")
        }
    }

    // MARK: Sending

    private func pickRequest() -> Int {
        let weights = plan.cumulativeWeights
        if weights.count == 1 { return 0 }
        let u = random.unit()
        for k in weights.indices where u <= weights[k] { return k }
        return weights.count - 1
    }

    /// Queues one request on connection `i`, whose latency starts at `start`.
    private func enqueue(_ i: Int, start: Int64) {
        let request = pickRequest()
        connections[i].outbox.append(contentsOf: plan.requests[request])
        let slot = (connections[i].head + connections[i].inflight) % plan.pipeline
        connections[i].starts[slot] = start
        connections[i].classes[slot] = request
        connections[i].inflight += 1
    }

    /// Closed loop: keep `pipeline` requests in flight, timed from now.
    private func refill(_ i: Int, now: Int64) {
        guard plan.rate == nil else {
            dispatch(now: now)
            return
        }
        guard now < plan.endTime else { return }
        while connections[i].inflight < plan.pipeline { enqueue(i, start: now) }
    }

    private func flush(_ i: Int, now: Int64) {
        let fd = connections[i].fd
        guard fd >= 0, !connections[i].connecting else { return }
        while connections[i].sent < connections[i].outbox.count {
            let sent = connections[i].sent
            // safety: the range starts inside the outbox and ends at its end;
            // MSG_NOSIGNAL turns a closed peer into EPIPE instead of SIGPIPE.
            let n = connections[i].outbox.withUnsafeBytes {
                send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL))
            }
            if n > 0 {
                connections[i].sent += n
            } else if n < 0 && (errno == EAGAIN || errno == EINTR) {
                break
            } else {
                drop(i, kind: .reset, now: now)
                return
            }
        }
        let waiting = connections[i].sent < connections[i].outbox.count
        if !waiting {
            connections[i].outbox.removeAll(keepingCapacity: true)
            connections[i].sent = 0
        }
        if waiting != connections[i].watchingWrite {
            connections[i].watchingWrite = waiting
            Epoll.modify(epfd, fd, events: Epoll.readable | (waiting ? Epoll.writable : 0), tag: tag(i))
        }
    }

    // MARK: Open loop

    /// Moves arrivals whose intended time has come into the pending queue.
    private func arrive(until now: Int64) {
        guard let rate = plan.rate else { return }
        while nextArrival <= now && nextArrival < plan.endTime {
            pending.append(nextArrival)
            let gap = plan.arrivals == .constant ? 1 / rate : -Glibc.log(random.unit()) / rate
            nextArrival += max(1, Int64(gap * 1e9))
        }
    }

    /// Sends queued arrivals on free connections, oldest first.
    private func dispatch(now: Int64) {
        while pendingHead < pending.count, let i = freeConnection() {
            let intended = pending[pendingHead]
            if intended >= plan.measureStart {
                result.scheduledSends += 1
                if now - intended > plan.scheduleSlack { result.lateSends += 1 }
            }
            enqueue(i, start: intended)
            pendingHead += 1
            flush(i, now: now)
        }
        if pendingHead == pending.count {
            pending.removeAll(keepingCapacity: true)
            pendingHead = 0
        } else if pendingHead >= 1024 && pendingHead * 2 >= pending.count {
            // Compact in place (no allocation) once the dead prefix dominates.
            pending.removeFirst(pendingHead)
            pendingHead = 0
        }
    }

    /// Group 0 holds the hot connections of a skewed run, group 1 the rest.
    private func group(of i: Int) -> Int { i < plan.hotConnections ? 0 : 1 }

    private func makeAvailable(_ i: Int) {
        guard plan.rate != nil, !connections[i].queued else { return }
        if available.isEmpty {
            available = [IndexRing(capacity: plan.hotConnections), IndexRing(capacity: connections.count - plan.hotConnections)]
        }
        connections[i].queued = true
        available[group(of: i)].push(i)
    }

    /// A connection that can take one more request now, oldest available
    /// first (so requests rotate over connections); with skew, a hot one for
    /// `hotShare` of requests, a cold one for the rest, the other group when
    /// the chosen one has none free.
    private func freeConnection() -> Int? {
        guard !available.isEmpty else { return nil }
        let hotFirst = plan.hotConnections > 0 && plan.hotConnections < connections.count && random.unit() < plan.hotShare
        let first = hotFirst ? 0 : 1
        return take(from: first) ?? take(from: 1 - first)
    }

    private func take(from group: Int) -> Int? {
        while let i = available[group].pop() {
            connections[i].queued = false
            guard connections[i].fd >= 0, !connections[i].connecting, connections[i].inflight < plan.pipeline else { continue }
            // It takes this request; with room for more it waits its turn again.
            if connections[i].inflight + 1 < plan.pipeline {
                connections[i].queued = true
                available[group].push(i)
            }
            return i
        }
        return nil
    }

    // MARK: Timeouts and reconnects

    private func maintain(now: Int64) {
        for i in connections.indices {
            let c = connections[i]
            if c.fd >= 0 {
                if c.connecting {
                    if now - c.connectStarted > plan.timeout { connectFailed(i, code: ETIMEDOUT, now: now) }
                } else if c.inflight > 0 && now - c.starts[c.head] > plan.timeout {
                    drop(i, kind: .timeout, now: now)
                }
            }
            if connections[i].fd < 0 && connections[i].retryAt <= now && now < plan.endTime {
                open(i, now: now)
            }
        }
        // Queued arrivals age too: one older than the timeout has failed.
        while pendingHead < pending.count && now - pending[pendingHead] > plan.timeout {
            count(.timeout, now: now, detail: "no free connection within \(plan.timeout / 1_000_000) ms")
            pendingHead += 1
        }
    }

    static func lowercased(_ text: String) -> String {
        guard let first = text.first else { return text }
        return first.lowercased() + text.dropFirst()
    }
}
