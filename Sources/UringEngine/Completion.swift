/// What a completion is for, packed into the 64-bit `user_data` of its
/// submission:
///
///     63      56 55                 32 31                              0
///     +---------+---------------------+--------------------------------+
///     |  kind   | generation (24 bit) |              slot              |
///     +---------+---------------------+--------------------------------+
///
/// `slot` indexes the loop's connection table and `generation` is the low 24
/// bits of the slot's generation when the operation was issued, so a
/// completion that arrives after its connection closed (and the slot was
/// reused) is recognized as stale. Loop-wide operations (accept, the wake-up
/// poll) use slot 0 and generation 0.
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
        case cancel = 5
    }

    let kind: Kind?
    let generation: UInt32
    let slot: Int

    @inline(__always)
    init(_ userData: UInt64) {
        kind = Kind(rawValue: UInt8(truncatingIfNeeded: userData >> 56))
        generation = UInt32(truncatingIfNeeded: userData >> 32) & 0xFF_FFFF
        slot = Int(truncatingIfNeeded: userData & 0xFFFF_FFFF)
    }

    @inline(__always)
    static func tag(_ kind: Kind, slot: Int = 0, generation: UInt32 = 0) -> UInt64 {
        UInt64(kind.rawValue) << 56 | UInt64(generation & 0xFF_FFFF) << 32 | UInt64(UInt32(truncatingIfNeeded: slot))
    }
}
