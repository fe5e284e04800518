/// What an engine should do next with a connection.
public enum ConnectionAction: Equatable, Sendable {
    /// Read more bytes into `readSpace()` and report them with `didRead`.
    case read
    /// Write `pendingOutput`, report with `didWrite`, then call `process` again.
    case write
    /// All output is written; close the connection.
    case close
    /// Nothing to send and nothing to read until something outside the
    /// connection happens: a response that comes later (`LateAnswer`)
    /// reaches the machine through its loop (`Resumer`), or its deadline
    /// passes (`deadlinePassed`: 504). The engine reads no more meanwhile:
    /// pipelined requests behind the pending one wait, in order.
    case wait
}

/// One piece of a connection's pending output, as an engine writes it.
public enum OutputSegment {
    /// Bytes in memory: the machine's output buffer, or bytes made at
    /// start-up referenced where they lie. The machine's until `didWrite`
    /// passes them (and the kernel's while a write of them is in flight).
    case bytes(UnsafeRawBufferPointer)
    /// A range of an open file: `sendfile` on the readiness and thread
    /// engines. The descriptor is the machine's until the range is written.
    case file(descriptor: Int32, offset: Int, count: Int)
}

/// What a connection that is not sending waits for, which decides its
/// deadline (`DeadlinePolicy`, module EventLoopCore).
public enum ConnectionWait: Equatable, Sendable {
    /// Nothing buffered either way: the next request, under the keep-alive
    /// timeout (or the drain grace).
    case idle
    /// Part of a request head is buffered: the head deadline, counted from
    /// the head's first byte.
    case head
    /// A request's body is being received: the body idle timeout.
    case body
    /// A request was handed on and its response comes later (`.wait`): the
    /// response timeout, after which the client gets 504 and the connection closes.
    case response
}

/// A response that comes later, as a loop sees it: which connection it is
/// for (`connection`: the slot tag the engine attached, module EventLoopCore's
/// `SlotTag`) and the machine-specific answer inside. Made by the machine
/// when a handler defers, answered on any thread, delivered to the loop by
/// its `Resumer`, and applied by the machine on the loop's thread
/// (`ConnectionMachine.answer`).
public protocol LateAnswer: AnyObject, Sendable {
    var connection: UInt64 { get }
}

/// Whoever runs a connection's machine and can be told, from any thread,
/// that a late answer is ready: a loop (module EventLoopCore's `LoopCore`,
/// through its resume queue and wake-up descriptor) or a connection thread.
public protocol Resumer: AnyObject, Sendable {
    /// Any thread: queue `answer` for the loop that runs its connection and
    /// wake it. An answer whose connection has closed, or whose slot holds
    /// another connection by then, is ignored when it arrives.
    func resume(_ answer: any LateAnswer)
}

/// The seam between an engine and a protocol: a sans-I/O connection that
/// is fed bytes and yields bytes plus what to do next. Engines drive a
/// connection only through these members; the HTTP/1.1 session is the
/// first machine, HTTP/2 will be the second.
///
/// The engine's loop, whatever its I/O model:
///
///     switch machine.process() {
///     case .read:  n = read(fd, machine.readSpace()); machine.didRead(n)
///     case .write: n = write(fd, machine.pendingOutput); machine.didWrite(n)
///     case .close: close(fd)
///     }
///
/// Engines use it as a generic constraint (`driveReadiness`) or through the
/// concrete `ServerConnection` (module EngineCore), never as an existential,
/// so a call on the hot path is a direct, inlinable call.
///
/// Buffers: the input buffer belongs to the machine; the engine may write
/// into `readSpace()` between `process` calls (the kernel owns that region
/// while a read is in flight). `pendingOutput` belongs to the engine, and
/// to the kernel while a write of it is in flight, until `didWrite`: nothing
/// is appended to it meanwhile, because `process` is not called.
///
/// Ownership: one thread at a time, the one running the connection; a
/// work-stealing worker that takes a connection over calls `rebind` first.
public protocol ConnectionMachine: AnyObject {
    /// The per-connection limits a reload may change (between connections).
    associatedtype Limits: Equatable

    // MARK: input
    /// Free space at the end of the input buffer for the next read; never empty.
    func readSpace() -> UnsafeMutableRawBufferPointer
    /// Reports `count` bytes read into `readSpace()`.
    func didRead(_ count: Int)
    /// Copies bytes in: the kernel delivered them elsewhere (io_uring
    /// provided buffers while a send is in flight), within `inputRoom`.
    func receive(_ bytes: UnsafeRawBufferPointer)
    /// Bytes received and not yet consumed by a request.
    var bufferedInputCount: Int { get }
    /// How many more bytes may be buffered before a request would exceed
    /// the limits (an engine that cannot stop the kernel checks it).
    var inputRoom: Int { get }

    // MARK: processing
    /// Parses and answers what the input holds, then says what to do next.
    func process() -> ConnectionAction
    /// Parses and answers `bytes` where they lie (lent for the call only),
    /// keeping a copy of whatever it did not consume; then as `process()`.
    func process(borrowing bytes: UnsafeRawBufferPointer) -> ConnectionAction
    /// Nothing to do: nothing buffered either way and not closing, so
    /// `process()` would only say `.read`. The one statement of that rule;
    /// an engine that knows it asks this instead of calling `process()`.
    var isQuiet: Bool { get }

    // MARK: output
    /// Bytes to write now, when the output is one run of bytes
    /// (`hasSegments` false, the fast path); the engine's (and the kernel's)
    /// until `didWrite`.
    var pendingOutput: UnsafeRawBufferPointer { get }
    /// The output has segments other than the one run of bytes (start-up
    /// bytes referenced where they lie, file ranges): write it with
    /// `forEachPendingSegment`.
    var hasSegments: Bool { get }
    /// Visits the pending output in order until `body` returns false. A
    /// partial write (`didWrite`) may end inside any segment; the next visit
    /// starts where it stopped.
    func forEachPendingSegment(_ body: (OutputSegment) -> Bool)
    /// Reports `count` bytes written, across segments.
    func didWrite(_ count: Int)
    /// The connection closes once the output is written.
    var willClose: Bool { get }
    /// Stop taking new requests while this much output is unsent.
    var outputHighWater: Int { get set }

    // MARK: deadlines
    /// No partial request buffered and no output pending: closing now loses nothing.
    var isIdle: Bool { get }
    /// What the connection waits for when it is not sending.
    var waitingFor: ConnectionWait { get }
    /// Requests answered so far; a change tells the engine a new request began.
    var requestsCompleted: Int { get }
    /// The deadline of what it waits for (`waitingFor`) passed: a partial
    /// request is answered 408 and a deferred response 504 (then close); an
    /// idle connection just closes.
    func deadlinePassed()

    // MARK: responses that come later
    /// The tag that names this connection to its loop's `LoopContext.resumer`
    /// when a deferred response is ready; set by the engine when the
    /// connection starts.
    func attach(connection: UInt64)
    /// On the connection's thread: applies a late answer if it is the one
    /// the machine waits for (false: stale, ignored), queueing its response
    /// and taking the pipelined requests behind it; then `process()`.
    func answer(_ late: any LateAnswer) -> Bool

    // MARK: lifetime
    /// The server is stopping: the next response closes the connection.
    func beginDraining()
    var isDraining: Bool { get }
    /// Ready for the next connection, keeping what can be reused.
    func reset()
    var limits: Limits { get }
    /// New limits, between connections (after `reset`).
    func adopt(_ limits: Limits)
    /// Another thread's context from now on (work stealing).
    func rebind(to loop: LoopContext)
    /// Gives buffers back to the loop's pool while the connection is idle.
    func releaseIdleBuffers()
}
