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

/// A response body fixed at start-up, serialized once with its framing:
/// the content type, `Content-Length` and the blank line, then the body, in
/// one piece. A kept-alive HTTP/1.1 response then costs the status line,
/// `Date`, any queued headers and this: one copy, no length to format.
/// Other responses (HEAD takes the piece without the body; closing and
/// HTTP/1.0 responses, which need a `Connection` line, and statuses without
/// a body) are written from `contentType` and `body` as any other.
public struct StaticResponse: Sendable {
    public let contentType: StaticHeader?
    public let body: StaticBytes
    /// "Content-Type: …\r\nContent-Length: N\r\n\r\n" followed by the body.
    let framed: StaticBytes
    /// How much of `framed` is framing (what a HEAD response sends).
    let framingCount: Int

    public init(contentType: StaticHeader?, body: String) {
        self.contentType = contentType
        self.body = StaticBytes(body)
        let typeLine = contentType.map { String(decoding: $0.line.buffer, as: UTF8.self) } ?? ""
        let framing = typeLine + "Content-Length: \(self.body.count)\r\n\r\n"
        framed = StaticBytes(framing + body)
        framingCount = framing.utf8.count
    }
}
