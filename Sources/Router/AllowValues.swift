import HTTP1

/// Every possible Allow header value, serialized once per process.
///
/// A 405 lists the methods of all routes that match the path, which can be
/// any union of the nodes' method sets; rather than joining names per
/// request, each of the 2^9 method sets is written out up front (about 15 KB)
/// and a lookup just indexes by bit mask.
struct AllowValues: @unchecked Sendable {
    // @unchecked: the buffers are written only in `init` and never freed,
    // so sharing the pointers between threads is safe.
    private let bytes: UnsafeMutableRawBufferPointer
    /// Value for mask m is bytes[offsets[m]..<offsets[m + 1]].
    private let offsets: UnsafeMutableBufferPointer<UInt32>

    static let shared = AllowValues()

    private init() {
        let methods = HTTPMethod.allCases
        let maskCount = 1 << methods.count
        var text: [UInt8] = []
        var offsets: [UInt32] = [0]
        for mask in 0..<maskCount {
            // allCases is in the order the Allow header should list methods.
            let names = methods.filter { mask & (1 << Int($0.rawValue)) != 0 }.map(\.name)
            text += Array(names.joined(separator: ", ").utf8)
            offsets.append(UInt32(text.count))
        }
        bytes = .allocate(byteCount: text.count, alignment: 1)
        bytes.copyBytes(from: text)
        self.offsets = .allocate(capacity: offsets.count)
        _ = self.offsets.initialize(from: offsets)
    }

    /// `mask` has bit `method.rawValue` set for each allowed method.
    func value(for mask: UInt16) -> UnsafeRawBufferPointer {
        let index = Int(mask)
        precondition(index < offsets.count - 1, "method mask out of range")
        // safety: index + 1 < offsets.count (checked above) and every offset
        // was recorded as a position within `bytes`.
        let start = Int(offsets[index])
        return UnsafeRawBufferPointer(rebasing: bytes[start..<Int(offsets[index + 1])])
    }
}
