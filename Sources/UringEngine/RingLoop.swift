import CLiburing
import EngineCore
import EventLoopCore
import Glibc
import HTTP1
import LoopRuntime
import Metrics
import Pools

/// One io_uring event loop: a ring created and driven only by its own
/// (pinned) thread, and the completion-driven I/O of the connections its
/// `LoopCore` holds. A connection belongs to one ring for life.
///
/// Each turn is one `io_uring_enter` (`switchyard_submit_and_wait`): it
/// submits everything prepared since the last turn (the sends of every
/// connection served in that turn, re-armed receives, cancels) and waits for
/// at least one completion, or the next timer tick. Then every completion is
/// handled, the timer wheel advances, and the next turn begins.
///
/// Per connection, at most: one receive (multishot into provided buffers, or
/// single-shot into the session's buffer) and one send (from the session's
/// output buffer, which nothing touches until its completion arrives). A
/// connection's slot is freed only when none of its operations is
/// outstanding, so a late completion can never reach the slot's next occupant
/// (the generation in `user_data` double-checks it).
final class RingLoop: EventLoop, @unchecked Sendable {
    // @unchecked Sendable: the ring and all mutable state are confined to the
    // loop thread; the core synchronizes what other threads touch.
    let core: LoopCore
    let options: UringOptions
    private let counts: LoopEvents<Event>
    var events: EventCounters? { counts.counters }
    var listenFD: Int32 = -1
    // safety: allocated in init, set up on the loop thread in `run`, torn
    // down and freed when `run` ends; never shared with another thread.
    private let ring: UnsafeMutablePointer<io_uring>
    private var buffers: BufferRing?
    // safety: `ioCapacity` initialized entries indexed by slot, grown only
    // by `adopted` on the loop thread, freed in deinit. A plain buffer of a
    // trivial struct: the hot path reads and writes it without reference
    // counting or uniqueness checks.
    private var io: UnsafeMutablePointer<SlotIO>
    private var ioCapacity = 0
    /// By slot: copies of received bytes the session could not take yet (a
    /// send in flight and the input full), in arrival order, pieces of at
    /// most 4 KiB. Rare, so a dictionary: idle connections pay nothing for it.
    private var parked: [Int: [[UInt8]]] = [:]
    /// Late answers that arrived while their connection's send was in
    /// flight: applying one appends to the output the kernel is reading, so
    /// it waits for the send's completion (`sendProgressed`). Rare.
    private var heldAnswers: [Int: any LateAnswer] = [:]
    /// Sends of output that is more than one run of bytes (`hasSegments`),
    /// by slot: what the kernel reads until the send completes. Rare.
    private var segmentSends: [Int: SegmentSendState] = [:]
    /// `segmentSends` is not empty (once a loop has sent segments, for good):
    /// the per-send check, without touching the dictionary.
    private var hasSegmentSends = false
    /// `heldAnswers` is not empty.
    private var hasHeldAnswers = false
    /// Slots whose multishot receive ended with ENOBUFS, re-armed when
    /// buffers come back.
    private var starved: [Int] = []
    private var acceptArmed = false
    /// Accepted by a multishot accept while the budget was spent: they wait
    /// here (the listener is paused) until a connection closes.
    private var waitingAccepted: [Int32] = []
    /// Completions handled per batch before the queue head is advanced.
    private let cqeCapacity = 256
    private let multishot: Bool
    /// Connections live in the ring's registered file table (--uring-direct-descriptors):
    /// `LoopConnection.fd` is an index there, and every operation says so.
    private let direct: Bool
    // safety: `LoopCore.shedResponseCount` bytes, allocated in init, freed in
    // deinit. A direct descriptor is shed through the ring: the kernel reads
    // this while that send is in flight. Rewritten by the next shed, which
    // (sends being issued when submitted) finds the earlier one done; the
    // bytes differ only when the Date line's second has changed.
    private let shedBuffer: UnsafeMutableRawPointer
    /// Set once the loop has begun cancelling everything before it ends.
    private var tearingDown = false
    /// `--send-timeout` in milliseconds.
    /// Plain sends prepared since the last io_uring_enter.
    private var sendsThisTurn = 0
    /// Slots that submitted a send this turn. Most sends complete in the
    /// next io_uring_enter; those still in flight after it get the send
    /// deadline then, which spares a timer-wheel arm and cancel per request.
    private var sendsSubmitted = SlotList()
    /// Last turn's `sendsSubmitted`, checked after this turn's completions.
    private var sendsToCheck = SlotList()

    /// Per-slot I/O state, beside the core's connection table.
    /// Laid out small (24 bytes): one per connection slot, idle or not.
    struct SlotIO {
        var sendLength: Int32 = 0
        /// The loop turn the current send was submitted in (`LoopClock.turn`).
        var sendTurn: UInt32 = 0
        /// The loop's clock (ms, wrapping) when the send last made progress.
        var sendSince: UInt32 = 0
        /// Operations whose last completion has not arrived (at most a
        /// receive, a send and its zero-copy notification).
        var outstanding: Int8 = 0
        /// A receive is armed (multishot: until a completion without F_MORE).
        var receiving = false
        /// A send is in flight: the session's output belongs to the kernel.
        var sending = false
        /// The last send came back short: the socket's buffer is full.
        var socketFull = false
        /// Zero-copy send: the buffer is released by a second completion.
        var awaitingNotification = false
        var closing = false
        /// The multishot receive was cancelled to push back on a client.
        var stoppedReading = false
        var starved = false
        /// Single-shot receive: a deadline passed while a receive was in flight.
        var expiryPending = false
        /// `parked[slot]` holds bytes.
        var hasParked = false
        /// The client shut its sending side (end of stream); close once the
        /// session has answered what it sent.
        var peerClosed = false
    }

    /// Engine events in /metrics (`switchyard_engine_events_total{event="io_uring_enter"}` ...;
    /// the README says what each counts).
    enum Event: Int, LoopEvent {
        case ioUringEnter, submitSqFull, close, eventfdRead, enobufs, recvRearm, acceptRearm, shortSend, cqOverflow,
             cancel, recvCopied, recvParked, sendZc, waitTimeout, recvBundle
    }

    init(core: LoopCore, options: UringOptions) {
        self.core = core
        self.options = options
        counts = LoopEvents(loop: core.index, help: "io_uring engine: system calls and ring conditions (Sources/UringEngine/README.md)")
        ring = .allocate(capacity: 1)
        ring.initialize(to: io_uring())
        io = .allocate(capacity: 1)
        multishot = options.receive == .multishot
        direct = options.directDescriptors
        shedBuffer = .allocate(byteCount: LoopCore.shedResponseCount, alignment: 16)
    }

    deinit {
        shedBuffer.deallocate()
        io.deinitialize(count: ioCapacity)
        io.deallocate()
        sendsSubmitted.free()
        sendsToCheck.free()
        ring.deinitialize(count: 1)
        ring.deallocate()
    }

    @inline(__always)
    private func count(_ event: Event, _ value: UInt64 = 1) { counts.count(event, value) }

    // MARK: set-up and the loop

    /// Creates the ring on this thread (SINGLE_ISSUER: the creator submits).
    private func setUp() throws(EngineError) {
        var params = io_uring_params()
        if options.sqPoll {
            params.flags = UInt32(IORING_SETUP_SQPOLL)
            params.sq_thread_idle = 1000
        } else if options.deferTaskrun {
            params.flags = UInt32(IORING_SETUP_SINGLE_ISSUER) | UInt32(IORING_SETUP_DEFER_TASKRUN)
        } else {
            params.flags = UInt32(IORING_SETUP_COOP_TASKRUN)
        }
        params.flags |= UInt32(IORING_SETUP_CQSIZE) | UInt32(IORING_SETUP_SUBMIT_ALL)
        params.cq_entries = UInt32(options.sqEntries * options.cqFactor)
        let status = io_uring_queue_init_params(UInt32(options.sqEntries), ring, &params)
        guard status == 0 else {
            throw EngineError("io_uring_queue_init (--uring-sq-entries \(options.sqEntries)): \(String(cString: strerror(-status)))")
        }
        if options.registerRingFD { _ = io_uring_register_ring_fd(ring) }
        if direct {
            let table = UInt32(min(core.configuration.maxConnections + 64, 1 << 20))
            let status = io_uring_register_files_sparse(ring, table)
            guard status == 0 else {
                throw EngineError("--uring-direct-descriptors: cannot register a file table of \(table) (--max-connections): \(String(cString: strerror(-status)))")
            }
            // Accepted sockets inherit it; a direct one cannot be given it.
            if listenFD >= 0 { SocketOptions.setNoDelay(listenFD) }
        }
        if multishot {
            buffers = try BufferRing(ring: ring, count: options.buffers, size: options.bufferSize, group: 0,
                                     incremental: options.incremental)
        }
    }

    func run() {
        core.begin()
        do {
            try setUp()
        } catch {
            let line = Array("switchyard: error: loop \(core.index): \(error)\n".utf8)
            line.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
            exit(1)
        }
        armWake()
        if listenFD >= 0 { armAccept() }
        while true {
            // Small sends to sockets with room complete during this very
            // call; waiting for one completion more than them keeps them from
            // ending the wait at once (one io_uring_enter per turn, not two).
            // Should one not complete at once after all, the wait is capped
            // at 1 ms, so nothing stalls longer than that.
            let waitFor = options.waitForSends ? 1 + min(sendsThisTurn, cqeCapacity) : 1
            var timeout = Int64(core.waitMilliseconds()) * 1_000_000
            if waitFor > 1 { timeout = timeout < 0 ? 1_000_000 : min(timeout, 1_000_000) }
            sendsThisTurn = 0
            let status = switchyard_submit_and_wait(ring, UInt32(waitFor), timeout < 0 ? -1 : timeout,
                                                    UInt32(options.minWaitMicroseconds))
            count(.ioUringEnter)
            if status == -ETIME { count(.waitTimeout) }
            if status < 0 && status != -ETIME && status != -EINTR && status != -EBUSY && status != -EAGAIN { break }
            core.beginTurn()
            swap(&sendsToCheck, &sendsSubmitted)
            sendsSubmitted.count = 0
            reap()
            // Sends submitted before this wait that are still in flight (not
            // completed, nor replaced by a new send during this turn).
            for i in 0..<sendsToCheck.count {
                let slot = sendsToCheck.slots[i]
                if io[slot].sending && io[slot].sendTurn != core.turn && !io[slot].closing { core.armDeadline(slot, sending: true) }
            }
            if !starved.isEmpty, let buffers, buffers.available > 0 { rearmStarved() }
            core.expireDeadlines { expire($0) }
            if core.listenerMayResume { resumeAccept() }
            if core.isFinished { break }
        }
        tearDown()
    }

    /// The drain is over (or out of time). Every operation still in flight
    /// is cancelled and its completion awaited, so the kernel has let go of
    /// every buffer and session before they are freed (`io_uring_queue_exit`
    /// alone does not wait for cancellations to finish). Bounded: two
    /// seconds at most, then the ring goes regardless.
    private func tearDown() {
        tearingDown = true
        if listenFD >= 0 { beginDrain() }
        for slot in core.openSlots where !io[slot].closing { startClose(slot) }
        cancel(Completion.tag(.wake))
        var rounds = 0
        while (core.open > 0 || acceptArmed) && rounds < 200 {
            _ = switchyard_submit_and_wait(ring, 1, 10_000_000, 0)
            count(.ioUringEnter)
            reap()
            rounds += 1
        }
        io_uring_queue_exit(ring)
        for slot in core.openSlots {  // only if the kernel never answered
            if !direct { close(core.connections[slot].fd) }  // a direct one went with the ring
            count(.close)
            io[slot] = SlotIO()
            core.release(slot)
        }
        if !direct { for fd in waitingAccepted { close(fd) } }  // over budget: no unit to return; direct ones went with the ring
        waitingAccepted.removeAll()
        if listenFD >= 0 { close(listenFD); listenFD = -1 }
        buffers?.free()
        buffers = nil
    }

    /// Handles every completion in the queue, in batches, and flushes an
    /// overflow (IORING_FEAT_NODROP keeps overflowed completions in the
    /// kernel; they must be fetched, never dropped).
    private func reap() {
        while true {
            var head: UInt32 = 0
            let n = min(Int(switchyard_cq_ready(ring, &head)), cqeCapacity)
            for i in 0..<n {
                // safety: entries head..<head+n are the kernel's completed ones
                // until io_uring_cq_advance below hands them back.
                let cqe = switchyard_cqe(ring, head &+ UInt32(truncatingIfNeeded: i))!
                complete(userData: cqe.pointee.user_data, result: cqe.pointee.res, flags: cqe.pointee.flags)
            }
            io_uring_cq_advance(ring, UInt32(n))
            if n == cqeCapacity {
                // More completions than one batch (the kernel posts them while
                // we work, without DEFER_TASKRUN): a turn ends here, so the
                // loop's clock, queue delay and shedding keep up.
                core.beginTurn()
                continue
            }
            if io_uring_cq_has_overflow(ring) {
                count(.cqOverflow)
                _ = io_uring_get_events(ring)
                count(.ioUringEnter)
                continue
            }
            return
        }
    }

    /// A submission queue entry; submits first if the queue is full.
    @inline(__always)
    private func entry() -> UnsafeMutablePointer<io_uring_sqe> {
        while true {
            if let sqe = io_uring_get_sqe(ring) { return sqe }
            _ = io_uring_submit(ring)
            count(.submitSqFull)
        }
    }

    private func complete(userData: UInt64, result: Int32, flags: UInt32) {
        let completion = Completion(userData)
        switch completion.kind {
        case .receive?:
            guard let slot = live(completion) else { return recycleStale(flags: flags, result: result) }
            if multishot { receivedMultishot(slot, result: result, flags: flags) } else { receivedSingle(slot, result: result) }
        case .send?:
            guard let slot = live(completion) else { return }
            sent(slot, result: result, flags: flags)
        case .accept?:
            accepted(result: result, flags: flags)
        case .wake?:
            wokenUp(flags: flags)
        case .ignore?, nil:
            break  // a cancel's own result (0, -ENOENT, -EALREADY): the target's completion says the rest
        }
    }

    /// The slot a connection's completion is for, if it is still that connection.
    @inline(__always)
    private func live(_ completion: Completion) -> Int? {
        let slot = completion.slot
        guard slot < core.connections.count else { return nil }
        let connection = core.connections[slot]
        guard connection.isOpen, completion.tag.matches(generation: connection.generation) else { return nil }
        return slot
    }

    /// A completion for a connection that is gone still returns its buffers.
    private func recycleStale(flags: UInt32, result: Int32) {
        guard flags & IORING_CQE_F_BUFFER != 0, let buffers else { return }
        buffers.consume(flags: flags, result: result) { _ in }
    }

    // MARK: accepting

    private func armAccept() {
        guard listenFD >= 0, !acceptArmed else { return }
        let sqe = entry()
        let socketFlags = Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        switch (options.multishotAccept, direct) {
        case (true, false): io_uring_prep_multishot_accept(sqe, listenFD, nil, nil, socketFlags)
        case (true, true): io_uring_prep_multishot_accept_direct(sqe, listenFD, nil, nil, 0)
        case (false, false): io_uring_prep_accept(sqe, listenFD, nil, nil, socketFlags)
        case (false, true): io_uring_prep_accept_direct(sqe, listenFD, nil, nil, 0, UInt32(bitPattern: -1) /* IORING_FILE_INDEX_ALLOC */)
        }
        io_uring_sqe_set_data64(sqe, Completion.tag(.accept))
        acceptArmed = true
    }

    /// The drain's end of accepting, once no accept is in flight: what the
    /// queue holds is taken in (a close would reset it; not with direct
    /// descriptors, where a plain descriptor has no place in the ring's
    /// table), then the listener closes.
    private func closeListener() {
        guard listenFD >= 0 else { return }
        if !direct && !tearingDown {
            Listener.acceptQueued(listenFD) { if let slot = core.admitQueued($0) { adopted(slot) } }
        }
        close(listenFD)
        listenFD = -1
    }

    private func accepted(result: Int32, flags: UInt32) {
        let ended = flags & IORING_CQE_F_MORE == 0
        if ended { acceptArmed = false }
        if result >= 0 {
            if core.takeBudget() {
                if let slot = admit(result) { adopted(slot) }
            } else {
                // Multishot accept does not ask first: hold the socket and
                // pause, so the rest wait in the kernel backlog.
                waitingAccepted.append(result)
                pauseAccept()
                if core.budgetHasRoom { resumeAccept() }
            }
        } else if result == -EMFILE || result == -ENFILE {
            pauseAccept(outOfDescriptors: true)  // wait for a close or the retry time instead of spinning
        }
        if !acceptArmed && !core.listenerPaused && !core.draining && listenFD >= 0 {
            count(.acceptRearm)
            armAccept()
        }
        // The accept a drain cancelled has ended: the listener can close.
        if ended && core.draining { closeListener() }
    }

    private func pauseAccept(outOfDescriptors: Bool = false) {
        guard !core.listenerPaused else { return }
        core.listenerDidPause(outOfDescriptors: outOfDescriptors)
        if acceptArmed {
            cancel(Completion.tag(.accept))
        }
    }

    private func resumeAccept() {
        guard core.listenerPaused, !core.draining else { return }
        while let fd = waitingAccepted.first {
            guard core.takeBudget() else { return }  // still no room: stay paused
            waitingAccepted.removeFirst()
            if let slot = admit(fd) { adopted(slot) }
        }
        core.listenerDidResume()
        armAccept()
    }

    /// Offers an accepted socket to the core; a direct descriptor it turns
    /// away is answered (shedding) and closed through the ring.
    private func admit(_ fd: Int32) -> Int? {
        guard direct else { return core.admit(fd) }
        return core.admit(fd, directDescriptor: true) { index in
            let length = core.shedResponse(into: shedBuffer)
            let send = entry()
            io_uring_prep_send(send, index, shedBuffer, length, Int32(MSG_NOSIGNAL))
            // A hard link: the close runs even if the send fails.
            send.pointee.flags |= UInt8(switchyard_sqe_flag_fixed_file()) | UInt8(switchyard_sqe_flag_io_hardlink())
            io_uring_sqe_set_data64(send, Completion.tag(.ignore))  // nothing to do on its completion
            let close = entry()
            io_uring_prep_close_direct(close, UInt32(index))
            io_uring_sqe_set_data64(close, Completion.tag(.ignore))
            count(.close)
        }
    }

    /// A connection the core admitted: start receiving.
    private func adopted(_ slot: Int) {
        if slot >= ioCapacity {
            let capacity = max(64, slot + slot / 2)
            let grown = UnsafeMutablePointer<SlotIO>.allocate(capacity: capacity)
            grown.moveInitialize(from: io, count: ioCapacity)
            grown.advanced(by: ioCapacity).initialize(repeating: SlotIO(), count: capacity - ioCapacity)
            io.deallocate()
            io = grown
            ioCapacity = capacity
        }
        io[slot] = SlotIO()
        armReceive(slot)
    }

    // MARK: waking

    private func armWake() {
        guard !tearingDown else { return }
        let sqe = entry()
        io_uring_prep_poll_multishot(sqe, core.wakeFD, UInt32(POLLIN))
        io_uring_sqe_set_data64(sqe, Completion.tag(.wake))
    }

    private func wokenUp(flags: UInt32) {
        EventFD.drain(core.wakeFD)
        count(.eventfdRead)
        if flags & IORING_CQE_F_MORE == 0 { armWake() }
        if core.wokenUp(adopt: { adopted($0) }, answer: { answer($0, $1) }) { beginDrain() }
        if core.listenerMayResume { resumeAccept() }
    }

    // MARK: receiving

    private func armReceive(_ slot: Int) {
        let connection = core.connections[slot]
        let sqe = entry()
        if multishot {
            io_uring_prep_recv_multishot(sqe, connection.fd, nil, 0, 0)
            sqe.pointee.flags |= UInt8(switchyard_sqe_flag_buffer_select()) | fixedFile
            sqe.pointee.buf_group = buffers!.group
            if options.bundle { sqe.pointee.ioprio |= UInt16(SWITCHYARD_IORING_RECVSEND_BUNDLE) }
        } else {
            // safety: the kernel owns `space` until this receive completes;
            // nothing calls `process` on the session meanwhile.
            let space = connection.session.readSpace()
            io_uring_prep_recv(sqe, connection.fd, space.baseAddress, space.count, 0)
            sqe.pointee.flags |= fixedFile
        }
        io_uring_sqe_set_data64(sqe, Completion.tag(.receive, slot: slot, generation: connection.generation))
        io[slot].receiving = true
        io[slot].outstanding += 1
    }

    private func receivedMultishot(_ slot: Int, result: Int32, flags: UInt32) {
        if flags & IORING_CQE_F_MORE == 0 {
            io[slot].receiving = false
            io[slot].outstanding -= 1
            // A backpressure cancel still in flight finds nothing (ENOENT).
            io[slot].stoppedReading = false
        }
        if flags & IORING_CQE_F_BUFFER != 0 {
            if result > 0 && flags & IORING_CQE_F_MORE == 0 && !io[slot].closing { count(.recvRearm) }
            let generation = core.connections[slot].generation
            if Int(result) > buffers!.size && !options.incremental { count(.recvBundle) }
            // A guaranteed reference: the optional's strong copy was
            // retained and released per completion.
            Unmanaged.passUnretained(buffers!).guaranteed { ring in ring.consume(flags: flags, result: result) { bytes in
                // A piece may close the connection (a bad request); the rest
                // of a bundle then goes back unread.
                guard core.connections[slot].isOpen, core.connections[slot].generation == generation,
                      !io[slot].closing else { return }
                take(slot, bytes)
            } }
            if result <= 0 || io[slot].closing { finishIfClosing(slot, result: result) }
            return
        }
        if io[slot].closing { return finishIfClosing(slot, result: result) }
        switch result {
        case 0:
            // The client finished sending. Like epoll, answer what it sent
            // first: close once the session has nothing left to do.
            io[slot].peerClosed = true
            if !io[slot].sending { drive(slot) }
        case -ENOBUFS:
            // Not a connection error: the ring ran dry. Re-arm when buffers return.
            count(.enobufs)
            io[slot].starved = true
            starved.append(slot)
        case -ECANCELED:
            // Our backpressure cancel. If the send that caused it is already
            // done, nothing else will re-arm: drive now.
            if !io[slot].sending && !io[slot].receiving { drive(slot) }
        default:
            if result < 0 { startClose(slot) }  // reset, or another socket error
        }
    }

    /// Received bytes for `slot`, in a provided buffer the caller gives back
    /// to the kernel as soon as this returns: parsed in place when the
    /// session can take them now, else copied in (a send is in flight) or,
    /// if the session is full, copied aside until it can take them.
    private func take(_ slot: Int, _ bytes: UnsafeRawBufferPointer) {
        // A guaranteed reference: a strong one was retained and released.
        Unmanaged.passUnretained(core.connections[slot].session).guaranteed { take(slot, bytes, session: $0) }
    }

    @inline(__always)
    private func take(_ slot: Int, _ bytes: UnsafeRawBufferPointer, session: ServerConnection) {
        if io[slot].sending || io[slot].hasParked {
            if !io[slot].hasParked && session.inputRoom >= bytes.count {
                session.receive(bytes)
                count(.recvCopied)
                if session.bufferedInputCount > core.readAheadLimit { stopReading(slot) }
            } else {
                park(slot, bytes)
            }
            return
        }
        if core.draining { session.beginDraining() }
        var action = ConnectionAction.read
        var offset = 0
        while offset < bytes.count {
            // `process(borrowing:)` takes no more than the session has room
            // for; with nothing buffered that is the whole buffer.
            let n = min(bytes.count - offset, session.inputRoom)
            guard n > 0 else {
                // Full of requests held back by the output high-water mark.
                park(slot, UnsafeRawBufferPointer(rebasing: bytes[offset...]))
                break
            }
            action = session.process(borrowing: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n]))
            offset += n
        }
        afterProcess(slot, action)
    }

    /// Copies bytes the session cannot take yet aside, in pieces small
    /// enough for an empty session, and pushes back on the client. Copies,
    /// not the buffer itself: a connection never keeps a provided buffer
    /// from the ring (with incremental consumption, other connections'
    /// data would follow in the same buffer). Rare: a client pipelining
    /// faster than it reads, so an allocation here is acceptable.
    private func park(_ slot: Int, _ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count {
            let n = min(4096, bytes.count - offset)
            parked[slot, default: []].append(Array(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n])))
            offset += n
        }
        io[slot].hasParked = true
        count(.recvParked)
        stopReading(slot)
    }

    /// Cancels the operation tagged `target` (its own completion is ignored;
    /// the target's completion says how it ended).
    private func cancel(_ target: UInt64) {
        let sqe = entry()
        io_uring_prep_cancel64(sqe, target, 0)
        io_uring_sqe_set_data64(sqe, Completion.tag(.ignore))
        count(.cancel)
    }

    /// Backpressure: cancel the multishot receive; the kernel's socket
    /// buffer then pushes back on the client.
    private func stopReading(_ slot: Int) {
        guard io[slot].receiving, !io[slot].stoppedReading else { return }
        io[slot].stoppedReading = true
        let connection = core.connections[slot]
        cancel(Completion.tag(.receive, slot: slot, generation: connection.generation))
    }

    private func rearmStarved() {
        let waiting = starved
        starved.removeAll(keepingCapacity: true)
        for slot in waiting where io[slot].starved {
            io[slot].starved = false
            guard core.connections[slot].isOpen, !io[slot].closing, !io[slot].receiving else { continue }
            count(.recvRearm)
            if !io[slot].sending { drive(slot) } else { armReceive(slot) }
        }
    }

    private func receivedSingle(_ slot: Int, result: Int32) {
        io[slot].receiving = false
        io[slot].outstanding -= 1
        if io[slot].closing { return finishIfClosing(slot, result: result) }
        let session = core.connections[slot].session
        if result > 0 {
            session.didRead(Int(result))
            io[slot].expiryPending = false
            drive(slot)
        } else if result == -ECANCELED && io[slot].expiryPending {
            io[slot].expiryPending = false
            expireNow(slot)
        } else {
            startClose(slot)  // the client closed, reset, or a socket error
        }
    }

    // MARK: processing and sending

    /// Runs the session over what it holds (and any held buffers) and issues
    /// what it asks for. Only while no send is in flight and, single-shot,
    /// no receive is writing into the session's buffer.
    private func drive(_ slot: Int) {
        let session = core.connections[slot].session
        if core.draining { session.beginDraining() }
        var action = session.process()
        while action == .read && io[slot].hasParked, let held = parked[slot]?.first, session.inputRoom >= held.count {
            parked[slot]!.removeFirst()
            if parked[slot]!.isEmpty {
                parked[slot] = nil
                io[slot].hasParked = false
            }
            action = held.withUnsafeBytes { session.process(borrowing: $0) }
        }
        afterProcess(slot, action)
    }

    private func afterProcess(_ slot: Int, _ action: ConnectionAction) {
        switch action {
        case .write:
            submitSend(slot)
        case .read:
            if io[slot].peerClosed { return startClose(slot) }  // answered all it sent
            // Deadline first: an idle session lends its buffers back to the
            // pool there, and a single-shot receive takes them again below.
            core.armDeadline(slot, sending: false)
            if !io[slot].receiving && !io[slot].starved { armReceive(slot) }
        case .close:
            startClose(slot)
        case .wait:
            // A response comes later (`answer`). A multishot receive stays
            // armed: what arrives meanwhile is copied in or parked (`take`),
            // and past the read-ahead limit the client is pushed back on.
            if core.connections[slot].session.bufferedInputCount > core.readAheadLimit { stopReading(slot) }
            core.armDeadline(slot, sending: false)
        }
    }

    /// A late answer for `slot` (the core checked its tag): applied now, or
    /// once the send in flight completes.
    private func answer(_ slot: Int, _ late: any LateAnswer) {
        guard !io[slot].closing else { return }
        if io[slot].sending {
            heldAnswers[slot] = late
            hasHeldAnswers = true
            return
        }
        guard core.connections[slot].session.answer(late) else { return }
        drive(slot)
    }

    private func submitSend(_ slot: Int) {
        // safety: the core's table keeps the record alive past this call;
        // unowned(unsafe) spares a retain and release per send.
        unowned(unsafe) let connection = core.connections[slot]
        // A guaranteed reference: through the unowned one the session was retained.
        let session = Unmanaged.passUnretained(connection.session)
        if session.guaranteed({ $0.hasSegments }) { return submitSegmentSend(slot) }
        // safety: from here until this send's completion (and, zero-copy,
        // its notification) the kernel reads `output`; `sending` keeps
        // `process` away from the session meanwhile.
        let output = session.guaranteed { $0.pendingOutput }
        let sqe = entry()
        let tag = Completion.tag(.send, slot: slot, generation: connection.generation)
        if options.zeroCopyThreshold > 0 && output.count >= options.zeroCopyThreshold {
            io_uring_prep_send_zc(sqe, connection.fd, output.baseAddress, output.count, Int32(MSG_NOSIGNAL), 0)
            io[slot].awaitingNotification = true
            io[slot].outstanding += 1
            count(.sendZc)
        } else {
            io_uring_prep_send(sqe, connection.fd, output.baseAddress, output.count, Int32(MSG_NOSIGNAL))
            // Expected to complete at once: small, to a socket that took all
            // of the last send, and not the last before a close (whose
            // completion the client's next move waits for).
            if output.count <= 16 * 1024 && !io[slot].socketFull && !session.guaranteed({ $0.willClose }) { sendsThisTurn += 1 }
        }
        io_uring_sqe_set_data64(sqe, tag)
        sqe.pointee.flags |= fixedFile
        io[slot].sending = true
        io[slot].sendLength = Int32(truncatingIfNeeded: output.count)
        io[slot].sendSince = UInt32(truncatingIfNeeded: core.now)
        io[slot].outstanding += 1
        io[slot].sendTurn = core.turn
        sendsSubmitted.append(slot)
    }

    /// A send of segmented output (`hasSegments`): the leading memory
    /// segments gathered into one SENDMSG (start-up bytes are not copied),
    /// or, when a file range leads, up to 64 KiB of it read into a buffer
    /// from the loop's pool and sent from there.
    ///
    /// io_uring has no sendfile: the alternatives are two SPLICEs through a
    /// pipe (each runs on an io-wq kernel thread; netty measured 10-25%
    /// slower than epoll + sendfile) or READ + SEND. This is the second,
    /// with the read done synchronously (`pread`, normally a page-cache copy);
    /// which is faster here is to be measured (see the README).
    private func submitSegmentSend(_ slot: Int) {
        let connection = core.connections[slot]
        let state = segmentSends[slot] ?? SegmentSendState()
        segmentSends[slot] = state
        hasSegmentSends = true
        let (gathered, file) = SegmentSend.gather(connection.session, into: state.vectors)
        var length = 0
        if let file {
            let chunk = min(file.count, SegmentSendState.fileChunk)
            let buffer = core.loop.buffers.take(atLeast: chunk)
            let n = pread(file.descriptor, buffer.base, chunk, off_t(file.offset))
            guard n > 0 else {
                // The file ended before its range (it shrank after the
                // response promised its length), or cannot be read: close.
                core.loop.buffers.give(buffer)
                return startClose(slot)
            }
            state.bounce = buffer
            length = n
        } else {
            for i in 0..<gathered { length += state.vectors[i].iov_len }
        }
        let sqe = entry()
        if let bounce = state.bounce {
            io_uring_prep_send(sqe, connection.fd, bounce.base, length, Int32(MSG_NOSIGNAL))
        } else {
            state.message.pointee = msghdr()
            state.message.pointee.msg_iov = state.vectors
            state.message.pointee.msg_iovlen = gathered
            io_uring_prep_sendmsg(sqe, connection.fd, state.message, UInt32(MSG_NOSIGNAL))
        }
        io_uring_sqe_set_data64(sqe, Completion.tag(.send, slot: slot, generation: connection.generation))
        sqe.pointee.flags |= fixedFile
        io[slot].sending = true
        io[slot].sendLength = Int32(truncatingIfNeeded: length)
        io[slot].sendSince = UInt32(truncatingIfNeeded: core.now)
        io[slot].outstanding += 1
        io[slot].sendTurn = core.turn
        sendsSubmitted.append(slot)
    }

    /// The file bytes a segmented send read are free again (its completion came).
    private func releaseBounce(_ slot: Int) {
        guard let state = segmentSends[slot], let bounce = state.bounce else { return }
        core.loop.buffers.give(bounce)
        state.bounce = nil
    }

    @inline(__always)  // one caller; apart, it cost a call per send
    private func sent(_ slot: Int, result: Int32, flags: UInt32) {
        if flags & IORING_CQE_F_NOTIF != 0 { return notified(slot) }
        io[slot].outstanding -= 1
        if io[slot].awaitingNotification && flags & IORING_CQE_F_MORE == 0 {
            // A zero-copy send that posts no notification (it failed early).
            io[slot].awaitingNotification = false
            io[slot].outstanding -= 1
        }
        if io[slot].closing {
            if !io[slot].awaitingNotification { io[slot].sending = false }
            return finishIfClosing(slot, result: result)
        }
        guard result >= 0 else {
            io[slot].sending = io[slot].awaitingNotification
            return startClose(slot)  // reset or broken pipe
        }
        if hasSegmentSends { releaseBounce(slot) }
        // A guaranteed reference: a strong one was retained and released.
        Unmanaged.passUnretained(core.connections[slot].session).guaranteed { $0.didWrite(Int(result)) }
        if io[slot].awaitingNotification { return }  // the buffer is the kernel's until the notification
        io[slot].sending = false
        sendProgressed(slot)
    }

    /// The zero-copy send's buffer is free again.
    private func notified(_ slot: Int) {
        io[slot].awaitingNotification = false
        io[slot].outstanding -= 1
        io[slot].sending = false
        if io[slot].closing { return finishIfClosing(slot, result: 0) }
        sendProgressed(slot)
    }

    /// A send completed. Nothing appends while a send is in flight, so
    /// output still pending means the socket took only part of it.
    private func sendProgressed(_ slot: Int) {
        if core.connections[slot].session.hasSegments {
            submitSend(slot)  // the next segment
            return
        }
        if core.connections[slot].session.pendingOutput.count > 0 {
            count(.shortSend)  // the socket took part: send the rest, still one in flight
            io[slot].socketFull = true
            submitSend(slot)
            return
        }
        io[slot].socketFull = false
        // A late answer that came during the send: its turn now.
        if hasHeldAnswers, let late = heldAnswers.removeValue(forKey: slot) {
            hasHeldAnswers = !heldAnswers.isEmpty
            _ = core.connections[slot].session.answer(late)
            return drive(slot)
        }
        let quiet = Unmanaged.passUnretained(core.connections[slot].session).guaranteed { $0.isQuiet }
        if quiet && !core.draining && !io[slot].hasParked {
            // Everything sent and nothing buffered: `process` could only say `.read`.
            return afterProcess(slot, .read)
        }
        drive(slot)
    }

    // MARK: deadlines

    private func expire(_ slot: Int) {
        guard slot < ioCapacity, !io[slot].closing else { return }
        if io[slot].sending && Int(UInt32(truncatingIfNeeded: core.now) &- io[slot].sendSince) < core.sendTimeoutMilliseconds {
            // The deadline that passed was armed before this send began (a
            // send does not re-arm the wheel; see `sendsToCheck`): the send
            // itself gets its full time.
            return core.armDeadline(slot, sending: true)
        }
        if !multishot && io[slot].receiving {
            // The kernel may be writing into the session's buffer: cancel
            // that receive first, and answer when its completion arrives.
            guard !io[slot].expiryPending else { return }
            io[slot].expiryPending = true
            let connection = core.connections[slot]
            cancel(Completion.tag(.receive, slot: slot, generation: connection.generation))
            return
        }
        expireNow(slot)
    }

    private func expireNow(_ slot: Int) {
        switch core.expiry(of: slot, sending: io[slot].sending) {
        case .close?: startClose(slot)
        case .answer?: drive(slot)  // the 408 goes out, then the session closes
        case nil: break
        }
    }

    // MARK: closing

    /// Closing waits for every outstanding operation: close(2) does not
    /// cancel them (each holds its own file reference), so cancel them all
    /// and free the slot when the last completion arrives.
    private func startClose(_ slot: Int) {
        guard !io[slot].closing else { return }
        io[slot].closing = true
        if io[slot].outstanding == 0 { return finishClose(slot) }
        let sqe = entry()
        io_uring_prep_cancel_fd(sqe, core.connections[slot].fd,
                                UInt32(IORING_ASYNC_CANCEL_ALL) | (direct ? UInt32(IORING_ASYNC_CANCEL_FD_FIXED) : 0))
        io_uring_sqe_set_data64(sqe, Completion.tag(.ignore))
        count(.cancel)
    }

    /// Closes a connection's socket: close(2), or for a direct descriptor a
    /// close through the ring (its slot in the file table is reused only
    /// after that runs, which is before any later accept).
    private func closeSocket(_ fd: Int32) {
        if direct {
            let sqe = entry()
            io_uring_prep_close_direct(sqe, UInt32(fd))
            io_uring_sqe_set_data64(sqe, Completion.tag(.ignore))
        } else {
            close(fd)
        }
        count(.close)
    }

    /// IOSQE_FIXED_FILE when connections are direct descriptors.
    private var fixedFile: UInt8 { direct ? UInt8(switchyard_sqe_flag_fixed_file()) : 0 }

    private func finishIfClosing(_ slot: Int, result: Int32) {
        if io[slot].closing && io[slot].outstanding == 0 { finishClose(slot) }
    }

    private func finishClose(_ slot: Int) {
        if io[slot].hasParked { parked[slot] = nil }  // copies: nothing to give back
        if hasSegmentSends {  // nothing outstanding: the kernel is done with it
            releaseBounce(slot)
            segmentSends[slot] = nil
        }
        if hasHeldAnswers {
            heldAnswers[slot] = nil
            hasHeldAnswers = !heldAnswers.isEmpty
        }
        io[slot] = SlotIO()
        closeSocket(core.connections[slot].fd)
        if core.release(slot) { resumeAccept() }
    }

    // MARK: stopping

    /// Stop accepting; idle connections get the drain grace for one last
    /// request; busy ones finish their response, which carries `Connection: close`.
    /// What the listener's queue holds is taken in before it closes
    /// (`Listener.acceptQueued`): closing would reset those clients. With
    /// direct descriptors they are not (a plain descriptor has no place in
    /// the ring's table), and the close resets them.
    private func beginDrain() {
        if listenFD >= 0 {
            if acceptArmed {
                // The ring holds the socket open until the cancel completes,
                // and keeps queueing clients into it: the queue is emptied and
                // the listener closed when the accept's last completion comes
                // (`closeListener`, from `accepted`).
                cancel(Completion.tag(.accept))
            } else {
                closeListener()
            }
        }
        // Accepted over budget: they hold no unit. Answered 503 rather than reset.
        for fd in waitingAccepted {
            if direct { closeSocket(fd) } else { core.refuseOverBudget(fd) }
        }
        waitingAccepted.removeAll()
        core.beginDrain(isIdle: { !io[$0].sending && !io[$0].closing })
    }
}

/// A growable list of slot numbers in plain memory: appending and clearing
/// never allocate once it has grown to the loop's peak (an Array's
/// copy-on-write checks cost more here, and allocate in debug builds).
/// Ownership: the loop thread.
struct SlotList {
    // safety: `capacity` Ints, the first `count` initialized; reallocated
    // only by `append`, freed by `free`.
    private(set) var slots: UnsafeMutablePointer<Int> = .allocate(capacity: 64)
    var count = 0
    private var capacity = 64

    mutating func append(_ slot: Int) {
        if count == capacity {
            let grown = UnsafeMutablePointer<Int>.allocate(capacity: capacity * 2)
            grown.moveInitialize(from: slots, count: count)
            slots.deallocate()
            slots = grown
            capacity *= 2
        }
        (slots + count).initialize(to: slot)
        count += 1
    }

    func free() { slots.deallocate() }
}

/// What a segmented send keeps until its completion (`RingLoop.submitSegmentSend`).
/// Ownership: the loop thread; the kernel reads `vectors`, `message` and
/// `bounce` while the send is in flight.
final class SegmentSendState {
    static let fileChunk = 64 * 1024
    // safety: allocated here, freed in deinit; the slot's entry is removed
    // only when nothing is outstanding on it.
    let vectors = UnsafeMutablePointer<iovec>.allocate(capacity: SegmentSend.maxGather)
    let message = UnsafeMutablePointer<msghdr>.allocate(capacity: 1)
    /// File bytes read for the send in flight, lent by the loop's pool.
    var bounce: PooledBuffer?

    deinit {
        vectors.deallocate()
        message.deallocate()
    }
}
