/// A bump allocator for one request's temporary data, reset by the session
/// after each response: handlers get scratch memory without a malloc and
/// without having to free it.
///
/// Memory comes from the worker's pool in 4 KiB chunks (larger requests get
/// a chunk of their own); `reset` keeps the first chunk and gives the rest
/// back. Ownership: the worker thread; one request at a time.
public final class RequestArena {
    private let pool: BufferPool
    @usableFromInline var chunks: [PooledBuffer] = []
    @usableFromInline var used = 0

    public init(pool: BufferPool) {
        self.pool = pool
        chunks.reserveCapacity(8)
    }

    deinit { for chunk in chunks { pool.give(chunk) } }

    /// `byteCount` bytes aligned to `alignment` (a power of two), valid until
    /// the current response has been written.
    public func allocate(byteCount: Int, alignment: Int = 8) -> UnsafeMutableRawBufferPointer {
        // Index, not `chunks.last`: the unspecialized generic accessor
        // allocates in debug builds, and tests check debug builds too.
        if chunks.count > 0 {
            let current = chunks[chunks.count - 1]
            let start = (used + alignment - 1) & ~(alignment - 1)
            if start + byteCount <= current.capacity {
                used = start + byteCount
                return UnsafeMutableRawBufferPointer(start: current.base + start, count: byteCount)
            }
        }
        let chunk = pool.take(atLeast: max(byteCount, 4096))
        chunks.append(chunk)
        used = byteCount
        return UnsafeMutableRawBufferPointer(start: chunk.base, count: byteCount)
    }

    /// Frees everything at once (the session calls this after a response).
    /// Inlinable: most requests use no scratch memory, and for them this is
    /// two loads and a branch in the session, not a call.
    @inlinable @inline(__always)
    public func reset() {
        guard used > 0 || chunks.count > 1 else { return }
        giveBack()
    }

    @usableFromInline
    func giveBack() {
        while chunks.count > 1 { pool.give(chunks.removeLast()) }
        used = 0
    }
}
