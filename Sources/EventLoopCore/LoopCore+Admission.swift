import CSystem
import EngineCore
import Glibc
import HTTP1
import LoopRuntime
import Metrics

/// Taking connections in: the connection budget and the listener pause,
/// load shedding and the per-address limit, and the slot a socket gets.
extension LoopCore {
    // MARK: accepting

    /// Takes one unit of the engine-wide budget before an accept.
    @inline(__always)
    public func takeBudget() -> Bool { budget?.tryAcquire() ?? true }

    /// Gives back a unit taken for an accept that brought no connection.
    public func returnBudget() { onClose() }

    /// Whether the budget has room now (after a pause, to resume).
    public var budgetHasRoom: Bool { budget?.hasRoom ?? true }

    /// The engine took its listener out of service: the budget is spent, or
    /// the process is out of descriptors (EMFILE/ENFILE), in which case it
    /// retries after 100 ms even if no connection of this loop closes.
    public func listenerDidPause(outOfDescriptors: Bool = false) {
        listenerPaused = true
        retryListenerAt = outOfDescriptors ? now + 100 : 0
        isPaused.store(true, ordering: .sequentiallyConsistent)
    }

    public func listenerDidResume() {
        listenerPaused = false
        retryListenerAt = 0
        isPaused.store(false, ordering: .sequentiallyConsistent)
    }

    /// The listener is paused and may come back (room in the budget, not
    /// draining, and past the retry time after running out of descriptors).
    /// Engines check it after closes, wake-ups and each turn.
    public var listenerMayResume: Bool { listenerPaused && !draining && now >= retryListenerAt && budgetHasRoom }

    /// Takes an accepted socket into the table: returns its slot, with the
    /// keep-alive deadline armed; nil if the socket was refused and closed
    /// (shed with 503). Its budget unit is then given back.
    ///
    /// A socket accepted while draining (an io_uring accept completing after
    /// its cancel, a hand-off from the acceptor) is admitted, not closed: its
    /// client may have sent a request already. It drains like the others:
    /// the drain grace on its timer, `Connection: close` on its response.
    ///
    /// `fd` is a descriptor, or for `directDescriptor` an index into the
    /// engine's registered file table (io_uring). Refusing a real
    /// descriptor is done here (a `writev` and a `close`); a direct one the
    /// engine must shed (503 with Retry-After, `shedResponse`) and close its
    /// own way, in `shed`. A direct descriptor gets TCP_NODELAY from the
    /// listener it was accepted on.
    public func admit(_ fd: Int32, directDescriptor: Bool = false, shed shedDirect: (Int32) -> Void = { _ in }) -> Int? {
        let shedAbove = shedAboveCount.load(ordering: .relaxed)
        if shedAbove > 0 && open >= shedAbove {
            if directDescriptor {
                shedDirect(fd)
                counters.recordResponse(status: 503)
                onClose()
            } else {
                shed(fd)
            }
            return nil
        }
        var peer: AddressLimiter.Key?
        if let addressLimiter, !directDescriptor, let key = AddressLimiter.peer(of: fd) {
            guard addressLimiter.admit(key) else {
                answerAndClose(fd, prefix: AddressLimitResponse.prefix.buffer, suffix: AddressLimitResponse.suffix.buffer, status: 429)
                return nil
            }
            peer = key
        }
        if !directDescriptor { SocketOptions.setNoDelay(fd) }
        let generation = limitsGeneration.load(ordering: .acquiring)
        if generation != limitsGenerationSeen {
            limits = SharedLimits(reloadedLimits.withLock { $0 })
            limitsGenerationSeen = generation
        }
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            // A reload changed the limits: this connection's session takes them.
            if connections[slot].session.limits !== limits { connections[slot].session.adopt(limits) }
        } else {
            let session = ServerConnection(responder: responder, loop: loop, sharing: limits)
            connections.append(LoopConnection(session: session))
            slot = connections.count - 1
            wheel.reserve(slots: connections.count)
        }
        let connection = connections[slot]
        connection.session.outputHighWater = readAheadLimit
        connection.fd = fd
        connection.generation &+= 1
        // The kind byte carries the loop's index (mod 256): a resumer that
        // serves several loops (the stealing pool) routes by it.
        connection.session.attach(connection: connection.tag(slot: slot, kind: UInt8(truncatingIfNeeded: index)).raw)
        connection.requestStartedAt = -1
        connection.requestsSeen = 0
        connection.peer = peer
        open += 1
        publishOpen()
        counters.recordConnectionOpened()
        if draining { connection.session.beginDraining() }
        wheel.arm(slot, at: admissionDeadline)
        return slot
    }

    /// Takes in a connection found in the listener's queue as the drain
    /// closes it (`Listener.acceptQueued`): admitted if the budget has room,
    /// else answered 503 and closed. It holds no unit then, so none is
    /// given back.
    public func admitQueued(_ fd: Int32) -> Int? {
        if takeBudget() { return admit(fd) }
        refuseOverBudget(fd)
        return nil
    }

    /// A socket accepted with no budget unit (a multishot accept does not
    /// ask first, a drain empties the queue): answered 503 and closed rather
    /// than reset, so its client knows its request was not served.
    public func refuseOverBudget(_ fd: Int32) {
        answerAndClose(fd, prefix: Shedding.prefix.buffer, suffix: Shedding.suffix.buffer, status: 503, holdsUnit: false)
    }

    /// The shedding response (with this second's Date line) written at
    /// `buffer`, which must hold `shedResponseCount` bytes; returns its length.
    public func shedResponse(into buffer: UnsafeMutableRawPointer) -> Int {
        loop.date.refresh()
        let date = loop.date.headerLine
        buffer.copyMemory(from: Shedding.prefix.base, byteCount: Shedding.prefix.count)
        (buffer + Shedding.prefix.count).copyMemory(from: date.baseAddress!, byteCount: date.count)
        (buffer + Shedding.prefix.count + date.count).copyMemory(from: Shedding.suffix.base, byteCount: Shedding.suffix.count)
        return Shedding.prefix.count + date.count + Shedding.suffix.count
    }

    /// Room `shedResponse` needs.
    public static let shedResponseCount = 512

    /// Load shedding: answer 503 with Retry-After straight away and close,
    /// without a session. One writev of three pieces (the Date line is the
    /// loop's cached one); rare by construction, so a blocking-free
    /// synchronous call suits every engine.
    func shed(_ fd: Int32) {
        answerAndClose(fd, prefix: Shedding.prefix.buffer, suffix: Shedding.suffix.buffer, status: 503)
    }

    /// Answers a refused connection with a fixed response around this
    /// second's Date line, in one writev, closes it and gives its budget
    /// unit back (if it `holdsUnit`).
    func answerAndClose(_ fd: Int32, prefix: UnsafeRawBufferPointer, suffix: UnsafeRawBufferPointer, status: Int,
                        holdsUnit: Bool = true) {
        loop.date.refresh()
        SocketOptions.writeRefusal(fd, prefix, loop.date.headerLine, suffix)
        close(fd)
        counters.recordResponse(status: status)
        if holdsUnit { onClose() }
    }
}
