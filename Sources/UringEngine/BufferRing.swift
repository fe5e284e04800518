import CLiburing
import EngineCore
import Glibc

/// A provided-buffer ring: `count` buffers of `size` bytes that the kernel
/// picks from when a multishot receive completes.
///
/// Life of a buffer (who owns it at each step):
/// 1. **Kernel**: after `give(bid)` (or at set-up) the buffer is in the ring;
///    the kernel may write into it at any moment a receive completes.
/// 2. **Loop**: a receive completion names it (`IORING_CQE_F_BUFFER`, bid in
///    the upper 16 bits of the flags); from then on the kernel will not touch
///    it. The loop lends its bytes to `HTTPSession.process(borrowing:)`,
///    which parses in place and copies any leftover tail.
/// 3. Back to the kernel with `give(bid)` as soon as `process` returns, so a
///    connection never holds a buffer between completions (idle connections
///    hold none). Only while a send is in flight, when the session cannot
///    take a new batch, may the loop park it for a moment (see `RingLoop`).
///
/// Ownership: the ring's loop thread.
final class BufferRing {
    let count: Int
    let size: Int
    let group: UInt16
    let incremental: Bool
    private let mask: Int32
    // safety: `entries` is a page-aligned mmap of `count` io_uring_buf
    // entries, registered with the kernel until deinit; `memory` holds
    // `count * size` bytes; both live as long as the ring they belong to.
    private let entries: UnsafeMutablePointer<io_uring_buf_ring>
    private let entriesBytes: Int
    let memory: UnsafeMutableRawPointer
    /// Buffers the kernel holds now (given and not yet named by a completion).
    private(set) var available = 0
    /// The bid in each ring entry, in the order given (`tail` counts every
    /// entry ever added), and each bid's entry: a bundle fills consecutive
    /// entries, which after recycling hold unrelated bids.
    private var order: [UInt16]
    private var entryOf: [Int]
    private var tail = 0

    init(ring: UnsafeMutablePointer<io_uring>, count: Int, size: Int, group: UInt16, incremental: Bool) throws(EngineError) {
        self.count = count
        self.size = size
        self.group = group
        self.incremental = incremental
        mask = io_uring_buf_ring_mask(UInt32(count))
        order = Array(repeating: 0, count: count)
        entryOf = Array(repeating: 0, count: count)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        entriesBytes = (count * MemoryLayout<io_uring_buf>.stride + page - 1) / page * page
        guard let map = mmap(nil, entriesBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              map != MAP_FAILED else { throw EngineError("cannot map the provided-buffer ring: \(errnoText())") }
        entries = map.bindMemory(to: io_uring_buf_ring.self, capacity: 1)
        memory = UnsafeMutableRawPointer.allocate(byteCount: count * size, alignment: page)
        // Touched now, so the ring is resident from start-up: a fixed cost
        // per loop that `/metrics` states (switchyard_uring_buffer_ring_bytes),
        // not memory that grows with the receives in flight during a burst
        // and looks like a per-connection cost.
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: count * size)
        io_uring_buf_ring_init(entries)
        let status = switchyard_register_buffer_ring(ring, map, UInt32(count), group,
                                                     incremental ? UInt16(SWITCHYARD_IOU_PBUF_RING_INC) : 0)
        guard status == 0 else {
            munmap(map, entriesBytes)
            memory.deallocate()
            throw EngineError("cannot register the provided-buffer ring (--uring-buffers \(count)): \(String(cString: strerror(-status)))")
        }
        for bid in 0..<count {
            io_uring_buf_ring_add(entries, memory + bid * size, UInt32(size), UInt16(bid), mask, Int32(bid))
            order[bid] = UInt16(bid)
            entryOf[bid] = bid
        }
        io_uring_buf_ring_advance(entries, Int32(count))
        tail = count
        available = count
    }

    /// Frees the memory; call after the ring is gone (the kernel may write
    /// into a registered buffer until then).
    func free() {
        munmap(entries, entriesBytes)
        memory.deallocate()
    }

    /// The bytes of buffer `bid`.
    @inline(__always)
    func bytes(_ bid: Int, count n: Int, offset: Int = 0) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: memory + bid * size + offset, count: n)
    }

    /// A completion named `bid`: the kernel gave it up.
    @inline(__always)
    private func taken(_ bid: Int) { available -= 1 }

    /// Hands buffer `bid` back to the kernel (published at once).
    @inline(__always)
    func give(_ bid: Int) {
        io_uring_buf_ring_add(entries, memory + bid * size, UInt32(size), UInt16(bid), mask, 0)
        io_uring_buf_ring_advance(entries, 1)
        order[tail & (count - 1)] = UInt16(bid)
        entryOf[bid] = tail
        tail += 1
        available += 1
    }

    /// Where each partially consumed buffer continues (IOU_PBUF_RING_INC):
    /// the kernel fills one buffer across completions, reporting only lengths.
    private var offsets: [Int] = []

    /// The buffer(s) a receive completion names (`flags`, `result` bytes):
    /// calls `body` for each piece in order, then gives every buffer the
    /// kernel has let go back to it. `body` must not keep the bytes.
    ///
    /// Three shapes: one buffer; a bundle (--uring-bundle, more than one
    /// buffer's worth: consecutive ring entries from the named one, whose
    /// bids after recycling are not consecutive); or a piece of an
    /// incrementally consumed buffer (--uring-incremental), which stays the
    /// kernel's while IORING_CQE_F_BUF_MORE says more will land in it.
    func consume(flags: UInt32, result: Int32, _ body: (UnsafeRawBufferPointer) -> Void) {
        let bid = Int(flags >> UInt32(IORING_CQE_BUFFER_SHIFT))
        let length = max(Int(result), 0)
        if incremental {
            if offsets.isEmpty { offsets = Array(repeating: 0, count: count) }
            let offset = offsets[bid]
            let stillHeld = flags & SWITCHYARD_IORING_CQE_F_BUF_MORE != 0
            offsets[bid] = stillHeld ? offset + length : 0
            if length > 0 { body(bytes(bid, count: length, offset: offset)) }
            if !stillHeld {
                taken(bid)
                give(bid)
            }
            return
        }
        if length <= size {
            taken(bid)
            if length > 0 { body(bytes(bid, count: length)) }
            give(bid)
            return
        }
        // A bundle: read the entries before giving any back (giving moves
        // `entryOf`), hand the pieces over, then return them all.
        let first = entryOf[bid]
        let parts = (length + size - 1) / size
        withUnsafeTemporaryAllocation(of: Int.self, capacity: parts) { bids in
            for i in 0..<parts {
                bids[i] = Int(order[(first + i) & (count - 1)])
                taken(bids[i])
            }
            for i in 0..<parts {
                body(bytes(bids[i], count: min(size, length - i * size)))
            }
            for i in 0..<parts { give(bids[i]) }
        }
    }
}
