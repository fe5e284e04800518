/// Bytes fixed at start-up that live as long as the process: static bodies,
/// pre-serialized header lines, status lines.
///
/// Holding a raw pointer instead of an array keeps copies free of reference
/// counting on the hot path. The memory is deliberately never freed.
public struct StaticBytes: Sendable {
    // safety: points to `count` initialized bytes that are never freed or
    // mutated after init, so sharing across threads is safe.
    public nonisolated(unsafe) let base: UnsafeRawPointer
    public let count: Int

    public init(_ string: String) {
        self.init(Array(string.utf8))
    }

    public init(_ bytes: [UInt8]) {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 8)
        bytes.withUnsafeBytes { if let source = $0.baseAddress { memory.copyMemory(from: source, byteCount: $0.count) } }
        base = UnsafeRawPointer(memory)
        count = bytes.count
    }

    public var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}

/// A complete header line ("Name: value\r\n") serialized once at start-up.
public struct StaticHeader: Sendable {
    public let line: StaticBytes
    /// The line and the start of the Content-Length line after it, so a
    /// response with a body appends both in one copy.
    let lineAndLengthName: StaticBytes

    public init(name: String, value: String) {
        line = StaticBytes("\(name): \(value)\r\n")
        lineAndLengthName = StaticBytes("\(name): \(value)\r\nContent-Length: ")
    }

    public static let textPlain = StaticHeader(name: "Content-Type", value: "text/plain; charset=utf-8")
    public static let json = StaticHeader(name: "Content-Type", value: "application/json")
    public static let octetStream = StaticHeader(name: "Content-Type", value: "application/octet-stream")
    public static let html = StaticHeader(name: "Content-Type", value: "text/html; charset=utf-8")
}
