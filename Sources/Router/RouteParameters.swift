/// Captured path parameters; fixed capacity (8), no heap allocation.
///
/// Values are slices of the path buffer passed to `Router.lookup` and names
/// are slices of the router's own name table, so both are only valid while
/// that path buffer is alive and the router has not been changed by `add`.
public struct RouteParameters {
    /// Patterns with more captures are refused by `Router.add`, so a lookup
    /// can never need more room than this.
    static let capacity = 8

    typealias Slots = (
        UnsafeRawBufferPointer, UnsafeRawBufferPointer, UnsafeRawBufferPointer, UnsafeRawBufferPointer,
        UnsafeRawBufferPointer, UnsafeRawBufferPointer, UnsafeRawBufferPointer, UnsafeRawBufferPointer
    )

    // A tuple rather than an array: it lives inline in the struct (usually on
    // the caller's stack), which is what keeps a lookup off the heap.
    private var values: Slots
    private var names: Slots

    public private(set) var count: Int

    public init() {
        let none = UnsafeRawBufferPointer(start: nil, count: 0)
        values = (none, none, none, none, none, none, none, none)
        names = values
        count = 0
    }

    /// Value of the i-th capture (in pattern order), as a slice of the looked-up path buffer.
    public subscript(index: Int) -> UnsafeRawBufferPointer {
        precondition(index >= 0 && index < count, "route parameter index \(index) out of range 0..<\(count)")
        return Self.load(values, index)
    }

    /// Value of a capture by name (e.g. "id" for ":id", "path" for "*path"); nil if absent. Must not allocate.
    public subscript(name: StaticString) -> UnsafeRawBufferPointer? {
        // withUTF8Buffer copes with both StaticString representations (a
        // one-scalar literal may not be stored as a pointer) without allocating.
        name.withUTF8Buffer { wanted in
            for i in 0..<count where Self.equal(Self.load(names, i), wanted) {
                return Self.load(values, i)
            }
            return nil
        }
    }

    public mutating func removeAll() {
        count = 0
    }

    /// Name of the i-th capture, without the leading ':' or '*'.
    func name(at index: Int) -> UnsafeRawBufferPointer {
        precondition(index >= 0 && index < count, "route parameter index \(index) out of range 0..<\(count)")
        return Self.load(names, index)
    }

    mutating func append(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        // The router only pushes captures along one root-to-leaf path of its
        // tree, and every such path belongs to a pattern `add` accepted.
        precondition(count < Self.capacity, "more than \(Self.capacity) route parameters")
        Self.store(value, into: &values, at: count)
        Self.store(name, into: &names, at: count)
        count += 1
    }

    /// Undoes the latest `append` when the lookup backtracks out of a capture.
    mutating func removeLast() {
        count -= 1
    }

    private static func load(_ slots: Slots, _ index: Int) -> UnsafeRawBufferPointer {
        // safety: callers check 0 <= index < count <= capacity, and the eight
        // elements of a homogeneous tuple are laid out contiguously at stride.
        withUnsafeBytes(of: slots) {
            $0.load(
                fromByteOffset: index * MemoryLayout<UnsafeRawBufferPointer>.stride, as: UnsafeRawBufferPointer.self)
        }
    }

    private static func store(_ value: UnsafeRawBufferPointer, into slots: inout Slots, at index: Int) {
        // safety: as in `load`; `append` has checked index < capacity.
        withUnsafeMutableBytes(of: &slots) {
            $0.storeBytes(
                of: value, toByteOffset: index * MemoryLayout<UnsafeRawBufferPointer>.stride,
                as: UnsafeRawBufferPointer.self)
        }
    }

    private static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where a[i] != b[i] { return false }
        return true
    }
}
