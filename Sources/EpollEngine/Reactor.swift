import CSystem
import EngineCore
import EventLoopCore
import Glibc
import HTTP1
import LoopRuntime
import Metrics

/// One event loop: an epoll instance and the readiness-driven I/O of the
/// connections its `LoopCore` holds.
///
/// Everything a loop touches on the hot path is its own: its connection
/// table, sessions, buffers, counters and date cache (all in the core). Other
/// threads reach it only through the core's `enqueue` and `requestStop`,
/// which write the core's eventfd, registered here.
final class Reactor: EventLoop, @unchecked Sendable {
    // @unchecked Sendable: all mutable state is confined to the loop thread;
    // the core synchronizes what other threads touch.
    let core: LoopCore
    private let syscalls: LoopEvents<Event>
    var events: EventCounters? { syscalls.counters }
    let epfd: Int32
    var listenFD: Int32 = -1
    /// What the loop knows of each slot's socket, beside the core's table.
    struct SocketState {
        /// The socket may hold unread bytes (edge-triggered: we saw an edge
        /// and have not yet read to a short count or EAGAIN).
        var readable = false
        /// EPOLLOUT is registered because a send hit EAGAIN.
        var wantsWrite = false
        /// The peer shut its sending side (EPOLLRDHUP): a short read no
        /// longer means "drained until the next edge", since no edge will
        /// come; the next read finds the end of stream and closes.
        var hungUp = false
        /// The session's last answer was `.wait` (a deferred response): events
        /// only note readiness until the answer arrives (`answer`). A copy of
        /// the session's state kept here because the event path reads this
        /// record anyway.
        var awaiting = false
    }
    /// Indexed by slot. A buffer, not an array: the hot path's `inout` on
    /// an element then needs no uniqueness check.
    // safety: `socketCapacity` initialized elements, allocated in `watch`
    // (growing), freed in deinit; loop thread only.
    private var sockets = UnsafeMutablePointer<SocketState>.allocate(capacity: 0)
    private var socketCapacity = 0
    // safety: `eventCapacity` events, allocated in init, freed in deinit.
    private let readyEvents: UnsafeMutablePointer<epoll_event>
    private let eventCapacity = 256

    static let listenerTag = UInt64.max
    static let wakeTag = UInt64.max - 1

    /// System calls by kind, so engines can be compared per request
    /// (`switchyard_engine_events_total{event="epoll_wait"}` ...).
    enum Event: Int, ReadinessEvent {
        case epollWait, recv, send, epollCtl, accept, close
    }

    init(core: LoopCore) throws(EngineError) {
        self.core = core
        // An idle connection here waits for readiness, with nothing that
        // could write into its buffers, so they may go back a turn later.
        core.defersIdleRelease = true
        syscalls = LoopEvents(loop: core.index, help: "epoll engine: system calls by kind (Sources/EpollEngine/README.md)")
        epfd = Epoll.create()
        guard epfd >= 0 else { throw EngineError("cannot create an epoll instance: \(errnoText())") }
        readyEvents = .allocate(capacity: eventCapacity)
        Epoll.add(epfd, core.wakeFD, events: Epoll.readable, tag: Reactor.wakeTag)
    }

    deinit {
        sockets.deinitialize(count: socketCapacity).deallocate()
        readyEvents.deallocate()
        close(epfd)
    }

    @inline(__always)
    private func count(_ event: Event) { syscalls.count(event) }

    // MARK: the loop

    func run() {
        core.begin()
        if listenFD >= 0 { Epoll.add(epfd, listenFD, events: Epoll.readable, tag: Reactor.listenerTag) }
        while true {
            let n = switchyard_epoll_wait(epfd, readyEvents, Int32(eventCapacity), core.waitMilliseconds())
            count(.epollWait)
            if n < 0 && errno != EINTR { break }
            core.beginTurn()
            if Int(n) == eventCapacity { core.noteFullBatch() }
            for i in 0..<max(Int(n), 0) {
                let event = readyEvents[i]
                switch event.data.u64 {
                case Reactor.listenerTag: acceptReady()
                case Reactor.wakeTag: wokenUp()
                default: connectionEvent(tag: event.data.u64, flags: event.events)
                }
            }
            core.expireDeadlines { expire($0) }
            if core.listenerMayResume { resumeListener() }
            if core.isFinished { break }
        }
        for slot in core.openSlots { closeConnection(slot) }
        if listenFD >= 0 { close(listenFD); listenFD = -1 }
    }

    private func wokenUp() {
        EventFD.drain(core.wakeFD)
        if core.wokenUp(adopt: { watch($0) }, answer: { answer($0, $1) }) { beginDrain() }
        if core.listenerMayResume { resumeListener() }
    }

    // MARK: accepting

    /// The reuseport listener is readable: accept until EAGAIN or the cap
    /// (shared with the work-stealing engine).
    private func acceptReady() {
        core.acceptReady(listenFD: listenFD, epfd: epfd, tag: Reactor.listenerTag, events: syscalls) { watch($0) }
    }

    private func resumeListener() {
        core.resumeListener(listenFD: listenFD, epfd: epfd, tag: Reactor.listenerTag, events: syscalls)
    }

    /// A connection the core admitted: register it for readiness.
    private func watch(_ slot: Int) {
        if slot >= socketCapacity {
            let capacity = max(slot + 1, socketCapacity * 2, 16)
            let grown = UnsafeMutablePointer<SocketState>.allocate(capacity: capacity)
            grown.moveInitialize(from: sockets, count: socketCapacity)
            (grown + socketCapacity).initialize(repeating: SocketState(), count: capacity - socketCapacity)
            sockets.deallocate()
            sockets = grown
            socketCapacity = capacity
        }
        sockets[slot] = SocketState()
        let connection = core.connections[slot]
        Epoll.add(epfd, connection.fd, events: Epoll.readable | Epoll.peerHangUp | Epoll.edgeTriggered,
                  tag: connection.tag(slot: slot).raw)
        count(.epollCtl)
    }

    // MARK: connection I/O

    private func connectionEvent(tag: UInt64, flags: UInt32) {
        let tag = SlotTag(raw: tag)
        let slot = tag.slot
        guard slot < core.connections.count else { return }
        // safety: the core's table keeps the record alive past this call.
        unowned(unsafe) let connection = core.connections[slot]
        // A stale event for a connection closed earlier in this batch.
        guard connection.isOpen, tag.matches(generation: connection.generation) else { return }
        if flags & Epoll.error != 0 {
            closeConnection(slot)
            return
        }
        if flags & (Epoll.readable | Epoll.peerHangUp | Epoll.hangUp) != 0 { sockets[slot].readable = true }
        if flags & (Epoll.peerHangUp | Epoll.hangUp) != 0 { sockets[slot].hungUp = true }
        // Waiting for a late answer: nothing is read meanwhile.
        if sockets[slot].awaiting { return }
        // Not waiting to send: the session's last answer was `.read` (a
        // deadline that answers 408 drives through `expire`, not here).
        drive(slot, waitingToRead: !sockets[slot].wantsWrite)
    }

    /// Runs the session until it needs an event (`driveReadiness`, shared
    /// with the work-stealing engine), then registers what it waits for.
    private func drive(_ slot: Int, waitingToRead: Bool = false) {
        // safety: the slot's record and its session live as long as the
        // core's table, which outlives this call; unowned(unsafe) spares a
        // retain and release of each per event.
        unowned(unsafe) let connection = core.connections[slot]
        let socket = sockets + slot
        let fd = connection.fd
        // A guaranteed reference: an unowned(unsafe) local was still
        // retained and released around the calls on the session.
        let wait = Unmanaged.passUnretained(connection.session).guaranteed { session in
            if core.draining { session.beginDraining() }
            return driveReadiness(session, fd: fd, readable: &socket.pointee.readable, hungUp: socket.pointee.hungUp,
                                  events: syscalls, waitingToRead: waitingToRead)
        }
        switch wait {
        case .write:
            // The socket is full: wait for EPOLLOUT, and stop reading
            // (no more requests are taken until this output drains).
            if !socket.pointee.wantsWrite {
                socket.pointee.wantsWrite = true
                Epoll.modify(epfd, connection.fd, events: Epoll.readable | Epoll.writable | Epoll.peerHangUp | Epoll.edgeTriggered,
                             tag: connection.tag(slot: slot).raw)
                count(.epollCtl)
            }
            core.armDeadline(slot, sending: true)
        case .read:
            if socket.pointee.wantsWrite {
                socket.pointee.wantsWrite = false
                Epoll.modify(epfd, connection.fd, events: Epoll.readable | Epoll.peerHangUp | Epoll.edgeTriggered,
                             tag: connection.tag(slot: slot).raw)
                count(.epollCtl)
            }
            core.armDeadline(slot, sending: false)
        case .close:
            closeConnection(slot)
        case .wait:
            socket.pointee.awaiting = true
            core.armDeadline(slot, sending: false)
        }
    }

    /// A late answer for `slot` arrived (the core checked its tag): apply
    /// it and send what it queued.
    private func answer(_ slot: Int, _ late: any LateAnswer) {
        // Not only when `awaiting`: an answer may come while earlier
        // responses still wait for EPOLLOUT; the session knows what it waits for.
        guard core.connections[slot].session.answer(late) else { return }
        sockets[slot].awaiting = false
        drive(slot)
    }

    private func expire(_ slot: Int) {
        switch core.expiry(of: slot, sending: sockets[slot].wantsWrite) {
        case .close?:
            closeConnection(slot)
        case .answer?:
            sockets[slot].readable = false  // the 408 or 504 goes out; nothing more is read
            sockets[slot].awaiting = false
            drive(slot)
        case nil:
            break
        }
    }

    private func closeConnection(_ slot: Int) {
        let connection = core.connections[slot]
        guard connection.isOpen else { return }
        close(connection.fd)  // also removes it from the epoll set
        count(.close)
        if core.release(slot) { resumeListener() }
    }

    // MARK: stopping

    /// Stop accepting; idle connections get the drain grace for one last
    /// request; busy ones finish their response, which carries `Connection: close`.
    private func beginDrain() {
        listenFD = core.closeListener(listenFD: listenFD, epfd: epfd) { watch($0) }
        core.beginDrain(isIdle: { !sockets[$0].wantsWrite })
    }
}
