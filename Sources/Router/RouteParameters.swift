/// Captured path parameters; fixed capacity (8), no heap allocation.
///
/// Values are slices of the path buffer passed to `Router.lookup` and names
/// are slices of the router's own name table, so both are only valid while
/// that path buffer is alive and the router has not been changed by `add`.
public struct RouteParameters {
    /// Patterns with more captures are refused by `Router.add`, so a lookup
    /// can never need more room than this.
    static let capacity = 8

    /// Each capture as offsets, not buffers: a value is `start << 32 |
    /// count` in the looked-up path, a name `start << 16 | count` in the
    /// router's name table. The whole struct is then 120 bytes, which a
    /// handler call copies with a few moves (as 264 bytes of buffers it took
    /// a memcpy per request).
    @usableFromInline typealias Values = (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
    @usableFromInline typealias Names = (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32)

    // A tuple rather than an array: it lives inline in the struct (usually on
    // the caller's stack), which is what keeps a lookup off the heap.
    @usableFromInline var values: Values
    @usableFromInline var names: Names
    // safety: set by `start` to the path being looked up and the router's
    // name table; offsets in `values` and `names` lie within them.
    @usableFromInline var path: UnsafeRawPointer?
    @usableFromInline var nameTable: UnsafeRawPointer?

    /// How many captures the lookup found.
    public var count: Int { captured }
    @usableFromInline var captured: Int

    /// Inlinable: the application makes one per request, in its module.
    @inlinable
    public init() {
        values = (0, 0, 0, 0, 0, 0, 0, 0)
        names = (0, 0, 0, 0, 0, 0, 0, 0)
        path = nil
        nameTable = nil
        captured = 0
    }

    /// Value of the i-th capture (in pattern order), as a slice of the looked-up path buffer.
    public subscript(index: Int) -> UnsafeRawBufferPointer {
        precondition(index >= 0 && index < count, "route parameter index \(index) out of range 0..<\(count)")
        return value(at: index)
    }

    /// Value of a capture by name (e.g. "id" for ":id", "path" for "*path"); nil if absent. Must not allocate.
    public subscript(name: StaticString) -> UnsafeRawBufferPointer? {
        // withUTF8Buffer copes with both StaticString representations (a
        // one-scalar literal may not be stored as a pointer) without allocating.
        name.withUTF8Buffer { wanted in
            for i in 0..<count where Self.equal(self.name(at: i), wanted) {
                return value(at: i)
            }
            return nil
        }
    }

    public mutating func removeAll() {
        captured = 0
    }

    /// Empties the list for a lookup of `path` in a router whose capture
    /// names lie in `nameTable`.
    mutating func start(path: UnsafeRawPointer?, nameTable: UnsafeRawPointer?) {
        captured = 0
        self.path = path
        self.nameTable = nameTable
    }

    /// Name of the i-th capture, without the leading ':' or '*'.
    func name(at index: Int) -> UnsafeRawBufferPointer {
        precondition(index >= 0 && index < count, "route parameter index \(index) out of range 0..<\(count)")
        let span = withUnsafeBytes(of: names) { $0.load(fromByteOffset: index * 4, as: UInt32.self) }
        // safety: the span lies in the name table (`append`).
        return UnsafeRawBufferPointer(start: nameTable.map { $0 + Int(span >> 16) }, count: Int(span & 0xFFFF))
    }

    private func value(at index: Int) -> UnsafeRawBufferPointer {
        let span = withUnsafeBytes(of: values) { $0.load(fromByteOffset: index * 8, as: UInt64.self) }
        // safety: the span lies in the path (`append`).
        return UnsafeRawBufferPointer(start: path.map { $0 + Int(span >> 32) }, count: Int(span & 0xFFFF_FFFF))
    }

    mutating func append(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        // The router only pushes captures along one root-to-leaf path of its
        // tree, and every such path belongs to a pattern `add` accepted.
        precondition(count < Self.capacity, "more than \(Self.capacity) route parameters")
        let valueStart = value.baseAddress.map { $0 - path! } ?? 0
        let nameStart = name.baseAddress.map { $0 - nameTable! } ?? 0
        precondition(valueStart >= 0 && nameStart >= 0 && nameStart + name.count <= 0xFFFF && name.count <= 0xFFFF,
                     "a capture outside the path or the name table")
        let index = count
        withUnsafeMutableBytes(of: &values) {
            $0.storeBytes(of: UInt64(valueStart) << 32 | UInt64(value.count), toByteOffset: index * 8, as: UInt64.self)
        }
        withUnsafeMutableBytes(of: &names) {
            $0.storeBytes(of: UInt32(nameStart) << 16 | UInt32(name.count), toByteOffset: index * 4, as: UInt32.self)
        }
        captured += 1
    }

    /// Undoes the latest `append` when the lookup backtracks out of a capture.
    mutating func removeLast() {
        captured -= 1
    }

    private static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where a[i] != b[i] { return false }
        return true
    }
}
