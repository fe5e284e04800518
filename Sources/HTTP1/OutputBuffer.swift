import Glibc
import LoopRuntime
import Pools

/// A connection's outgoing bytes: responses are serialized straight into it and
/// the engine writes them out from `pending`.
///
/// The bytes and their bookkeeping live in `OutputBytes`, a struct at a
/// stable address: response writers reach it through a pointer, so appending
/// costs no reference counting. This class only owns that memory.
/// Ownership: the thread driving the connection. While an engine hands
/// `pending` to the kernel (a write in flight on io_uring), nothing may append.
public final class OutputBuffer {
    // safety: allocated and initialized in init, freed in deinit; writers
    // use the pointer only while the session (which owns self) is alive.
    @usableFromInline let storage: UnsafeMutablePointer<OutputBytes>

    public init(pool: BufferPool) {
        storage = .allocate(capacity: 1)
        storage.initialize(to: OutputBytes(pool: pool))
    }

    deinit {
        storage.pointee.discardSplices()
        storage.pointee.detach()
        storage.pointee.freeSplices()
        storage.deinitialize(count: 1)
        storage.deallocate()
    }

    /// Gives the bytes back to the pool; only when nothing is pending.
    func detach() { storage.pointee.detach() }

    /// The bytes waiting to be written, when nothing is spliced in
    /// (`hasSplices` false); else the run of bytes before the first splice.
    @inlinable
    public var pending: UnsafeRawBufferPointer { storage.pointee.pending }
    /// Everything waiting to be written, spliced segments included.
    @inlinable public var pendingCount: Int {
        storage.pointee.count &- storage.pointee.sent &+ storage.pointee.splicedPending
    }
    /// Some of the pending output is not in the buffer (start-up bytes
    /// referenced where they lie, file ranges): write it by segments.
    @inlinable public var hasSplices: Bool { storage.pointee.splicedPending > 0 }

    /// Marks `n` bytes of `pending` as written.
    @inline(__always)
    public func didWrite(_ n: Int) { storage.pointee.didWrite(n) }

    @inline(__always) func append(_ s: StaticString) { storage.pointee.append(s) }

    /// Drops unsent output (the connection is gone) and rewinds; files it
    /// owned are closed.
    public func discardAll() {
        storage.pointee.discardSplices()
        storage.pointee.didWrite(storage.pointee.count - storage.pointee.sent)
    }

}

/// The serialized output and how much of it the kernel has taken.
@usableFromInline
struct OutputBytes {
    // safety: `bytes` holds `capacity` bytes (a buffer lent by `pool`), the
    // first `count` initialized; with capacity 0 it is detached and points
    // at nothing usable. It changes only in `reserve`/`detach`, which
    // invalidate earlier pointers; callers never keep one across an append.
    @usableFromInline var bytes: UnsafeMutableRawPointer
    var capacity = 0
    /// End of the serialized bytes.
    @usableFromInline var count = 0
    /// Start of the bytes not yet handed to the kernel.
    @usableFromInline var sent = 0
    /// The size class an output starts with and shrinks back to (a
    /// constant, not a field: every output object is 8 bytes smaller).
    static let initialCapacity = 16 * 1024
    var initialCapacity: Int { OutputBytes.initialCapacity }
    /// Strong: buffers go back to it even while the session is being torn
    /// down. Changes only when the session moves to another worker (`rebind`).
    var pool: BufferPool

    // Spliced segments: output that is not copied into `bytes` but sent from
    // where it lies, each at a position of `bytes` (after the bytes before
    // it, before the ones after it). Most connections never have one, so the
    // list is a separate allocation, made on the first splice and kept with
    // the output (one pointer here while there is none).
    // safety: nil, or one `SpliceList` owned by this output (`freeSplices`).
    var spliceList: UnsafeMutablePointer<SpliceList>?
    /// Bytes of spliced segments not yet written: 0 on the fast path.
    @usableFromInline var splicedPending = 0

    /// Starts detached: the first append takes a buffer from the pool.
    init(pool: BufferPool) {
        self.pool = pool
        bytes = OutputBytes.detached
    }

    /// Stands in for "no buffer": never read or written (capacity is 0).
    nonisolated(unsafe) static let detached = UnsafeMutableRawPointer.allocate(byteCount: 16, alignment: 16)

    /// Not inlined: rare (an idle connection, a grown buffer), and inlined
    /// into `didWrite` it made every write save and restore registers.
    @inline(never)
    mutating func detach() {
        guard capacity > 0 else { return }
        precondition(count == sent, "detaching output that is still pending")
        pool.give(PooledBuffer(base: bytes, capacity: capacity))
        bytes = OutputBytes.detached
        capacity = 0
        count = 0
        sent = 0
    }

    /// Inlinable: engines ask it for every write.
    @inlinable
    var pending: UnsafeRawBufferPointer {
        guard splicedPending > 0 else { return UnsafeRawBufferPointer(start: bytes + sent, count: count &- sent) }
        return pendingBeforeSplice
    }

    /// The run of bytes before the first pending splice.
    @usableFromInline
    var pendingBeforeSplice: UnsafeRawBufferPointer {
        let list = spliceList!.pointee
        return UnsafeRawBufferPointer(start: bytes + sent, count: list.entries[list.index].at - sent)
    }

    /// When everything is written the buffer rewinds; a buffer that grew for
    /// a large response shrinks back so an idle connection does not keep it.
    @inline(__always)
    mutating func didWrite(_ n: Int) {
        if splicedPending > 0 { return didWriteAcrossSplices(n) }
        precondition(n >= 0 && n <= count - sent, "wrote more than was pending")
        sent += n
        if sent == count {
            sent = 0
            count = 0
            if capacity > initialCapacity { detach() }  // grown for a large response: give it back
        }
    }

    // MARK: spliced segments

    /// Appends a segment sent from where it lies. A file range's descriptor
    /// belongs to the output from here on if `closeWhenSent` (closed once the
    /// range is written or the output discarded).
    mutating func splice(_ segment: Splice.Source) {
        let length = segment.count
        guard length > 0 else {
            if case .file(let range) = segment, range.closeWhenSent { close(range.descriptor) }
            return
        }
        if spliceList == nil {
            spliceList = .allocate(capacity: 1)
            spliceList!.initialize(to: SpliceList())
        }
        spliceList!.pointee.append(Splice(at: count, source: segment))
        splicedPending += length
    }

    /// `didWrite` through the sequence of runs of `bytes` and spliced segments.
    @inline(never)
    mutating func didWriteAcrossSplices(_ written: Int) {
        precondition(written >= 0 && written <= count - sent + splicedPending, "wrote more than was pending")
        let list = spliceList!
        var n = written
        while n > 0 {
            if list.pointee.index < list.pointee.count {
                let next = list.pointee.entries[list.pointee.index]
                if sent < next.at {
                    let take = min(n, next.at - sent)
                    sent += take
                    n -= take
                    continue
                }
                let take = min(n, next.source.count - list.pointee.progress)
                list.pointee.progress += take
                splicedPending -= take
                n -= take
                if list.pointee.progress == next.source.count { list.pointee.finishFirst() }
            } else {
                sent += n
                n = 0
            }
        }
        // A splice may end the output: it counts as finished only once the
        // runs around it are written too.
        if splicedPending == 0 && sent == count {
            list.pointee.removeAll()
            sent = 0
            count = 0
            if capacity > initialCapacity { detach() }
        }
    }

    /// Visits the pending output in order, as runs of bytes and spliced
    /// segments, until `body` returns false.
    func forEachPending(_ body: (OutputSegment) -> Bool) {
        var position = sent
        guard let list = spliceList?.pointee else {
            if position < count { _ = body(.bytes(UnsafeRawBufferPointer(start: bytes + position, count: count - position))) }
            return
        }
        var index = list.index
        var progress = list.progress
        while true {
            let end = index < list.count ? list.entries[index].at : count
            if position < end {
                guard body(.bytes(UnsafeRawBufferPointer(start: bytes + position, count: end - position))) else { return }
                position = end
            }
            guard index < list.count else { return }
            guard body(list.entries[index].source.segment(from: progress)) else { return }
            index += 1
            progress = 0
        }
    }

    /// The connection is gone: close the files it owned, forget the splices.
    mutating func discardSplices() {
        guard let list = spliceList else { return }
        while list.pointee.index < list.pointee.count { list.pointee.finishFirst() }
        list.pointee.removeAll()
        splicedPending = 0
    }

    mutating func freeSplices() {
        guard let list = spliceList else { return }
        list.pointee.entries.deallocate()
        list.deinitialize(count: 1)
        list.deallocate()
        spliceList = nil
    }

    @inline(__always)
    mutating func reserve(_ extra: Int) {
        if count + extra > capacity { grow(to: count + extra) }
    }

    private mutating func grow(to needed: Int) {
        var newCapacity = max(capacity * 2, initialCapacity)
        while newCapacity < needed { newCapacity *= 2 }
        let newBuffer = pool.take(atLeast: newCapacity)
        if capacity > 0 {
            newBuffer.base.copyMemory(from: bytes, byteCount: count)
            pool.give(PooledBuffer(base: bytes, capacity: capacity))
        }
        bytes = newBuffer.base
        capacity = newBuffer.capacity
    }

    @inline(__always)
    mutating func append(_ source: UnsafeRawPointer, count n: Int) {
        reserve(n)
        (bytes + count).copyMemory(from: source, byteCount: n)
        count += n
    }

    @inline(__always)
    mutating func append(_ buffer: UnsafeRawBufferPointer) {
        if let base = buffer.baseAddress { append(base, count: buffer.count) }
    }

    @inline(__always)
    mutating func append(_ s: StaticBytes) { append(s.base, count: s.count) }

    @inline(__always)
    mutating func append(_ s: StaticString) { append(s.utf8Start, count: s.utf8CodeUnitCount) }

    @inline(__always)
    mutating func append(byte: UInt8) {
        reserve(1)
        bytes.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    /// Appends a non-negative integer in decimal, without allocating.
    mutating func appendDecimal(_ value: Int) {
        if value >= 0 && value < 100 {  // most Content-Lengths of small bodies: no loop
            reserve(2)
            if value < 10 {
                bytes.storeBytes(of: UInt8(0x30 + value), toByteOffset: count, as: UInt8.self)
                count += 1
            } else {
                bytes.storeBytes(of: UInt8(0x30 + value / 10), toByteOffset: count, as: UInt8.self)
                bytes.storeBytes(of: UInt8(0x30 + value % 10), toByteOffset: count + 1, as: UInt8.self)
                count += 2
            }
            return
        }
        let digits = OutputBytes.decimalDigits(value)
        reserve(digits)
        OutputBytes.storeDecimal(value, digits: digits, at: bytes + count)
        count += digits
    }

    /// How many digits `value` (clamped at 0) has in decimal.
    static func decimalDigits(_ value: Int) -> Int {
        var digits = 1
        var v = max(value, 0)
        while v >= 10 { v /= 10; digits += 1 }
        return digits
    }

    /// Writes `value` (clamped at 0) as exactly `digits` decimal digits at `p`.
    static func storeDecimal(_ value: Int, digits: Int, at p: UnsafeMutableRawPointer) {
        var v = UInt(max(value, 0))
        var i = digits
        repeat {
            i -= 1
            p.storeBytes(of: UInt8(0x30 + v % 10), toByteOffset: i, as: UInt8.self)
            v /= 10
        } while i > 0
    }

    /// Appends a non-negative integer in lowercase hexadecimal.
    mutating func appendHex(_ value: Int) {
        var v = UInt(max(value, 0))
        var digits = 1
        var probe = v
        while probe >= 16 { probe >>= 4; digits += 1 }
        reserve(digits)
        var i = count + digits
        repeat {
            i -= 1
            let d = UInt8(v & 0xF)
            bytes.storeBytes(of: d < 10 ? 0x30 + d : 0x57 + d, toByteOffset: i, as: UInt8.self)
            v >>= 4
        } while v > 0
        count += digits
    }

    /// Counts `n` bytes written directly after the end (see BodyWriter).
    mutating func advance(by n: Int) {
        precondition(count + n <= capacity)
        count += n
    }

    /// Current end, to come back to for length fix-ups or truncation.
    var mark: Int { count }

    /// Drops everything after `mark` (a HEAD response's body).
    mutating func truncate(to mark: Int) {
        precondition(mark >= sent && mark <= count)
        count = mark
    }

    /// Inserts `n` bytes at `offset`, shifting what follows; returns where to
    /// write them. Used once per response of unknown length, to place
    /// Content-Length in front of a body already written (a short memmove).
    mutating func openGap(at offset: Int, count n: Int) -> UnsafeMutableRawPointer {
        reserve(n)
        memmove(bytes + offset + n, bytes + offset, count - offset)
        count += n
        return bytes + offset
    }
}

/// The spliced segments of an output, in order: `index..<count` pending,
/// the first of them `progress` bytes in.
/// safety: `entries` holds `capacity` slots, `0..<count` initialized
/// (trivial values: no deinitialization needed); freed by `freeSplices`.
struct SpliceList {
    var entries = UnsafeMutablePointer<Splice>.allocate(capacity: 8)
    var capacity = 8
    var count = 0
    var index = 0
    var progress = 0

    mutating func append(_ splice: Splice) {
        if count == capacity {
            let grown = UnsafeMutablePointer<Splice>.allocate(capacity: capacity * 2)
            grown.moveInitialize(from: entries, count: count)
            entries.deallocate()
            entries = grown
            capacity *= 2
        }
        (entries + count).initialize(to: splice)
        count += 1
    }

    /// The first pending splice is written: its file closes if it owns it.
    mutating func finishFirst() {
        if case .file(let range) = entries[index].source, range.closeWhenSent { close(range.descriptor) }
        index += 1
        progress = 0
    }

    mutating func removeAll() {
        count = 0
        index = 0
        progress = 0
    }
}

/// A segment of output spliced into the bytes at `at`.
struct Splice {
    enum Source {
        /// Bytes made at start-up, sent from where they lie (never freed).
        case bytes(StaticBytes)
        case file(FileRange)

        var count: Int {
            switch self {
            case .bytes(let bytes): bytes.count
            case .file(let range): range.count
            }
        }

        /// What is left of it after `progress` bytes.
        func segment(from progress: Int) -> OutputSegment {
            switch self {
            case .bytes(let bytes):
                .bytes(UnsafeRawBufferPointer(start: bytes.base + progress, count: bytes.count - progress))
            case .file(let range):
                .file(descriptor: range.descriptor, offset: range.offset + progress, count: range.count - progress)
            }
        }
    }

    var at: Int
    var source: Source
}

/// A range of an open file to send as (part of) a body, from the page cache
/// by `sendfile` where the engine can, without copying it into the output.
public struct FileRange: Sendable {
    public var descriptor: Int32
    public var offset: Int
    public var count: Int
    /// The output closes the descriptor once the range is written, or when
    /// the connection ends first (ownership passes with the response).
    public var closeWhenSent: Bool

    public init(descriptor: Int32, offset: Int, count: Int, closeWhenSent: Bool) {
        self.descriptor = descriptor
        self.offset = offset
        self.count = count
        self.closeWhenSent = closeWhenSent
    }
}
