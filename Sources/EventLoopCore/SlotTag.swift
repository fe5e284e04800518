/// A connection's name outside its loop's table: its slot and the
/// generation of the connection in it, plus a kind byte for the engine's
/// own use, in the 64 bits an epoll event's `data` and an io_uring
/// operation's `user_data` carry (and a resume queue's entries):
///
///     63      56 55                 32 31                              0
///     +---------+---------------------+--------------------------------+
///     |  kind   | generation (24 bit) |              slot              |
///     +---------+---------------------+--------------------------------+
///
/// A slot is reused when its connection closes, and its generation is
/// bumped then, so a tag issued for the previous connection (an event
/// already harvested, a completion still in flight, a late response) no
/// longer `matches` the slot and is ignored. 24 bits of generation: a stale
/// tag would have to outlive 16 million reuses of its slot to be mistaken.
///
/// Used by the epoll and io_uring loops and by `LoopCore`'s resume queue.
/// The work-stealing engine tags its records by address instead (a thief
/// finds the record without its home's table; `ConnectionTask.tag`).
@frozen
public struct SlotTag: Equatable, Sendable {
    public let raw: UInt64

    @inlinable @inline(__always)
    public init(raw: UInt64) { self.raw = raw }

    @inlinable @inline(__always)
    public init(kind: UInt8 = 0, slot: Int, generation: UInt32) {
        raw = UInt64(kind) << 56 | UInt64(generation & SlotTag.generationMask) << 32 | UInt64(UInt32(truncatingIfNeeded: slot))
    }

    public static var generationMask: UInt32 { 0xFF_FFFF }

    @inlinable public var kind: UInt8 { UInt8(truncatingIfNeeded: raw >> 56) }
    @inlinable public var slot: Int { Int(truncatingIfNeeded: raw & 0xFFFF_FFFF) }
    @inlinable public var generation: UInt32 { UInt32(truncatingIfNeeded: raw >> 32) & SlotTag.generationMask }

    /// Whether the tag names the connection now in its slot (of that generation).
    @inlinable @inline(__always)
    public func matches(generation current: UInt32) -> Bool { generation == current & SlotTag.generationMask }
}
