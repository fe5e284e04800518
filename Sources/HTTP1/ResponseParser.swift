/// The one incremental HTTP/1.x response parser: the load generator, the
/// sweep's probe, `HTTPReplay`'s conformance reader and the test client use
/// it, and an upstream client will. Sans-I/O: bytes in, outcomes out.
///
/// By default it learns only what a load generator needs (where each
/// response ends, its status, whether the server will close) and allocates
/// nothing per response: lines (status, headers, chunk sizes, trailers) are
/// read in place from the caller's buffer, only a line split across two
/// reads is copied, into `carry`, whose capacity is reserved once, and
/// bodies are skipped by counting. Two options add what other users need:
///
/// - `capturing`: the reason phrase, header fields and (decoded) body of the
///   response that just ended, in `captured` (allocates; not for the load path);
/// - `strict`: RFC 9112 framing as a server must write it, for checking one:
///   CRLF line ends and no bare CR, `HTTP/1.1 NNN reason`, no space in field
///   names, exactly one framing (one Content-Length, or chunked alone), no
///   chunk extensions or trailers, no unframed (read-until-close) final
///   response, no framing fields on 204/304. `failure` says what broke.
///
/// Interim (1xx) responses are skipped, or with `reportingInterim` returned
/// as responses of their own. `nextAnswersHead()` says the next final
/// response answers HEAD: it has no body, whatever its fields say.
public struct ResponseParser {
    public enum Outcome: Equatable, Sendable {
        /// Every byte given was consumed; more input is needed.
        case needMore
        /// One response ended; `consumed` bytes of the input were used.
        case response(status: Int, close: Bool)
        /// Not HTTP/1.x, or a framing error: the connection must be dropped.
        case malformed
    }

    private enum State {
        case statusLine, headers, body, chunkSize, chunkData, chunkDataEnd, trailers, untilClose
    }

    /// Longest line accepted; longer ones are treated as garbage.
    static let maxLine = 8192

    /// What `capturing` keeps of the response that just ended.
    public struct Captured {
        public var status = 0
        public var reason = ""
        public var headers: [(name: String, value: String)] = []
        /// The body, chunk framing removed.
        public var body: [UInt8] = []

        /// The first field named `name` (ASCII case-insensitive).
        public func header(_ name: String) -> String? {
            let wanted = name.lowercased()
            return headers.first { $0.name.lowercased() == wanted }?.value
        }

        /// Every field named `name`, in order.
        public func headers(named name: String) -> [String] {
            let wanted = name.lowercased()
            return headers.filter { $0.name.lowercased() == wanted }.map(\.value)
        }
    }

    public let strict: Bool
    public let capturing: Bool
    public let reportingInterim: Bool
    /// The response that just ended (`capturing`); valid until the next `parse`
    /// begins another.
    public private(set) var captured = Captured()
    /// Why the last `.malformed` was returned.
    public private(set) var failure = ""

    private var state = State.statusLine
    private var status = 0
    private var contentLength = -1
    private var contentLengthCount = 0
    private var chunked = false
    private var otherCoding = false
    private var close = false
    private var answersHead = false
    /// Body or chunk bytes still to skip.
    private var remaining = 0
    /// The start of a line whose end has not arrived yet.
    private var carry: [UInt8] = []

    public init(strict: Bool = false, capturing: Bool = false, reportingInterim: Bool = false) {
        self.strict = strict
        self.capturing = capturing
        self.reportingInterim = reportingInterim
        carry.reserveCapacity(256)
    }

    /// Forgets any partial response (after a reconnect), keeping capacity.
    public mutating func reset() {
        state = .statusLine
        answersHead = false
        carry.removeAll(keepingCapacity: true)
    }

    /// True if no response is partly parsed.
    public var isIdle: Bool { state == .statusLine && carry.isEmpty }

    /// The current response's head is complete and its body is being read.
    public var isInBody: Bool { state != .statusLine && state != .headers }

    /// The head of a Content-Length response has ended and none of its body
    /// has arrived (a reader at the end of its input may decide it answered
    /// a HEAD it did not know about).
    public var awaitsWholeBody: Bool { state == .body && remaining == contentLength && carry.isEmpty }

    /// The next final response answers a HEAD request: no body follows it.
    public mutating func nextAnswersHead() { answersHead = true }

    /// Parses from the start of `input` until one response ends, the input
    /// runs out, or an error; returns the bytes consumed and the outcome.
    public mutating func parse(_ input: UnsafeRawBufferPointer) -> (consumed: Int, outcome: Outcome) {
        var i = 0
        let n = input.count
        while i < n {
            switch state {
            case .body, .chunkData:
                let take = min(remaining, n - i)
                if capturing { captured.body.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[i..<(i + take)])) }
                remaining -= take
                i += take
                if remaining == 0 {
                    if state == .body { return (i, finish()) }
                    state = .chunkDataEnd
                }
            case .untilClose:
                if capturing { captured.body.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[i..<n])) }
                return (n, .needMore)
            default:
                // safety: i < n, so the search range lies inside `input`.
                guard let newline = Self.find(UInt8(ascii: "\n"), in: input, from: i) else {
                    guard carry.count + (n - i) <= Self.maxLine else { return (n, fail("line longer than \(Self.maxLine) bytes")) }
                    carry.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[i..<n]))
                    return (n, .needMore)
                }
                let lineOutcome: Outcome?
                if carry.isEmpty {
                    lineOutcome = line(UnsafeRawBufferPointer(rebasing: input[i..<newline]))
                } else {
                    guard carry.count + (newline - i) <= Self.maxLine else { return (n, fail("line longer than \(Self.maxLine) bytes")) }
                    carry.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[i..<newline]))
                    // Move the buffer out (an empty array costs nothing) so
                    // `line` may mutate `self` while reading it, then move it
                    // back emptied: its capacity is reused, never reallocated.
                    var joined: [UInt8] = []
                    swap(&joined, &carry)
                    lineOutcome = joined.withUnsafeBytes { line($0) }
                    joined.removeAll(keepingCapacity: true)
                    swap(&carry, &joined)
                }
                i = newline + 1
                if let lineOutcome { return (i, lineOutcome) }
            }
        }
        return (n, .needMore)
    }

    /// The connection reached end of file: a body framed by close ends here.
    public mutating func endOfInput() -> Outcome {
        if state == .untilClose { return finish() }
        return isIdle ? .needMore : fail("the input ended inside a response")
    }

    private mutating func finish() -> Outcome {
        state = .statusLine
        if status >= 200 { answersHead = false }
        return .response(status: status, close: close)
    }

    private mutating func fail(_ why: String) -> Outcome {
        failure = why
        return .malformed
    }

    /// Handles one line (without its "\n"); nil means keep going.
    private mutating func line(_ raw: UnsafeRawBufferPointer) -> Outcome? {
        // A trailing "\r" is tolerated but not required (strict: required,
        // and no other CR in the line).
        var end = raw.count
        if end > 0 && raw[end - 1] == UInt8(ascii: "\r") {
            end -= 1
        } else if strict {
            return fail("a line ends in a bare LF")
        }
        let text = UnsafeRawBufferPointer(rebasing: raw[0..<end])
        if strict && Self.find(UInt8(ascii: "\r"), in: text, from: 0) != nil { return fail("a bare CR inside a line") }
        switch state {
        case .statusLine:
            // Stray blank lines between responses are harmless (not from a server, strictly).
            if text.isEmpty { return strict ? fail("a blank line where a status line belongs") : nil }
            return statusLine(text)
        case .headers:
            if text.isEmpty { return headersEnded() }
            return header(text)
        case .chunkSize:
            guard let size = Self.hex(text, extensions: !strict) else { return fail("bad chunk size line") }
            if size == 0 {
                state = .trailers
            } else {
                remaining = size
                state = .chunkData
            }
            return nil
        case .chunkDataEnd:
            guard text.isEmpty else { return fail("chunk data not followed by CRLF") }
            state = .chunkSize
            return nil
        case .trailers:
            if !text.isEmpty && strict { return fail("trailer fields in a response") }
            return text.isEmpty ? finish() : nil
        case .body, .chunkData, .untilClose:
            return nil
        }
    }

    private mutating func statusLine(_ text: UnsafeRawBufferPointer) -> Outcome? {
        // "HTTP/1.x NNN" at least (strict: "HTTP/1.1 NNN reason").
        let prefix: StaticString = "HTTP/1."
        guard text.count >= 12 else { return fail("bad status line") }
        for k in 0..<7 where text[k] != prefix.utf8Start[k] { return fail("bad status line") }
        let minor = text[7]
        guard minor == UInt8(ascii: "0") || minor == UInt8(ascii: "1"), text[8] == UInt8(ascii: " ") else {
            return fail("bad status line")
        }
        var code = 0
        for k in 9..<12 {
            let digit = Int(text[k]) - 48
            guard (0...9).contains(digit) else { return fail("bad status code") }
            code = code * 10 + digit
        }
        guard code >= 100 else { return fail("bad status code") }
        if strict {
            guard minor == UInt8(ascii: "1"), text.count >= 13, text[12] == UInt8(ascii: " ") else {
                return fail("status line is not \"HTTP/1.1 NNN reason\"")
            }
        }
        if capturing {
            captured = Captured()
            captured.status = code
            if text.count > 13 { captured.reason = String(decoding: UnsafeRawBufferPointer(rebasing: text[13...]), as: UTF8.self) }
        }
        status = code
        contentLength = -1
        contentLengthCount = 0
        chunked = false
        otherCoding = false
        // HTTP/1.0 closes unless it says keep-alive; good enough to treat as close.
        close = minor == UInt8(ascii: "0")
        state = .headers
        return nil
    }

    private mutating func header(_ text: UnsafeRawBufferPointer) -> Outcome? {
        guard let colon = Self.find(UInt8(ascii: ":"), in: text, from: 0), colon > 0 || !strict else { return fail("bad field line") }
        let name = UnsafeRawBufferPointer(rebasing: text[0..<colon])
        if strict && (Self.find(UInt8(ascii: " "), in: name, from: 0) != nil || Self.find(9, in: name, from: 0) != nil) {
            return fail("whitespace in a field name")
        }
        var start = colon + 1
        var end = text.count
        while start < end && (text[start] == 32 || text[start] == 9) { start += 1 }
        while end > start && (text[end - 1] == 32 || text[end - 1] == 9) { end -= 1 }
        let value = UnsafeRawBufferPointer(rebasing: text[start..<end])
        if capturing {
            captured.headers.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
        }
        if Self.equalsLowercase(name, "content-length") {
            guard let length = Self.decimal(value) else { return fail("bad Content-Length") }
            contentLength = length
            contentLengthCount += 1
        } else if Self.equalsLowercase(name, "transfer-encoding") {
            if strict ? Self.equalsLowercase(value, "chunked") : Self.containsLowercase(value, "chunked") {
                chunked = true
            } else {
                otherCoding = true
            }
        } else if Self.equalsLowercase(name, "connection") {
            if Self.containsLowercase(value, "close") { close = true }
        }
        return nil
    }

    private mutating func headersEnded() -> Outcome? {
        if status < 200 {
            // Interim (1xx): the real response follows.
            state = .statusLine
            return reportingInterim ? .response(status: status, close: false) : nil
        }
        let framed = contentLengthCount > 0 || chunked || otherCoding
        if answersHead {
            if strict && contentLengthCount > 1 { return fail("several Content-Length fields") }
            return finish()
        }
        if status == 204 || status == 304 {
            if strict && (chunked || otherCoding) { return fail("Transfer-Encoding on \(status)") }
            if strict && status == 204 && contentLengthCount > 0 { return fail("Content-Length on 204") }
            return finish()
        }
        if strict {
            if contentLengthCount > 0 && (chunked || otherCoding) { return fail("both Content-Length and Transfer-Encoding") }
            if contentLengthCount > 1 { return fail("several Content-Length fields") }
            if otherCoding { return fail("a Transfer-Encoding other than chunked") }
            if !framed { return fail("a final response without framing (read until close)") }
        }
        if chunked {
            state = .chunkSize
        } else if contentLength > 0 {
            remaining = contentLength
            state = .body
        } else if contentLength == 0 {
            return finish()
        } else {
            state = .untilClose
        }
        return nil
    }

    // MARK: Byte helpers (ASCII only, no allocation)

    private static func find(_ byte: UInt8, in buffer: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var k = start
        while k < buffer.count {
            if buffer[k] == byte { return k }
            k += 1
        }
        return nil
    }

    private static func lower(_ byte: UInt8) -> UInt8 {
        byte >= 65 && byte <= 90 ? byte | 0x20 : byte
    }

    private static func equalsLowercase(_ text: UnsafeRawBufferPointer, _ word: StaticString) -> Bool {
        guard text.count == word.utf8CodeUnitCount else { return false }
        for k in 0..<text.count where lower(text[k]) != word.utf8Start[k] { return false }
        return true
    }

    private static func containsLowercase(_ text: UnsafeRawBufferPointer, _ word: StaticString) -> Bool {
        let m = word.utf8CodeUnitCount
        guard text.count >= m else { return false }
        outer: for s in 0...(text.count - m) {
            for k in 0..<m where lower(text[s + k]) != word.utf8Start[k] { continue outer }
            return true
        }
        return false
    }

    private static func decimal(_ text: UnsafeRawBufferPointer) -> Int? {
        guard !text.isEmpty, text.count <= 18 else { return nil }
        var value = 0
        for byte in text {
            let digit = Int(byte) - 48
            guard (0...9).contains(digit) else { return nil }
            value = value * 10 + digit
        }
        return value
    }

    /// A chunk size: hex digits, then (unless `extensions` is false)
    /// optional ";extensions" or spaces.
    private static func hex(_ text: UnsafeRawBufferPointer, extensions: Bool) -> Int? {
        var value = 0
        var digits = 0
        for byte in text {
            let digit: Int
            switch byte {
            case 48...57: digit = Int(byte) - 48
            case 97...102: digit = Int(byte) - 87
            case 65...70: digit = Int(byte) - 55
            case UInt8(ascii: ";"), UInt8(ascii: " "), 9:
                return digits > 0 && extensions ? value : nil
            default: return nil
            }
            digits += 1
            guard digits <= 15 else { return nil }
            value = value * 16 + digit
        }
        return digits > 0 ? value : nil
    }
}
