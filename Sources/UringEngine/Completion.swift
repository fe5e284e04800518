import EventLoopCore

/// What a completion is for, packed into the 64-bit `user_data` of its
/// submission as a `SlotTag` (module EventLoopCore) whose kind byte is the
/// operation's `Kind`. Loop-wide operations (accept, the wake-up poll) use
/// slot 0 and generation 0.
struct Completion {
    enum Kind: UInt8 {
        case accept = 1
        case wake = 2
        case receive = 3
        case send = 4
        /// Nothing to act on: a cancel request's own completion, a
        /// close_direct's, the 503 sent to a shed direct descriptor.
        /// (A zero-copy send's second completion, IORING_CQE_F_NOTIF, comes
        /// with its send's tag.)
        case ignore = 5
    }

    let kind: Kind?
    let tag: SlotTag
    var slot: Int { tag.slot }

    @inline(__always)
    init(_ userData: UInt64) {
        tag = SlotTag(raw: userData)
        kind = Kind(rawValue: tag.kind)
    }

    @inline(__always)
    static func tag(_ kind: Kind, slot: Int = 0, generation: UInt32 = 0) -> UInt64 {
        SlotTag(kind: kind.rawValue, slot: slot, generation: generation).raw
    }
}
