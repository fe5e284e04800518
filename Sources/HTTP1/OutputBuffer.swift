import Glibc

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
    let storage: UnsafeMutablePointer<OutputBytes>

    public init(capacity: Int = 16 * 1024) {
        storage = .allocate(capacity: 1)
        storage.initialize(to: OutputBytes(capacity: capacity))
    }

    deinit {
        storage.pointee.bytes.deallocate()
        storage.deinitialize(count: 1)
        storage.deallocate()
    }

    /// The bytes waiting to be written.
    public var pending: UnsafeRawBufferPointer { storage.pointee.pending }
    public var pendingCount: Int { storage.pointee.count - storage.pointee.sent }

    /// Marks `n` bytes of `pending` as written.
    public func didWrite(_ n: Int) { storage.pointee.didWrite(n) }

    @inline(__always) func append(_ s: StaticString) { storage.pointee.append(s) }

    /// Drops unsent output (the connection is gone) and rewinds.
    public func discardAll() {
        storage.pointee.didWrite(storage.pointee.count - storage.pointee.sent)
    }

    /// Bytes between `start` and the end, for tests and debugging.
    func bytes(from start: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage.pointee.bytes + start, count: storage.pointee.count - start)
    }
}

/// The serialized output and how much of it the kernel has taken.
struct OutputBytes {
    // safety: `bytes` holds `capacity` bytes, the first `count` initialized.
    // It is reallocated only in `reserve`, which invalidates earlier pointers;
    // callers never keep a pointer across an append.
    var bytes: UnsafeMutableRawPointer
    var capacity: Int
    /// End of the serialized bytes.
    var count = 0
    /// Start of the bytes not yet handed to the kernel.
    var sent = 0
    let initialCapacity: Int

    init(capacity: Int) {
        initialCapacity = capacity
        self.capacity = capacity
        bytes = .allocate(byteCount: capacity, alignment: 16)
    }

    var pending: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: bytes + sent, count: count - sent)
    }

    /// When everything is written the buffer rewinds; a buffer that grew for
    /// a large response shrinks back so an idle connection does not keep it.
    mutating func didWrite(_ n: Int) {
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
    mutating func reserve(_ extra: Int) {
        if count + extra > capacity { grow(to: count + extra) }
    }

    private mutating func grow(to needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let newBytes = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        newBytes.copyMemory(from: bytes, byteCount: count)
        bytes.deallocate()
        bytes = newBytes
        capacity = newCapacity
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
        var v = UInt(max(value, 0))
        var digits = 1
        var probe = v
        while probe >= 10 { probe /= 10; digits += 1 }
        reserve(digits)
        var i = count + digits
        repeat {
            i -= 1
            bytes.storeBytes(of: UInt8(0x30 + v % 10), toByteOffset: i, as: UInt8.self)
            v /= 10
        } while v > 0
        count += digits
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
