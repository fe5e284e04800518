import CSystem
import EngineCore
import Glibc
import HTTP1
import Metrics
import Synchronization

/// One event loop: an epoll instance, the connections it owns, a timer wheel.
///
/// Everything a loop touches on the hot path is its own: its connection
/// table, sessions, buffers, counters and date cache. Other threads reach it
/// only through `enqueue` (the acceptor's hand-off) and `requestStop`, both
/// of which take a lock and write to the loop's eventfd to wake it.
final class Reactor: @unchecked Sendable {
    // @unchecked Sendable: all mutable state is confined to the loop thread,
    // except `inbox`, `stopRequested` and `openCount`, which are synchronized.
    let index: Int
    let configuration: EngineConfiguration
    let responder: any HTTPResponder
    let counters: WorkerCounters
    /// Created by the loop thread itself once pinned, so its pool, arena and
    /// date cache are first touched on the loop's CPU. Loop thread only.
    private var worker: WorkerContext!
    let epfd: Int32
    let wakeFD: Int32
    /// This loop's SO_REUSEPORT listener, or -1 (acceptor policy).
    var listenFD: Int32 = -1
    /// The engine-wide cap (reuseport policy); nil with an acceptor, which
    /// enforces the cap before handing connections over.
    let budget: ConnectionBudget?
    /// Returns one unit of the connection cap and wakes paused loops; called
    /// on the loop thread after a connection closes, or when a unit taken for
    /// an accept went unused.
    let onClose: @Sendable () -> Void
    /// Set while this loop's listener is out of its epoll set for lack of
    /// budget; other loops read it to decide whom to wake.
    let isPaused = Atomic(false)

    /// Open connections; written by the loop, read by the acceptor.
    let openCount = Atomic(0)
    private let inbox = Mutex([Int32]())
    private let stopRequested = Atomic(false)

    private var connections: [ReactorConnection] = []
    private var freeSlots: [Int] = []
    private var wheel: TimerWheel
    /// When the last epoll_wait returned (ms). Deadlines are counted from
    /// when an event arrived; one clock read per turn of the loop, not per
    /// connection event, is all 100 ms ticks need.
    private var now = 0
    /// Reused every turn of the loop, so collecting expired timers allocates nothing.
    private var expired: [Int] = []
    private var open = 0
    private var listenerPaused = false
    private var draining = false
    private var drainDeadline = 0
    // safety: `eventCapacity` events, allocated in init, freed in deinit.
    private let events: UnsafeMutablePointer<epoll_event>
    private let eventCapacity = 256

    static let listenerTag = UInt64.max
    static let wakeTag = UInt64.max - 1

    init(index: Int, configuration: EngineConfiguration, responder: any HTTPResponder,
         budget: ConnectionBudget?, onClose: @escaping @Sendable () -> Void) throws(EngineError) {
        self.index = index
        self.configuration = configuration
        self.responder = responder
        self.budget = budget
        self.onClose = onClose
        counters = WorkerCounters(name: "loop-\(index)")
        epfd = Epoll.create()
        wakeFD = Epoll.makeEventFD()
        guard epfd >= 0, wakeFD >= 0 else { throw EngineError("cannot create epoll instance or eventfd: \(errnoText())") }
        events = .allocate(capacity: eventCapacity)
        wheel = TimerWheel(now: monotonicMilliseconds())
        Epoll.add(epfd, wakeFD, events: Epoll.readable, tag: Reactor.wakeTag)
    }

    deinit {
        events.deallocate()
        close(epfd)
        close(wakeFD)
    }

    // MARK: other threads

    /// Acceptor thread: hands over an accepted, non-blocking socket.
    func enqueue(_ fd: Int32) {
        inbox.withLock { $0.append(fd) }
        Epoll.signal(wakeFD)
    }

    /// Any thread: budget was freed; a paused loop may accept again.
    func wakeIfPaused() {
        if isPaused.load(ordering: .sequentiallyConsistent) { Epoll.signal(wakeFD) }
    }

    /// Any thread: begin the graceful stop.
    func requestStop() {
        stopRequested.store(true, ordering: .releasing)
        Epoll.signal(wakeFD)
    }

    // MARK: the loop

    func run() {
        // Pin first: sessions and pooled buffers are created on this thread
        // from here on, so their memory is first touched on this CPU's node.
        configuration.pinCurrentThread(index: index)
        worker = WorkerContext(counters: counters)
        if listenFD >= 0 { Epoll.add(epfd, listenFD, events: Epoll.readable, tag: Reactor.listenerTag) }
        while true {
            var timeout = wheel.waitMilliseconds(now: monotonicMilliseconds())
            if draining { timeout = timeout < 0 ? 50 : min(timeout, 50) }
            let n = epoll_wait(epfd, events, Int32(eventCapacity), timeout)
            if n < 0 && errno != EINTR { break }
            now = monotonicMilliseconds()
            for i in 0..<max(Int(n), 0) {
                let event = events[i]
                switch event.data.u64 {
                case Reactor.listenerTag: acceptReady()
                case Reactor.wakeTag: wokenUp()
                default: connectionEvent(tag: event.data.u64, flags: event.events)
                }
            }
            wheel.advance(to: now, collectingInto: &expired)
            for slot in expired { expire(slot) }
            expired.removeAll(keepingCapacity: true)
            if draining && (open == 0 || now >= drainDeadline) { break }
        }
        for slot in 0..<connections.count where connections[slot].fd >= 0 { closeConnection(slot) }
        if listenFD >= 0 { close(listenFD); listenFD = -1 }
    }

    private func wokenUp() {
        Epoll.drain(wakeFD)
        let arrived = inbox.withLock { fds -> [Int32] in
            let taken = fds
            fds.removeAll(keepingCapacity: true)
            return taken
        }
        for fd in arrived { adopt(fd) }
        if stopRequested.load(ordering: .acquiring) && !draining { beginDrain() }
        if listenerPaused, budget?.hasRoom ?? true { resumeListener() }
    }

    // MARK: accepting

    /// The reuseport listener is readable: accept until EAGAIN or the cap.
    private func acceptReady() {
        while budget?.tryAcquire() ?? true {
            let fd = accept4(listenFD, nil, nil, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
            if fd >= 0 {
                adopt(fd)
                continue
            }
            let failure = errno
            // Give the unit back the way a closing connection does, waking
            // paused loops: another loop may have paused while this one held
            // the unit only for the duration of a failed accept.
            onClose()
            if failure == EINTR || failure == ECONNABORTED { continue }
            if failure == EMFILE || failure == ENFILE {
                pauseListener()  // out of descriptors: wait for a close instead of spinning
            }
            return
        }
        pauseListener()
        // A connection may have closed between the failed take and the pause.
        if budget?.hasRoom ?? false { resumeListener() }
    }

    /// At the cap, new clients wait in the listen backlog: the listener
    /// leaves the epoll set until a connection closes.
    private func pauseListener() {
        guard listenFD >= 0, !listenerPaused else { return }
        Epoll.remove(epfd, listenFD)
        listenerPaused = true
        isPaused.store(true, ordering: .sequentiallyConsistent)
    }

    private func resumeListener() {
        guard listenFD >= 0, listenerPaused, !draining else { return }
        Epoll.add(epfd, listenFD, events: Epoll.readable, tag: Reactor.listenerTag)
        listenerPaused = false
        isPaused.store(false, ordering: .sequentiallyConsistent)
    }

    private func adopt(_ fd: Int32) {
        if draining {
            close(fd)
            onClose()
            return
        }
        if configuration.shedAbove > 0 && open >= configuration.shedAbove {
            shed(fd)
            return
        }
        SocketOptions.setNoDelay(fd)
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
        } else {
            let session = HTTPSession(responder: responder, worker: worker, limits: configuration.limits)
            session.outputHighWater = configuration.readAheadLimit
            connections.append(ReactorConnection(session: session))
            slot = connections.count - 1
            wheel.reserve(slots: connections.count)
        }
        let connection = connections[slot]
        connection.fd = fd
        connection.generation &+= 1
        connection.readable = false
        connection.wantsWrite = false
        connection.requestStartedAt = -1
        connection.requestsSeen = 0
        open += 1
        openCount.store(open, ordering: .relaxed)
        counters.recordConnectionOpened()
        Epoll.add(epfd, fd, events: Epoll.readable | Epoll.peerHangUp | Epoll.edgeTriggered, tag: connection.tag(slot: slot))
        wheel.arm(slot, at: now + Int(configuration.keepAliveTimeout * 1000))
    }

    /// Load shedding: answer 503 with Retry-After straight away and close,
    /// without a session. One writev of three pieces (the Date line is the
    /// loop's cached one).
    private func shed(_ fd: Int32) {
        worker.date.refresh()
        let date = worker.date.headerLine
        withUnsafeTemporaryAllocation(of: iovec.self, capacity: 3) { pieces in
            pieces[0] = iovec(iov_base: UnsafeMutableRawPointer(mutating: Shedding.prefix.base), iov_len: Shedding.prefix.count)
            pieces[1] = iovec(iov_base: UnsafeMutableRawPointer(mutating: date.baseAddress!), iov_len: date.count)
            pieces[2] = iovec(iov_base: UnsafeMutableRawPointer(mutating: Shedding.suffix.base), iov_len: Shedding.suffix.count)
            _ = writev(fd, pieces.baseAddress, 3)  // best effort: the client may already be gone
        }
        close(fd)
        counters.recordResponse(status: 503)
        onClose()
    }

    // MARK: connection I/O

    private func connectionEvent(tag: UInt64, flags: UInt32) {
        let slot = Int(tag & 0xFFFF_FFFF)
        guard slot < connections.count else { return }
        let connection = connections[slot]
        // A stale event for a connection closed earlier in this batch.
        guard connection.fd >= 0, connection.generation == UInt32(tag >> 32) else { return }
        if flags & Epoll.error != 0 {
            closeConnection(slot)
            return
        }
        if flags & (Epoll.readable | Epoll.peerHangUp | Epoll.hangUp) != 0 { connection.readable = true }
        drive(slot)
    }

    /// Runs the session until it needs an event: read while the socket has
    /// bytes, write while it takes them, close when the session says so.
    private func drive(_ slot: Int) {
        let connection = connections[slot]
        let session = connection.session
        let fd = connection.fd
        if draining { session.beginDraining() }
        while true {
            switch session.process() {
            case .write:
                let output = session.pendingOutput
                let n = send(fd, output.baseAddress, output.count, Int32(MSG_NOSIGNAL))
                if n >= 0 {
                    session.didWrite(n)
                    continue
                }
                if errno == EINTR { continue }
                guard errno == EAGAIN || errno == EWOULDBLOCK else {
                    closeConnection(slot)
                    return
                }
                // The socket is full: wait for EPOLLOUT, and stop reading
                // (no more requests are taken until this output drains).
                if !connection.wantsWrite {
                    connection.wantsWrite = true
                    Epoll.modify(epfd, fd, events: Epoll.readable | Epoll.writable | Epoll.peerHangUp | Epoll.edgeTriggered,
                                 tag: connection.tag(slot: slot))
                }
                armTimer(slot)
                return
            case .read:
                if connection.wantsWrite {
                    connection.wantsWrite = false
                    Epoll.modify(epfd, fd, events: Epoll.readable | Epoll.peerHangUp | Epoll.edgeTriggered,
                                 tag: connection.tag(slot: slot))
                }
                guard connection.readable else {
                    armTimer(slot)
                    return
                }
                let space = session.readSpace()
                let n = recv(fd, space.baseAddress, space.count, 0)
                if n > 0 {
                    session.didRead(n)
                    // A short read drained the socket; the next bytes bring a new edge.
                    if n < space.count { connection.readable = false }
                    continue
                }
                if n == 0 {
                    closeConnection(slot)  // the client closed
                    return
                }
                if errno == EINTR { continue }
                guard errno == EAGAIN || errno == EWOULDBLOCK else {
                    closeConnection(slot)
                    return
                }
                connection.readable = false
                armTimer(slot)
                return
            case .close:
                closeConnection(slot)
                return
            }
        }
    }

    /// One deadline per connection, chosen by what it is waiting for.
    private func armTimer(_ slot: Int) {
        let connection = connections[slot]
        let session = connection.session
        let deadline: Int
        if connection.wantsWrite {
            deadline = now + Int(configuration.sendTimeout * 1000)
        } else if session.isIdle {
            connection.requestStartedAt = -1
            // Waiting for readiness needs no buffer: lend them to busy connections.
            session.releaseIdleBuffers()
            deadline = now + Int(configuration.keepAliveTimeout * 1000)
        } else if session.isReceivingBody {
            deadline = now + Int(configuration.bodyTimeout * 1000)
        } else {
            // Part of a head is here: the deadline runs from its first byte
            // and is not extended by more bytes, so trickling does not help.
            if connection.requestStartedAt < 0 || connection.requestsSeen != session.requestsCompleted {
                connection.requestStartedAt = now
                connection.requestsSeen = session.requestsCompleted
            }
            deadline = connection.requestStartedAt + Int(configuration.headTimeout * 1000)
        }
        wheel.arm(slot, at: deadline)
    }

    private func expire(_ slot: Int) {
        let connection = connections[slot]
        guard connection.fd >= 0 else { return }
        if connection.wantsWrite || connection.session.isIdle {
            closeConnection(slot)  // send timeout, or idle keep-alive
            return
        }
        connection.session.readTimedOut()  // 408, then close
        connection.readable = false
        drive(slot)
    }

    private func closeConnection(_ slot: Int) {
        let connection = connections[slot]
        guard connection.fd >= 0 else { return }
        wheel.cancel(slot)
        close(connection.fd)  // also removes it from the epoll set
        connection.fd = -1
        connection.session.reset()
        freeSlots.append(slot)
        open -= 1
        openCount.store(open, ordering: .relaxed)
        counters.recordConnectionClosed()
        onClose()
        if listenerPaused, budget?.hasRoom ?? true { resumeListener() }
    }

    // MARK: stopping

    /// Stop accepting; close idle connections now; busy ones finish their
    /// response, which carries `Connection: close`.
    private func beginDrain() {
        draining = true
        drainDeadline = monotonicMilliseconds() + Int(configuration.drainTimeout * 1000)
        if listenFD >= 0 {
            if !listenerPaused { Epoll.remove(epfd, listenFD) }
            close(listenFD)
            listenFD = -1
        }
        for slot in 0..<connections.count where connections[slot].fd >= 0 {
            let connection = connections[slot]
            connection.session.beginDraining()
            if connection.session.isIdle && !connection.wantsWrite { closeConnection(slot) }
        }
    }
}

/// The pre-serialized parts of the load-shedding response.
enum Shedding {
    static let prefix = StaticBytes("HTTP/1.1 503 Service Unavailable\r\n")
    static let suffix = StaticBytes(
        "Retry-After: 1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 19\r\nConnection: close\r\n\r\n503 server is busy\n")
}
