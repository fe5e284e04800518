import EngineCore
import HTTP1
import LoopRuntime

/// One slot of a loop's connection table. Records are reused after a
/// connection closes (with their session and its buffers), so a loop stops
/// allocating once it has seen its peak number of connections.
///
/// What an engine needs beyond this (epoll's "socket may hold bytes", an
/// io_uring loop's operations in flight) it keeps in its own per-slot array,
/// indexed by the same slot number.
///
/// Ownership: the loop thread whose table holds it.
public final class LoopConnection {
    /// Kept for the slot's life (a `let`: the hot path reads it without
    /// retaining); a reload's new limits reach it through `adopt`.
    public let session: ServerConnection
    /// The socket, or -1 while the slot is free.
    public internal(set) var fd: Int32 = -1
    /// Bumped on every reuse; events and completions carry it, so one meant
    /// for a closed connection cannot reach the slot's next occupant.
    public internal(set) var generation: UInt32 = 0
    /// When the current request's first byte arrived (ms), for the head deadline.
    var requestStartedAt = -1
    /// `session.requestsCompleted` when `requestStartedAt` was taken.
    var requestsSeen = 0
    /// The peer address counted against `--max-connections-per-address`; nil when not counted.
    var peer: AddressLimiter.Key?
    /// The turn in which it last went idle while waiting for its buffers to
    /// be given back (`LoopCore.releaseIdleCandidates`), or
    /// `LoopClock.noTurn` when it is not in that list. Last, so it fits the
    /// record's padding.
    var releaseTurn = LoopClock.noTurn

    init(session: ServerConnection) {
        self.session = session
    }

    /// Whether the slot holds a live connection.
    public var isOpen: Bool { fd >= 0 }

    /// The slot's tag for an event or operation on this connection (`SlotTag`).
    @inline(__always)
    public func tag(slot: Int, kind: UInt8 = 0) -> SlotTag { SlotTag(kind: kind, slot: slot, generation: generation) }
}
