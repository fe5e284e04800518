import Glibc
import LoopRuntime
import Metrics
import Pools

/// The sans-I/O HTTP/1.1 connection: bytes in, bytes out, and what to do next.
///
/// An engine owns the socket and calls, in a loop:
///
///     switch session.process() {
///     case .read:  n = read(fd, session.readSpace()); session.didRead(n)
///     case .write: n = write(fd, session.pendingOutput); session.didWrite(n)
///     case .close: close(fd)
///     }
///
/// `process` parses every complete request in the input (pipelining), hands
/// each to the responder in order, and queues the responses in one output
/// buffer, so many pipelined requests leave as one write. It stops taking
/// requests while more than `outputHighWater` bytes wait to be written
/// (backpressure), and after a response that closes the connection.
///
/// Buffers: the input buffer belongs to the session. The engine may write into
/// `readSpace()` between `process` calls (the kernel owns that region while a
/// read is in flight); requests handed to the responder point into the same
/// buffer and are valid until their response is serialized.
/// Ownership: one thread at a time (the connection's).
public final class HTTPSession: ConnectionMachine {
    /// Changes only between connections (`adopt`).
    public private(set) var limits: SharedLimits
    let responder: any HTTPResponder
    /// Strong: the session gives its buffers back to the loop's pool when
    /// it goes away, so the loop must outlive it. Changes only in `rebind`.
    public private(set) var loop: LoopContext
    /// The loop's counters bumped per read, write and response, without a
    /// reference (no retain per use); re-pointed in `rebind`.
    // safety: the loop (held above) keeps its counters alive.
    private var counterSlots: CounterSlots
    /// `loop` again, for calls on its `let` parts (date cache, arena) from
    /// the request path: through a guaranteed reference they need no retain.
    // safety: `loop` keeps it alive; both change together in `rebind`.
    private var guaranteedLoop: Unmanaged<LoopContext>
    public let output: OutputBuffer
    /// The responder's, read once: status lines with its fixed headers.
    private let statusLines: StatusLines

    /// Stop taking new requests while this much output is unsent.
    public var outputHighWater = 256 * 1024

    // safety: while `hasBuffers`, `input` holds `inputCapacity` bytes lent by
    // the loop's pool; `[start, end)` are received and not yet consumed.
    // Replaced only in `makeRoom`/`compactInput`, when no request view is
    // alive. Without buffers, `inputCapacity` is 0 and nothing reads `input`.
    @usableFromInline var input = OutputBytes.detached
    @usableFromInline var inputCapacity = 0
    private var fieldStorage = PooledBuffer(base: OutputBytes.detached, capacity: 0)
    /// The input buffer's size class, taken first and shrunk back to (a
    /// constant, not a field: the session object is 8 bytes smaller, which
    /// keeps it in its allocator size class with the fields added for
    /// responses that come later).
    @inlinable static var initialInputCapacity: Int { 16 * 1024 }
    @inlinable var initialInputCapacity: Int { HTTPSession.initialInputCapacity }
    @usableFromInline var start = 0
    @usableFromInline var end = 0
    private var maxInputCapacity: Int

    /// The parser's and chunked decoder's state live at the start of the
    /// field-slot buffer taken from the pool, not in the session: an idle
    /// keep-alive connection, which holds no buffer, then carries none of
    /// it (about 270 bytes). Between requests the state is fresh, so giving
    /// it back with the buffers loses nothing.
    // safety: while `hasBuffers`, points at an initialized `RequestState`
    // in `fieldStorage`; otherwise it is not read (every use is on a path
    // that holds buffers: parsing needs input).
    private var state = OutputBytes.detached.assumingMemoryBound(to: RequestState.self)
    // Addressors, not coroutine accessors: a debug build allocates a
    // coroutine frame per `_modify`, and the allocation test runs in debug.
    private var parser: RequestParser {
        unsafeAddress { UnsafePointer(state).pointer(to: \.parser)! }
        unsafeMutableAddress { state.pointer(to: \.parser)! }
    }
    private var decoder: ChunkedDecoder {
        unsafeAddress { UnsafePointer(state).pointer(to: \.decoder)! }
        unsafeMutableAddress { state.pointer(to: \.decoder)! }
    }
    /// `awaiting`: a handler deferred its response (`respondLater`); the
    /// request stays unconsumed in the input until `answer` or `deadlinePassed`.
    @usableFromInline enum Phase { case head, body, awaiting }
    @usableFromInline var phase = Phase.head
    /// Whether the input buffer and field slots are taken from the pool.
    /// (Among the other one-byte fields: no padding after it.)
    @usableFromInline var hasBuffers = false
    private var sentContinue = false
    @usableFromInline var closeAfterOutput = false
    private var draining = false
    /// While `process(borrowing:)` parses in place, `input` points at the
    /// caller's bytes: nothing may grow, compact or give it back.
    private var borrowing = false

    // Responses that come later (loop thread).
    /// This connection's name to its loop's resumer (`attach`). The resumer
    /// itself is the loop's (`LoopContext.resumer`), so an idle session
    /// carries two words for responses that come later, not six.
    private var connectionTag: UInt64 = 0
    /// The deferred request's answer to be, while `phase == .awaiting`.
    private(set) var pendingResponse: PendingResponse?

    /// A session with limits of its own (tools, tests, the threads engine).
    public convenience init(responder: any HTTPResponder, loop: LoopContext, limits: HTTPLimits = HTTPLimits()) {
        self.init(responder: responder, loop: loop, sharing: SharedLimits(limits))
    }

    /// A session that uses `shared` limits (an event loop's, for all its sessions).
    public init(responder: any HTTPResponder, loop: LoopContext, sharing shared: SharedLimits) {
        self.limits = shared
        let limits = shared.value
        self.responder = responder
        self.statusLines = responder.statusLines
        self.loop = loop
        self.counterSlots = loop.counters.slots
        self.guaranteedLoop = Unmanaged.passUnretained(loop)
        self.output = OutputBuffer(pool: loop.buffers)
        // Head, body and one framing line or trailer field must fit at once.
        maxInputCapacity = limits.maxHeadBytes + limits.maxBodyBytes + max(limits.maxHeaderBytes, limits.maxFieldBytes) + 8192
    }

    /// Takes new request limits (a reload changed them) between
    /// connections: after `reset`, when the session holds no buffers, so
    /// the field slots and input buffer it takes next are sized by them.
    public func adopt(_ shared: SharedLimits) {
        precondition(!hasBuffers && start == end, "adopt(_:) is for a session between connections")
        limits = shared
        let newLimits = shared.value
        maxInputCapacity = newLimits.maxHeadBytes + newLimits.maxBodyBytes + max(newLimits.maxHeaderBytes, newLimits.maxFieldBytes) + 8192
    }

    deinit {
        if hasBuffers { giveBuffersBack() }
        output.discardAll()
        output.detach()
    }

    /// Moves the session to another loop thread's context (work-stealing
    /// engine: the thread that runs a connection's task records into its own
    /// counters, date cache, arena and pool, which are single-threaded).
    /// Buffers the session holds now stay with it and go back to the new
    /// loop's pool; an idle session holds none. Call only from the thread
    /// that owns the session from now on, between `process` calls.
    public func rebind(to newLoop: LoopContext) {
        guard newLoop !== loop else { return }
        loop = newLoop
        counterSlots = newLoop.counters.slots
        guaranteedLoop = Unmanaged.passUnretained(newLoop)
        output.storage.pointee.pool = newLoop.buffers
    }

    // MARK: buffers on loan

    @usableFromInline
    func takeBuffers() {
        // The pool through the guaranteed loop: no retain of either.
        guaranteedLoop.guaranteed { takeBuffers(from: $0.buffers) }
    }

    @inline(__always)
    private func takeBuffers(from pool: BufferPool) {
        let buffer = pool.take(atLeast: initialInputCapacity)
        input = buffer.base
        inputCapacity = buffer.capacity
        let stateBytes = RequestState.bytes
        let limits = self.limits.value
        fieldStorage = pool.take(atLeast: stateBytes + max(limits.maxFieldCount, 1) * MemoryLayout<FieldSlot>.stride)
        let fields = (fieldStorage.base + stateBytes).bindMemory(to: FieldSlot.self, capacity: max(limits.maxFieldCount, 1))
        state = fieldStorage.base.bindMemory(to: RequestState.self, capacity: 1)
        state.initialize(to: RequestState(
            parser: RequestParser(simd: limits.parserSIMD, fields: fields), decoder: ChunkedDecoder(simd: limits.parserSIMD)))
        hasBuffers = true
    }

    private func giveBuffersBack() {
        guaranteedLoop.guaranteed { giveBuffersBack(to: $0.buffers) }
    }

    @inline(__always)
    private func giveBuffersBack(to pool: BufferPool) {
        pool.give(PooledBuffer(base: input, capacity: inputCapacity))
        pool.give(fieldStorage)
        input = OutputBytes.detached
        inputCapacity = 0
        hasBuffers = false
    }

    /// Gives the input buffer, field slots and output buffer back to the
    /// loop's pool if the connection is idle (nothing buffered either way).
    /// An engine whose idle connections do not need a buffer to wait in
    /// (epoll: readiness, not a blocked read) calls this after each batch, so
    /// an idle keep-alive connection holds no buffer. The next `readSpace()`
    /// takes them again.
    public func releaseIdleBuffers() {
        guard hasBuffers, isIdle else { return }
        giveBuffersBack()
        output.detach()
    }

    // MARK: input

    /// Free space at the end of the input buffer for the next read; never empty.
    /// Inlinable: an engine asks before every read.
    @inlinable @inline(__always)
    public func readSpace() -> UnsafeMutableRawBufferPointer {
        if !hasBuffers { takeBuffers() }
        if end == inputCapacity { makeRoom(atLeast: 1) }
        return UnsafeMutableRawBufferPointer(start: input + end, count: inputCapacity - end)
    }

    /// Reports `count` bytes read into `readSpace()`.
    public func didRead(_ count: Int) {
        precondition(count >= 0 && end + count <= inputCapacity, "read past readSpace()")
        end += count
        counterSlots.recordBytesIn(count)
    }

    /// Copies bytes in (tests and tools; engines read into `readSpace()`).
    public func receive(_ bytes: some Collection<UInt8>) {
        Array(bytes).withUnsafeBytes { receive($0) }
    }

    /// Copies bytes in: an engine whose kernel delivered them elsewhere
    /// (io_uring, while a send is in flight), within `inputRoom`.
    public func receive(_ bytes: UnsafeRawBufferPointer) {
        copyIn(bytes)
        counterSlots.recordBytesIn(bytes.count)
    }

    /// Bytes received and not yet consumed by a request.
    public var bufferedInputCount: Int { end - start }

    /// How many more bytes the session can buffer before a request would
    /// exceed the configured limits; an engine that cannot stop the kernel
    /// from delivering (multishot receive) checks it before `receive`.
    public var inputRoom: Int { maxInputCapacity - (end - start) }

    /// Parses and answers `bytes` where they lie, without copying them in,
    /// then says what to do next (as `process()`).
    ///
    /// For engines whose kernel chose the buffer (io_uring provided buffers).
    /// Ownership: the caller lends `bytes` for the duration of the call only.
    /// When the session holds no partial request (the common case) requests
    /// are parsed and answered straight from `bytes`; whatever is left
    /// unconsumed (a partial request, or requests held back by the output
    /// high-water mark) is copied into the session's own buffer before the
    /// call returns. With a partial request already buffered, `bytes` are
    /// appended to it first. Either way the caller may reuse `bytes` as soon
    /// as this returns. Must not be called while a write of `pendingOutput`
    /// is in flight (appending responses may move it). With a partial
    /// request buffered, `bytes.count` must not exceed `inputRoom` (an engine
    /// with larger buffers hands them over in pieces). The session may move
    /// bytes within `bytes` (cutting chunk framing out of a body), so they
    /// must be writable memory the caller does not need afterwards.
    public func process(borrowing bytes: UnsafeRawBufferPointer) -> ConnectionAction {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return process() }
        guard start == end, phase == .head, !closeAfterOutput, output.pendingCount < outputHighWater else {
            precondition(bytes.count <= inputRoom, "process(borrowing:) given more than inputRoom")
            receive(bytes)
            return process()
        }
        counterSlots.recordBytesIn(bytes.count)
        if !hasBuffers { takeBuffers() }  // the parser's field slots
        let ownInput = input, ownCapacity = inputCapacity
        input = UnsafeMutableRawPointer(mutating: base)
        inputCapacity = bytes.count
        start = 0
        end = bytes.count
        borrowing = true
        guaranteedLoop.guaranteed { $0.date.refresh() }
        while !closeAfterOutput && output.pendingCount < outputHighWater {
            if !step() { break }
        }
        // Give the caller's bytes back, keeping only the unconsumed tail.
        let tailStart = start, tailEnd = end
        borrowing = false
        input = ownInput
        inputCapacity = ownCapacity
        start = 0
        end = 0
        if tailEnd > tailStart {
            copyIn(UnsafeRawBufferPointer(start: base + tailStart, count: tailEnd - tailStart))
            // A body or chunk framing may need room or reclaiming now that
            // the bytes are ours: one more step over the copy does it.
            return process()
        }
        if output.pendingCount > 0 { return .write }
        if closeAfterOutput { return .close }
        return .read
    }

    /// Appends bytes to the input buffer (no byte counting).
    private func copyIn(_ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count {
            let space = readSpace()
            let n = min(space.count, bytes.count - offset)
            space.baseAddress!.copyMemory(from: bytes.baseAddress! + offset, byteCount: n)
            precondition(end + n <= inputCapacity, "read past readSpace()")
            end += n
            offset += n
        }
    }

    // MARK: output

    @inlinable @inline(__always)
    public var pendingOutput: UnsafeRawBufferPointer { output.pending }

    @inlinable
    public var hasSegments: Bool { output.hasSplices }

    public func forEachPendingSegment(_ body: (OutputSegment) -> Bool) {
        output.storage.pointee.forEachPending(body)
    }

    public func didWrite(_ count: Int) {
        output.didWrite(count)
        counterSlots.recordBytesOut(count)
    }

    // MARK: state

    /// No partial request buffered and no output pending: closing now loses nothing.
    /// Inlinable (engines ask it per turn, from their modules).
    @inlinable @inline(__always)
    public var isIdle: Bool { start == end && phase == .head && output.pendingCount == 0 }

    /// Responses completed on this connection so far; an engine compares it
    /// between events to tell when a new request began (its head deadline).
    public private(set) var requestsCompleted = 0

    /// Nothing buffered either way and not closing: `process()` would only
    /// say `.read`. Inlinable (engines ask it per turn, from their modules).
    @inlinable @inline(__always)
    public var isQuiet: Bool { start == end && phase == .head && !closeAfterOutput && output.pendingCount == 0 }

    /// What the connection waits for when it is not sending.
    @inlinable @inline(__always)
    public var waitingFor: ConnectionWait {
        if isIdle { return .idle }
        switch phase {
        case .head: return .head
        case .body: return .body
        case .awaiting: return .response
        }
    }

    /// Makes the session ready for a new connection, keeping its buffers, so
    /// an engine can reuse sessions instead of allocating one per connection.
    public func reset() {
        pendingResponse = nil
        output.discardAll()
        start = 0
        end = 0
        phase = .head
        if hasBuffers { giveBuffersBack() }  // the parser state goes with them, fresh next time
        output.detach()
        sentContinue = false
        closeAfterOutput = false
        draining = false
    }

    /// The server is shutting down: the next response says `Connection: close`.
    /// An idle session still says `.read`: the client may have sent a request
    /// already, and the engine closes it only after its drain grace.
    public func beginDraining() { draining = true }

    /// A stop is under way (see `beginDraining`).
    public var isDraining: Bool { draining }

    /// The deadline of what the connection waits for passed. A deferred
    /// response is answered 504 (`responseTimedOut`); with part of a request
    /// buffered the client gets 408; either then closes. An idle connection
    /// closes silently.
    public func deadlinePassed() {
        if phase == .awaiting { return responseTimedOut() }
        guaranteedLoop.guaranteed { $0.date.refresh() }
        if !isIdle && !closeAfterOutput {
            respondWithError(.requestTimeout)
        } else {
            closeAfterOutput = true
        }
    }

    /// True when the connection will close once the output is written.
    public var willClose: Bool { closeAfterOutput }

    /// Parses and answers what the input holds, then says what to do next.
    /// Inlinable: the quiet case is a few loads in the engine's loop.
    @inlinable @inline(__always)
    public func process() -> ConnectionAction {
        // Nothing buffered either way (an engine asks before each read and
        // after each complete write): nothing to parse, answer or compact.
        if isQuiet && inputCapacity <= initialInputCapacity {
            start = 0
            end = 0
            return .read
        }
        return processBuffered()
    }

    /// `process()` with something to do. Apart, so that the quiet case an
    /// engine meets twice a turn (before its read, after its write) is a
    /// leaf: no saved registers, no stack guard.
    @usableFromInline @inline(never)
    func processBuffered() -> ConnectionAction {
        // One clock read per batch of pipelined requests, not per response.
        guaranteedLoop.guaranteed { $0.date.refresh() }
        while !closeAfterOutput && output.pendingCount < outputHighWater {
            // Everything consumed: no call to find that out.
            if start == end && phase == .head { break }
            if !step() { break }
        }
        if start == end && inputCapacity <= initialInputCapacity {
            // The common end of a batch: rewind, nothing to move or give back.
            start = 0
            end = 0
        } else {
            compactInput()
        }
        if output.pendingCount > 0 { return .write }
        if closeAfterOutput { return .close }
        return phase == .awaiting ? .wait : .read
    }

    /// Takes one step on the current request; false when more input is needed.
    @inline(__always)  // one caller, the batch loop
    private func step() -> Bool {
        let available = end - start
        let request = input + start
        switch phase {
        case .head:
            guard available > 0 else { return false }
            switch parser.parseHead(request, count: available, limits: limits.value) {
            case .needMore:
                return false
            case .failure(let status):
                respondWithError(status)
                return false
            case .complete:
                let head = parser.head
                switch head.framing {
                case .none:
                    dispatch(bodyRange: head.headLength..<head.headLength, consumed: head.headLength)
                case .contentLength:
                    phase = .body
                case .chunked:
                    phase = .body
                    decoder.start(at: head.headLength)
                }
                return true
            }
        case .body:
            let head = parser.head
            switch head.framing {
            case .contentLength(let length):
                let needed = head.headLength + length
                if available >= needed {
                    dispatch(bodyRange: head.headLength..<needed, consumed: needed)
                    return true
                }
                sendContinueIfExpected()
                // Borrowed bytes cannot grow; `process(borrowing:)` copies them first.
                if !borrowing && needed > inputCapacity - start { makeRoom(atLeast: needed - available) }
                return false
            case .chunked:
                switch decoder.decode(request, count: available, limits: limits.value) {
                case .complete:
                    dispatch(bodyRange: decoder.body, consumed: decoder.scan)
                    return true
                case .failure(let status):
                    respondWithError(status)
                    return false
                case .needMore:
                    sendContinueIfExpected()
                    reclaimChunkFraming()
                    return false
                }
            case .none:
                preconditionFailure("body phase without a body")
            }
        case .awaiting:
            return false  // nothing more is taken until the deferred request is answered
        }
    }

    /// Hands a complete request to the responder and consumes it.
    private func dispatch(bodyRange: Range<Int>, consumed: Int) {
        // The parser's head where it lies (the request state), not a copy.
        let headPointer = UnsafePointer(state).pointer(to: \.parser.head)!
        let keepAlive = headPointer.pointee.keepAlive
        let request = requestView(head: headPointer, body: bodyRange)
        let most = limits.value.maxRequestsPerConnection
        let lastAllowed = most > 0 && requestsCompleted &+ 1 >= most
        if lastAllowed && keepAlive && !draining { loop.counters.recordRequestLimitClose() }
        var writer = ResponseWriter(
            output: output.storage, dateLine: loop.date.linePointer, statusLines: statusLines,
            isHead: headPointer.pointee.method == .head, isHTTP10: headPointer.pointee.version == .http10,
            closeConnection: !keepAlive || draining || lastAllowed, session: self)
        responder.respond(to: request, writer: &writer)
        if writer.isDeferred {
            awaitAnswer(consumed: consumed, body: bodyRange)
            return
        }
        if !writer.hasResponded { finishAbandoned(&writer) }
        complete(&writer, consumed: consumed)
    }

    /// The current request as the responder sees it: a view of the input
    /// from `start`, the parser's head where it lies and its field slots.
    @inline(__always)
    private func requestView(head: UnsafePointer<RequestHead>, body: Range<Int>) -> HTTPRequest {
        let base = input + start
        return HTTPRequest(base: base, head: head, fields: parser.fields,
                           body: UnsafeRawBufferPointer(start: base + body.lowerBound, count: body.count), loop: loop)
    }

    /// The response is written: count it, consume the request, and make
    /// ready for the next one.
    @inline(__always)
    private func complete(_ writer: inout ResponseWriter, consumed: Int) {
        counterSlots.recordResponse(status: writer.status.code)
        closeAfterOutput = writer.closeConnection
        requestsCompleted &+= 1
        guaranteedLoop.guaranteed { $0.arena.reset() }
        start += consumed
        parser.reset()
        phase = .head
        sentContinue = false
    }

    // MARK: responses that come later

    public func attach(connection: UInt64) {
        connectionTag = connection
    }

    /// `ResponseWriter.respondLater`: the handler defers this request.
    func makePending(isHead: Bool, isHTTP10: Bool, closeConnection: Bool) -> PendingResponse {
        guard let resumer = loop.resumer else { preconditionFailure("respondLater: the engine set no resumer on this loop") }
        let pending = PendingResponse(
            connection: connectionTag, resumer: resumer, isHead: isHead, isHTTP10: isHTTP10, closeConnection: closeConnection,
            turnStartedAt: loop.clock.micros, queueDelay: loop.overload.queueDelay)
        pendingResponse = pending
        return pending
    }

    /// The handler returned with its response deferred: keep the request
    /// (nothing consumed, the parser's head and fields kept) and take no
    /// more until it is answered.
    private func awaitAnswer(consumed: Int, body: Range<Int>) {
        guard let pending = pendingResponse else { preconditionFailure("a deferred response without a PendingResponse") }
        pending.consumed = consumed
        pending.body = body
        phase = .awaiting
        guaranteedLoop.guaranteed { $0.arena.reset() }
    }

    public func answer(_ late: any LateAnswer) -> Bool {
        guard phase == .awaiting, let pending = pendingResponse, pending === late else { return false }
        pendingResponse = nil
        guaranteedLoop.guaranteed { $0.date.refresh() }
        // A fresh view of the request where its bytes are now.
        let request = requestView(head: UnsafePointer(state).pointer(to: \.parser.head)!, body: pending.body)
        var writer = ResponseWriter(
            output: output.storage, dateLine: loop.date.linePointer, statusLines: statusLines,
            isHead: pending.isHead, isHTTP10: pending.isHTTP10, closeConnection: pending.closeConnection || draining)
        pending.takeWrite()?(request, &writer)
        if !writer.hasResponded { finishAbandoned(&writer) }
        recordLatency(of: pending)
        loop.counters.recordLateResponse()
        complete(&writer, consumed: pending.consumed)
        return true
    }

    private func responseTimedOut() {
        guard phase == .awaiting, let pending = pendingResponse else { return }
        pendingResponse = nil  // its answer, should it come, is stale
        guaranteedLoop.guaranteed { $0.date.refresh() }
        recordLatency(of: pending)
        requestsCompleted &+= 1
        parser.reset()
        phase = .head
        respondWithError(.gatewayTimeout)
    }

    /// A late response's latency sample: from its turn's start (plus the
    /// wait before it) to now, in its class.
    private func recordLatency(of pending: PendingResponse) {
        let duration = pending.queueDelay &+ (monotonicMicroseconds() &- pending.turnStartedAt)
        loop.counters.latency.record(priority: pending.priority.rawValue, queueDelay: pending.queueDelay, duration: duration)
    }

    /// The responder returned without completing a response: a bug in the
    /// application, answered rather than left hanging.
    private func finishAbandoned(_ writer: inout ResponseWriter) {
        if !writer.hasStarted {
            writer.closeAfterResponse()
            writer.respond(.internalServerError, contentType: .textPlain, body: ErrorBodies.body(for: .internalServerError))
        } else {
            writer.closeAfterResponse()
            writer.body(contentType: nil, UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }

    /// Answers a request that cannot be parsed, then closes: after a framing
    /// error the rest of the stream cannot be trusted (RFC 9112 section 6.3).
    private func respondWithError(_ status: HTTPStatus) {
        var writer = ResponseWriter(
            output: output.storage, dateLine: loop.date.linePointer, statusLines: statusLines, isHead: hasBuffers && parser.head.method == .head,
            isHTTP10: false, closeConnection: true)
        writer.respond(status, contentType: .textPlain, body: ErrorBodies.body(for: status))
        counterSlots.recordResponse(status: status.code)
        closeAfterOutput = true
        // Nothing after a bad request is processed.
        start = end
    }

    /// `Expect: 100-continue`: the client waits for this before the body.
    private func sendContinueIfExpected() {
        let head = parser.head
        guard head.expectContinue, !sentContinue, head.version == .http11 else { return }
        output.storage.pointee.append("HTTP/1.1 100 Continue\r\n\r\n" as StaticString)
        sentContinue = true
    }

    // MARK: buffer management

    /// Moves unconsumed bytes to the front, so reads always land after them.
    private func compactInput() {
        if start == end {
            start = 0
            end = 0
            if inputCapacity > initialInputCapacity && phase == .head {
                // A large body grew the buffer; give it back for a normal one.
                let pool = loop.buffers
                pool.give(PooledBuffer(base: input, capacity: inputCapacity))
                let buffer = pool.take(atLeast: initialInputCapacity)
                input = buffer.base
                inputCapacity = buffer.capacity
            }
        } else if start > 0 {
            memmove(input, input + start, end - start)
            end -= start
            start = 0
        }
    }

    /// Makes at least `extra` free bytes after `end`, compacting or growing.
    @usableFromInline
    func makeRoom(atLeast extra: Int) {
        compactInput()
        guard inputCapacity - end < extra else { return }
        var newCapacity = inputCapacity
        while newCapacity - end < extra { newCapacity *= 2 }
        newCapacity = min(newCapacity, max(maxInputCapacity, inputCapacity))
        precondition(newCapacity - end >= extra, "input larger than the configured limits allow")
        let pool = loop.buffers
        let buffer = pool.take(atLeast: newCapacity)
        buffer.base.copyMemory(from: input, byteCount: end)
        pool.give(PooledBuffer(base: input, capacity: inputCapacity))
        input = buffer.base
        inputCapacity = buffer.capacity
    }

    /// Cuts already-decoded chunk framing out of the buffer so a body sent in
    /// many small chunks needs no more room than the body itself.
    private func reclaimChunkFraming() {
        let (from, count) = decoder.reclaimable
        guard count > 0 else { return }
        let p = input + start
        memmove(p + from, p + from + count, end - start - from - count)
        end -= count
        decoder.didReclaim(count)
    }
}

/// What a session keeps per request while it holds buffers (see `state`).
struct RequestState {
    var parser: RequestParser
    var decoder: ChunkedDecoder

    /// Bytes it takes at the start of the field-slot buffer (16-aligned).
    static var bytes: Int { (MemoryLayout<RequestState>.stride + 15) & ~15 }
}

/// Plain-text bodies for error responses, built once.
enum ErrorBodies {
    static let bodies: [StaticBytes] = (0..<600).map { StaticBytes("\($0) \(HTTPStatus($0).reasonPhrase)\n") }

    static func body(for status: HTTPStatus) -> StaticBytes {
        bodies[status.code >= 0 && status.code < 600 ? status.code : 500]
    }
}
