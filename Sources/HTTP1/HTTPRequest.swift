import LoopRuntime
/// A parsed request: a view into the connection's input buffer.
///
/// Lifetime: valid only while the responder's `respond(to:writer:)` runs.
/// The bytes belong to the connection's input buffer, which the session
/// reuses for the next request as soon as the response is written. Copy out
/// (`String(decoding:as:)`) anything that must outlive the call.
public struct HTTPRequest {
    // safety: `base` is the request's first byte in the session's input
    // buffer; every offset in `head` and `fields` lies inside the request.
    // `headPointer` is the parser's own head, in the session's request
    // state. The session keeps all of it unchanged until `respond` returns.
    let base: UnsafeRawPointer
    /// A pointer, not a copy: the head is about 130 bytes, and copying it
    /// into each request was a memcpy per request.
    let headPointer: UnsafePointer<RequestHead>
    let fields: UnsafePointer<FieldSlot>

    /// The loop thread serving this request: its counters and caches.
    // safety: the loop outlives every request it serves.
    public unowned(unsafe) let loop: LoopContext

    public let method: HTTPMethod
    /// The decoded body (chunked framing already removed); empty when none.
    public let body: UnsafeRawBufferPointer

    init(base: UnsafeRawPointer, head: UnsafePointer<RequestHead>, fields: UnsafePointer<FieldSlot>,
         body: UnsafeRawBufferPointer, loop: LoopContext) {
        self.base = base
        self.loop = loop
        self.headPointer = head
        self.fields = fields
        self.method = head.pointee.method
        self.body = body
    }

    var head: RequestHead {
        unsafeAddress { headPointer }
    }

    public var version: HTTPVersion { head.version }

    /// The request target exactly as sent.
    public var target: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + head.targetStart, count: head.targetLength)
    }

    /// The path of the target, without the query; "/" for an absolute-form
    /// target without a path.
    public var path: UnsafeRawBufferPointer {
        if head.pathLength == 0 {
            // A literal in the binary, not a lazily made static: no
            // initialization check keeps this getter from being inlined.
            let root: StaticString = "/"
            return UnsafeRawBufferPointer(start: root.utf8Start, count: 1)
        }
        return UnsafeRawBufferPointer(start: base + head.pathStart, count: head.pathLength)
    }

    /// The query string after '?', nil when the target has none.
    public var query: UnsafeRawBufferPointer? {
        guard head.queryStart >= 0 else { return nil }
        return UnsafeRawBufferPointer(start: base + head.queryStart, count: head.queryLength)
    }

    /// Whether the client lets the connection stay open after this response.
    public var keepAlive: Bool { head.keepAlive }

    public var headers: HTTPHeaders { HTTPHeaders(base: base, fields: fields, count: head.fieldCount) }

    /// The raw value of the first query parameter called `name`
    /// (`us` in `/work?us=20`), without percent-decoding.
    public func queryValue(_ name: StaticString) -> UnsafeRawBufferPointer? {
        guard let query else { return nil }
        var result: UnsafeRawBufferPointer?
        forEachSeparated(query, by: 0x26) { pair in  // '&'
            var eq = 0
            while eq < pair.count && pair[eq] != 0x3D { eq += 1 }
            let key = UnsafeRawBufferPointer(rebasing: pair[0..<eq])
            guard equalsExactly(key, name) else { return true }
            result = eq < pair.count ? UnsafeRawBufferPointer(rebasing: pair[(eq + 1)...]) : UnsafeRawBufferPointer(rebasing: pair[eq...])
            return false
        }
        return result
    }
}


/// The header fields of a request, in order, without copying.
public struct HTTPHeaders: Sequence {
    let base: UnsafeRawPointer
    let fields: UnsafePointer<FieldSlot>
    public let count: Int

    /// Name and value of the i-th field line (value trimmed of whitespace).
    public subscript(index: Int) -> (name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        precondition(index >= 0 && index < count)
        let slot = fields[index]
        return (UnsafeRawBufferPointer(start: base + Int(slot.nameStart), count: Int(slot.nameLength)),
                UnsafeRawBufferPointer(start: base + Int(slot.valueStart), count: Int(slot.valueLength)))
    }

    /// The value of the first field called `name` (give it in lowercase; the
    /// comparison ignores case).
    public func first(_ name: StaticString) -> UnsafeRawBufferPointer? {
        for i in 0..<count {
            let field = self[i]
            if equalsLowercase(field.name, name) { return field.value }
        }
        return nil
    }

    public struct Iterator: IteratorProtocol {
        let headers: HTTPHeaders
        var index = 0
        public mutating func next() -> (name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)? {
            guard index < headers.count else { return nil }
            defer { index += 1 }
            return headers[index]
        }
    }

    public func makeIterator() -> Iterator { Iterator(headers: self) }
}

@inline(__always)
func equalsExactly(_ bytes: UnsafeRawBufferPointer, _ s: StaticString) -> Bool {
    guard bytes.count == s.utf8CodeUnitCount else { return false }
    let p = s.utf8Start
    for i in 0..<bytes.count where bytes[i] != p[i] { return false }
    return true
}

@inline(__always)
func forEachSeparated(_ bytes: UnsafeRawBufferPointer, by separator: UInt8, _ body: (UnsafeRawBufferPointer) -> Bool) {
    var start = 0
    while start <= bytes.count {
        var end = start
        while end < bytes.count && bytes[end] != separator { end += 1 }
        if !body(UnsafeRawBufferPointer(rebasing: bytes[start..<end])) { return }
        start = end + 1
    }
}

extension UnsafeRawBufferPointer {
    /// Parses the bytes as a non-negative decimal integer (at most 18 digits).
    public var decimalValue: Int? {
        guard count > 0 && count <= 18 else { return nil }
        var n = 0
        for b in self {
            guard isDigit(b) else { return nil }
            n = n * 10 + Int(b - 0x30)
        }
        return n
    }

    /// The bytes as a String (allocates; for tests, logs and slow paths).
    public var string: String { String(decoding: self, as: UTF8.self) }
}
