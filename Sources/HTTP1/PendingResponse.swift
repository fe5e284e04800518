import LoopRuntime
import Synchronization

/// A request whose response comes later: what a handler gets from
/// `ResponseWriter.respondLater()` and answers, from any thread, with
/// `respond(_:)`.
///
/// How it travels:
///
///     handler (loop thread) ── respondLater() ──▶ PendingResponse ──▶ another thread, a timer, a later turn
///                                                                          │ respond { request, writer in ... }
///     loop thread ◀── Resumer.resume (queue + wake) ◀───────────────────────┘
///         └─▶ LoopCore checks the slot tag (a stale answer is dropped)
///             └─▶ HTTPSession.answer: the closure writes the response, pipelined requests go on
///
/// Ownership. The session holds the one it waits for (strong) until it is
/// answered, timed out (504) or the connection ends. The answering thread
/// holds it until `respond` returns; the loop's resume queue from then until
/// the loop applies or drops it. The answer closure is written once, before
/// the resume queue's lock publishes it, and read once, on the loop thread.
///
/// The request: the view a handler gets is valid during its call. The
/// session keeps the request's bytes (it consumes nothing while it waits)
/// and hands the answer closure a fresh view of them, valid during that
/// call; in between they may move within the session's buffer. Memory from
/// the loop's arena does not survive the handler's return (the arena is
/// reset for the loop's next request): copy what the answer needs.
public final class PendingResponse: LateAnswer, @unchecked Sendable {
    // @unchecked Sendable: `write` is written once before the resumer's
    // lock and read after it; the rest is immutable or loop-thread only.

    /// The connection it answers (the engine's tag), for the loop to find it.
    public let connection: UInt64
    let resumer: any Resumer
    // How the answer is framed: fixed when the request was taken (loop thread).
    let isHead: Bool
    let isHTTP10: Bool
    let closeConnection: Bool
    /// The route's priority class, for the latency sample taken when it is
    /// answered (the application sets it while the handler runs). Loop thread.
    public var priority = PriorityClass.normal
    /// When the request's turn began (µs) and how long it had waited for
    /// its loop before that: its latency sample runs from the first to the answer.
    let turnStartedAt: Int
    let queueDelay: Int
    /// The request's length in the connection's input and its body's range
    /// there, from the request's first byte: consumed, and rebuilt as a
    /// view, when it is answered. Loop thread.
    var consumed = 0
    var body = 0..<0
    private let answered = Atomic(false)
    nonisolated(unsafe) private var write: (@Sendable (HTTPRequest, inout ResponseWriter) -> Void)?

    init(connection: UInt64, resumer: any Resumer, isHead: Bool, isHTTP10: Bool, closeConnection: Bool,
         turnStartedAt: Int, queueDelay: Int) {
        self.connection = connection
        self.resumer = resumer
        self.isHead = isHead
        self.isHTTP10 = isHTTP10
        self.closeConnection = closeConnection
        self.turnStartedAt = turnStartedAt
        self.queueDelay = queueDelay
    }

    /// Any thread, once: `write` will run on the connection's loop with the
    /// request and a writer, and must write one complete response there.
    /// Returns false if it was already answered (a second answer is ignored).
    /// If the connection closed or timed out (504) meanwhile, the answer is
    /// dropped when it reaches the loop.
    @discardableResult
    public func respond(_ write: @escaping @Sendable (HTTPRequest, inout ResponseWriter) -> Void) -> Bool {
        guard !answered.exchange(true, ordering: .acquiringAndReleasing) else { return false }
        self.write = write
        resumer.resume(self)
        return true
    }

    /// Any thread, once: a complete response with `body` (copied now).
    @discardableResult
    public func respond(_ status: HTTPStatus, contentType: StaticHeader?, body: [UInt8]) -> Bool {
        respond { _, writer in
            body.withUnsafeBytes { writer.respond(status, contentType: contentType, body: $0) }
        }
    }

    /// Loop thread: the answer's closure (nil if none was given).
    func takeWrite() -> (@Sendable (HTTPRequest, inout ResponseWriter) -> Void)? {
        let taken = write
        write = nil
        return taken
    }
}
