import EventLoopCore
import Synchronization

/// One connection as the scheduler sees it: the unit of work a worker runs
/// ("read, parse, handle, write until it must wait"), and the state word
/// that makes sure at most one worker runs it at a time.
///
/// A connection has a home: the worker that accepted it, whose `LoopCore`
/// holds its slot, timer and session. Any worker may run it. What the home
/// alone touches (the slot table, the timer wheel, releasing the slot) stays
/// with the home; a thief that needs one of those posts to the home's
/// mailbox (`Worker.post`).
///
/// The state word: the low four bits are the state, bit 4 "notified"
/// (readiness came while it ran), bits 8 and up readiness not yet seen by a
/// runner.
///
///     free ──admit──▶ idle ──event──▶ scheduled ──popped──▶ running ──▶ idle
///                      ▲  └─home claims (timer, drain)──▶ running   │  │
///                      │                     running+notified ◀─event┘  │
///                      └───────── home releases ◀── closed ◀────────────┘
///
/// Records live as long as their worker (slots are reused), so a queue
/// entry or an epoll tag can name one by address; the generation in the
/// tag filters readiness meant for a slot's previous connection.
///
/// Ownership: `state`, `generation`, `deadline` and `armedAt` are atomic;
/// `fd` is written by the home before the record is published (idle, with
/// release); `readable`, `hungUp` and `wantsWrite` belong to whoever holds
/// the running state.
final class ConnectionTask: @unchecked Sendable {
    // @unchecked Sendable: see the ownership rules above.
    static let free: UInt32 = 0
    static let idle: UInt32 = 1
    static let scheduled: UInt32 = 2
    static let running: UInt32 = 3
    static let closed: UInt32 = 4
    static let stateMask: UInt32 = 0xF
    static let notified: UInt32 = 0x10
    static let readableFlag: UInt32 = 0x100
    static let hungUpFlag: UInt32 = 0x200
    static let errorFlag: UInt32 = 0x400
    /// Set by any readiness (EPOLLOUT too), so every event is worth a run.
    static let readyFlag: UInt32 = 0x800
    static let flagMask: UInt32 = 0xF00

    let state = Atomic<UInt32>(ConnectionTask.free)
    let generation = Atomic<UInt32>(0)
    // safety: the home worker outlives its records (it holds them).
    unowned(unsafe) let home: Worker
    let slot: Int
    let connection: LoopConnection
    var fd: Int32 = -1
    var readable = false
    var hungUp = false
    var wantsWrite = false
    /// The deadline the last runner wanted (ms, monotonic clock).
    let deadline = Atomic(0)
    /// Where the home's timer wheel has it armed; a thief wanting an earlier
    /// deadline asks the home to re-arm.
    let armedAt = Atomic(0)

    init(home: Worker, slot: Int, connection: LoopConnection) {
        self.home = home
        self.slot = slot
        self.connection = connection
    }

    /// The 64-bit word a queue cell or an epoll tag holds: the record's
    /// address (user-space addresses fit in 48 bits) and the low 16 bits of
    /// its generation.
    var tag: UInt64 {
        let address = UInt64(UInt(bitPattern: Unmanaged.passUnretained(self).toOpaque()))
        return UInt64(generation.load(ordering: .relaxed) & 0xFFFF) << 48 | address
    }

    @inline(__always)
    static func from(tag: UInt64) -> ConnectionTask { unmanaged(tag: tag).takeUnretainedValue() }

    /// The record `tag` names, unretained: for `Unmanaged.guaranteed`
    /// on the hot path, where a strong reference costs a retain and release.
    @inline(__always)
    static func unmanaged(tag: UInt64) -> Unmanaged<ConnectionTask> {
        // safety: tags are made by `tag` from records that live as long as
        // the engine's workers, which outlive every queue and epoll set.
        let address = UInt(truncatingIfNeeded: tag & 0xFFFF_FFFF_FFFF)
        return Unmanaged<ConnectionTask>.fromOpaque(UnsafeRawPointer(bitPattern: address)!)
    }

    @inline(__always)
    static func generation(of tag: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: tag >> 48) }

    /// Whether `tag` names this record's current connection, not a previous
    /// occupant of the slot.
    @inline(__always)
    func matches(_ tag: UInt64) -> Bool {
        generation.load(ordering: .relaxed) & 0xFFFF == Self.generation(of: tag)
    }

    /// Readiness arrived (any thread): records `flags`; returns true when the
    /// caller must queue the task (it was idle and is now scheduled).
    @inline(__always)
    func notify(_ flags: UInt32) -> Bool {
        var word = state.load(ordering: .acquiring)
        while true {
            let desired: UInt32
            switch word & Self.stateMask {
            case Self.idle: desired = (word & ~Self.stateMask) | Self.scheduled | flags
            case Self.scheduled: desired = word | flags
            case Self.running: desired = word | Self.notified | flags
            default: return false  // free or closed: readiness for a connection that is gone
            }
            if desired == word { return false }
            let (exchanged, actual) = state.compareExchange(expected: word, desired: desired, ordering: .acquiringAndReleasing)
            if exchanged { return word & Self.stateMask == Self.idle }
            word = actual
        }
    }

    /// The worker that popped the task: takes it (scheduled to running) and
    /// returns the readiness it carries.
    @inline(__always)
    func begin() -> UInt32 {
        let old = state.exchange(Self.running, ordering: .acquiringAndReleasing)
        return old & Self.flagMask
    }

    /// The home, for a timer or the drain: idle to running, or false if it
    /// is scheduled or running elsewhere (or gone).
    @inline(__always)
    func claim() -> Bool {
        state.compareExchange(expected: Self.idle, desired: Self.running, ordering: .acquiringAndReleasing).exchanged
    }

    /// The runner is done for now: running to idle, and false; if
    /// readiness came meanwhile, running to scheduled (its flags kept for
    /// the next run), and true: the caller queues it again.
    @inline(__always)
    func finish() -> Bool {
        var word = state.load(ordering: .relaxed)
        while true {
            let notified = word & Self.notified != 0
            let desired = notified ? (word & Self.flagMask) | Self.scheduled : Self.idle
            let (exchanged, actual) = state.compareExchange(expected: word, desired: desired, ordering: .acquiringAndReleasing)
            if exchanged { return notified }
            word = actual
        }
    }

    /// Applies readiness flags to the runner's view.
    @inline(__always)
    func take(_ flags: UInt32) {
        if flags & (Self.readableFlag | Self.hungUpFlag) != 0 { readable = true }
        if flags & Self.hungUpFlag != 0 { hungUp = true }
    }
}
