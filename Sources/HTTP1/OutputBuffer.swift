import Glibc

/// A connection's outgoing bytes: responses are serialized straight into it and
/// the engine writes them out from `pending`.
///
/// Ownership: the thread driving the connection. While an engine hands
/// `pending` to the kernel (a write in flight on io_uring), nothing may append.
public final class OutputBuffer {
    // safety: `bytes` holds `capacity` bytes, the first `count` initialized.
    // It is reallocated only in `reserve`, which invalidates earlier pointers;
    // callers never keep a pointer across an append.
    private(set) var bytes: UnsafeMutableRawPointer
    private(set) var capacity: Int
    /// End of the serialized bytes.
    private(set) var count = 0
    /// Start of the bytes not yet handed to the kernel.
    private(set) var sent = 0
    private let initialCapacity: Int

    public init(capacity: Int = 16 * 1024) {
        initialCapacity = capacity
        self.capacity = capacity
        bytes = .allocate(byteCount: capacity, alignment: 16)
    }

    deinit { bytes.deallocate() }

    /// The bytes waiting to be written.
    public var pending: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: bytes + sent, count: count - sent)
    }

    public var pendingCount: Int { count - sent }

    /// Marks `n` bytes of `pending` as written. When everything is written the
    /// buffer rewinds; a buffer that grew for a large response shrinks back so
    /// an idle connection does not keep it.
    public func didWrite(_ n: Int) {
        precondition(n >= 0 && n <= count - sent, "wrote more than was pending")
        sent += n
        if sent == count {
            sent = 0
            count = 0
            if capacity > 4 * initialCapacity {
                bytes.deallocate()
                capacity = initialCapacity
                bytes = .allocate(byteCount: capacity, alignment: 16)
            }
        }
    }

    @inline(__always)
    func reserve(_ extra: Int) {
        if count + extra > capacity { grow(to: count + extra) }
    }

    private func grow(to needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let newBytes = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        newBytes.copyMemory(from: bytes, byteCount: count)
        bytes.deallocate()
        bytes = newBytes
        capacity = newCapacity
    }

    @inline(__always)
    func append(_ source: UnsafeRawPointer, count n: Int) {
        reserve(n)
        (bytes + count).copyMemory(from: source, byteCount: n)
        count += n
    }

    @inline(__always)
    func append(_ buffer: UnsafeRawBufferPointer) {
        if let base = buffer.baseAddress { append(base, count: buffer.count) }
    }

    @inline(__always)
    func append(_ s: StaticBytes) { append(s.base, count: s.count) }

    @inline(__always)
    func append(_ s: StaticString) { append(s.utf8Start, count: s.utf8CodeUnitCount) }

    @inline(__always)
    func append(byte: UInt8) {
        reserve(1)
        bytes.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    /// Appends a non-negative integer in decimal, without allocating.
    func appendDecimal(_ value: Int) {
        var v = value < 0 ? 0 : value
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch on the stack
        let n = withUnsafeMutableBytes(of: &digits) { scratch -> Int in
            var i = scratch.count
            repeat {
                i -= 1
                scratch[i] = UInt8(0x30 + v % 10)
                v /= 10
            } while v > 0
            append(UnsafeRawBufferPointer(rebasing: scratch[i...]))
            return scratch.count - i
        }
        _ = n
    }

    /// Appends a non-negative integer in lowercase hexadecimal.
    func appendHex(_ value: Int) {
        var v = UInt(value)
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { scratch in
            var i = scratch.count
            repeat {
                i -= 1
                let d = UInt8(v & 0xF)
                scratch[i] = d < 10 ? 0x30 + d : 0x57 + d
                v >>= 4
            } while v > 0
            append(UnsafeRawBufferPointer(rebasing: scratch[i...]))
        }
    }

    /// Counts `n` bytes written directly after the end (see BodyWriter).
    func advance(by n: Int) {
        precondition(count + n <= capacity)
        count += n
    }

    /// Current end, to come back to for length fix-ups or truncation.
    var mark: Int { count }

    /// Drops everything after `mark` (a HEAD response's body).
    func truncate(to mark: Int) {
        precondition(mark >= sent && mark <= count)
        count = mark
    }

    /// Inserts `n` bytes at `offset`, shifting what follows; returns where to
    /// write them. Used once per response of unknown length, to place
    /// Content-Length in front of a body already written (a short memmove).
    func openGap(at offset: Int, count n: Int) -> UnsafeMutableRawPointer {
        reserve(n)
        memmove(bytes + offset + n, bytes + offset, count - offset)
        count += n
        return bytes + offset
    }

    /// Bytes between `start` and the end, for tests and debugging.
    func bytes(from start: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: bytes + start, count: count - start)
    }
}
