import LoopRuntime

/// Timeouts that decide a connection's deadline, in milliseconds, as a
/// reload last set them (`LiveSettings`).
public struct DeadlineSettings: Equatable, Sendable {
    /// A request head must be complete this long after its first byte.
    public var head: Int
    /// A body may go this long without a byte.
    public var body: Int
    /// An idle connection may wait this long for its next request.
    public var keepAlive: Int
    /// A send may go this long without progress.
    public var send: Int
    /// While draining, an idle connection stays open this long.
    public var drainIdleGrace: Int
    /// A deferred response must come within this long (then 504).
    public var response: Int

    /// The value of one timeout.
    @inline(__always)
    public subscript(_ timeout: DeadlinePolicy.Timeout) -> Int {
        switch timeout {
        case .head: head
        case .body: body
        case .keepAlive: keepAlive
        case .send: send
        case .drainIdleGrace: drainIdleGrace
        case .response: response
        }
    }

    public init(head: Int, body: Int, keepAlive: Int, send: Int, drainIdleGrace: Int, response: Int) {
        self.response = response
        self.head = head
        self.body = body
        self.keepAlive = keepAlive
        self.send = send
        self.drainIdleGrace = drainIdleGrace
    }
}

/// One deadline per connection, chosen by what it waits for: pure (state,
/// time and settings in, a deadline out), so it is tested on a fake clock
/// and shared by every event-loop engine, including a work-stealing thief
/// that computes a deadline with its own clock.
///
/// - sending (output waits for the socket): `now` + send timeout;
/// - idle: `now` + keep-alive timeout, or the drain grace while draining;
/// - part of a head buffered: its first byte's arrival + head timeout. Not
///   extended by later bytes, so a client trickling a head gains nothing;
/// - a body arriving: `now` + body timeout (extended by each byte);
/// - a deferred response: `now` + response timeout, counted from when the
///   handler deferred it (then 504 and close).
public enum DeadlinePolicy {
    /// What a connection waits for, as far as its deadline is concerned.
    public enum Waiting: Equatable, Sendable {
        case sending
        case idle(draining: Bool)
        case head(startedAt: Int)
        case body
        /// A handler deferred its response.
        case response

        /// Which timeout applies: the policy's one statement of it. A loop
        /// reads only that one of its live settings (`LoopCore`).
        @inline(__always)
        public var timeout: Timeout {
            switch self {
            case .sending: .send
            case .idle(let draining): draining ? .drainIdleGrace : .keepAlive
            case .head: .head
            case .body: .body
            case .response: .response
            }
        }
    }

    /// The timeouts a reload may set (`DeadlineSettings`).
    public enum Timeout: Sendable {
        case head, body, keepAlive, send, drainIdleGrace, response
    }

    @inline(__always)
    public static func deadline(_ waiting: Waiting, now: Int, settings: DeadlineSettings) -> Int {
        deadline(waiting, now: now, timeout: settings[waiting.timeout])
    }

    /// The same with the one timeout that applies already read (a loop
    /// reads only that one of its live settings).
    @inline(__always)
    public static func deadline(_ waiting: Waiting, now: Int, timeout: Int) -> Int {
        if case .head(let startedAt) = waiting { return startedAt &+ timeout }
        return now &+ timeout
    }

    /// When the current head began (ms): `startedAt` if it is still the same
    /// request (`requestsSeen` answered since), else `now`. The caller stores
    /// the result with `requestsCompleted`, so a trickled head keeps its start.
    @inline(__always)
    public static func headStart(startedAt: Int, requestsSeen: Int, requestsCompleted: Int, now: Int) -> Int {
        startedAt < 0 || requestsSeen != requestsCompleted ? now : startedAt
    }
}
