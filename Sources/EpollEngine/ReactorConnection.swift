import HTTP1

/// One slot of a loop's connection table. Records are reused after a
/// connection closes (with their session and its buffers), so a loop stops
/// allocating once it has seen its peak number of connections.
///
/// Ownership: the loop thread whose table holds it.
final class ReactorConnection {
    let session: HTTPSession
    var fd: Int32 = -1
    /// Bumped on every reuse; epoll events carry it so an event for a closed
    /// connection cannot reach the slot's next occupant.
    var generation: UInt32 = 0
    /// The socket may hold unread bytes (edge-triggered: we saw an edge and
    /// have not yet read to a short count or EAGAIN).
    var readable = false
    /// EPOLLOUT is registered because a send hit EAGAIN.
    var wantsWrite = false
    /// When the current request's first byte arrived (ms), for the head deadline.
    var requestStartedAt = -1
    /// `session.requestsCompleted` when `requestStartedAt` was taken.
    var requestsSeen = 0

    init(session: HTTPSession) {
        self.session = session
    }

    /// The 64-bit epoll tag: generation in the high half, slot in the low.
    func tag(slot: Int) -> UInt64 { UInt64(generation) << 32 | UInt64(slot) }
}
