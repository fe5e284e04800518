import CSystem
import EngineCore
import Glibc
import HTTP1
import LoopRuntime

/// Event counters of an engine that drives non-blocking sockets on
/// readiness: it must count its receives and sends.
public protocol ReadinessEvent: LoopEvent {
    static var recv: Self { get }
    static var send: Self { get }
    static var accept: Self { get }
    static var epollCtl: Self { get }
}

/// What a connection driven on readiness waits for next.
public enum ReadinessWait {
    /// The socket has no more bytes for now: wait for the next edge.
    case read
    /// The socket would not take more output: wait for EPOLLOUT. No more
    /// requests are taken until the output drains.
    case write
    /// The session is done, the peer closed, or the socket failed: close it.
    case close
    /// A response comes later (`ConnectionAction.wait`): read nothing
    /// more (an edge seen meanwhile stays in `readable`) until the loop
    /// applies the answer and drives the connection again.
    case wait
}

/// The I/O half of an engine that waits for readiness (epoll, work
/// stealing): runs `session` over the non-blocking socket `fd` until it must
/// wait, reading while the socket may hold bytes and writing while it takes
/// them. The caller owns registration (EPOLLOUT on `.write`, off again on
/// `.read`), deadlines and closing.
///
/// `readable`: an edge was seen (edge-triggered) and not yet read to a short
/// count or EAGAIN; cleared here when the socket is drained. `hungUp`: the
/// peer shut its side (EPOLLRDHUP), so a short read does not mean drained:
/// no further edge will come, and the next read finds the end of stream.
///
/// `waitingToRead`: the caller knows the session's last answer was `.read`
/// and nothing has touched it since (an event on a connection that was
/// waiting to read). Asking `process()` again would only say `.read`, so
/// the loop starts with the read. An engine shortcut kept because it was
/// measured to pay (the epoll loop's common event; issue 13's notes).
@inlinable @inline(__always)
public func driveReadiness<Machine: ConnectionMachine, Event: ReadinessEvent>(
    _ session: Machine, fd: Int32, readable: inout Bool, hungUp: Bool, events: LoopEvents<Event>,
    waitingToRead: Bool = false
) -> ReadinessWait {
    var next = waitingToRead ? ConnectionAction.read : session.process()
    while true {
        switch next {
        case .write:
            let n = SegmentSend.send(fd, session)
            events.count(.send)
            if n >= 0 {
                session.didWrite(n)
                next = session.process()
                continue
            }
            if errno == EINTR { continue }
            return errno == EAGAIN || errno == EWOULDBLOCK ? .write : .close
        case .read:
            guard readable else { return .read }
            let space = session.readSpace()
            let n = switchyard_recv(fd, space.baseAddress, space.count, 0)
            events.count(.recv)
            if n > 0 {
                session.didRead(n)
                // A short read drained the socket; the next bytes bring a new edge.
                if n < space.count && !hungUp { readable = false }
                next = session.process()
                continue
            }
            if n == 0 { return .close }  // the client closed
            if errno == EINTR { continue }
            guard errno == EAGAIN || errno == EWOULDBLOCK else { return .close }
            readable = false
            return .read
        case .close:
            return .close
        case .wait:
            return .wait
        }
    }
}

/// Accepting on a non-blocking SO_REUSEPORT listener registered in an epoll
/// instance, for the engines that accept on readiness (epoll, work stealing).
/// The listener's epoll registration follows the core's budget: it leaves
/// the set while the budget is spent (clients wait in the kernel backlog).
extension LoopCore {
    /// The listener is readable: accept until EAGAIN or the cap, calling
    /// `admitted` for each slot the core took in.
    public func acceptReady<Event: ReadinessEvent>(listenFD: Int32, epfd: Int32, tag: UInt64, events: LoopEvents<Event>,
                                                   admitted: (Int) -> Void) {
        while takeBudget() {
            let fd = accept4(listenFD, nil, nil, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
            events.count(.accept)
            if fd >= 0 {
                if let slot = admit(fd) { admitted(slot) }
                continue
            }
            let failure = errno
            // Give the unit back the way a closing connection does, waking
            // paused loops: another loop may have paused while this one held
            // the unit only for the duration of a failed accept.
            returnBudget()
            if failure == EINTR || failure == ECONNABORTED { continue }
            if failure == EMFILE || failure == ENFILE {
                // Wait for a close or the retry time instead of spinning.
                pauseListener(listenFD: listenFD, epfd: epfd, events: events, outOfDescriptors: true)
            }
            return
        }
        pauseListener(listenFD: listenFD, epfd: epfd, events: events)
        // A connection may have closed between the failed take and the pause.
        if listenerMayResume { resumeListener(listenFD: listenFD, epfd: epfd, tag: tag, events: events) }
    }

    /// At the cap, new clients wait in the listen backlog: the listener
    /// leaves the epoll set until a connection closes.
    public func pauseListener<Event: ReadinessEvent>(listenFD: Int32, epfd: Int32, events: LoopEvents<Event>,
                                                     outOfDescriptors: Bool = false) {
        guard listenFD >= 0, !listenerPaused else { return }
        Epoll.remove(epfd, listenFD)
        events.count(.epollCtl)
        listenerDidPause(outOfDescriptors: outOfDescriptors)
    }

    public func resumeListener<Event: ReadinessEvent>(listenFD: Int32, epfd: Int32, tag: UInt64, events: LoopEvents<Event>) {
        guard listenFD >= 0, listenerPaused, !draining else { return }
        Epoll.add(epfd, listenFD, events: Epoll.readable, tag: tag)
        events.count(.epollCtl)
        listenerDidResume()
    }

    /// The drain: the listener leaves the set, what its queue holds is taken
    /// in (`admitQueued`, each slot passed to `admitted`), and it closes;
    /// returns -1 for the engine's `listenFD`.
    public func closeListener(listenFD: Int32, epfd: Int32, admitted: (Int) -> Void) -> Int32 {
        if listenFD >= 0 {
            if !listenerPaused { Epoll.remove(epfd, listenFD) }
            Listener.acceptQueued(listenFD) { if let slot = admitQueued($0) { admitted(slot) } }
            close(listenFD)
        }
        return -1
    }
}
