/// An incremental HTTP/1.1 response parser that only learns what a load
/// generator needs: where each response ends, its status, and whether the
/// server will close the connection. Sans-I/O: bytes in, outcomes out.
///
/// Lines (status, headers, chunk sizes, trailers) are read in place from the
/// caller's buffer; only a line split across two reads is copied, into
/// `carry`, whose capacity is reserved once. Bodies are skipped by counting.
struct ResponseParser {
    enum Outcome: Equatable {
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

    private var state = State.statusLine
    private var status = 0
    private var contentLength = -1
    private var chunked = false
    private var close = false
    /// Body or chunk bytes still to skip.
    private var remaining = 0
    /// The start of a line whose end has not arrived yet.
    private var carry: [UInt8] = []

    init() { carry.reserveCapacity(256) }

    /// Forgets any partial response (after a reconnect), keeping capacity.
    mutating func reset() {
        state = .statusLine
        carry.removeAll(keepingCapacity: true)
    }

    /// True if no response is partly parsed.
    var isIdle: Bool { state == .statusLine && carry.isEmpty }

    /// Parses from the start of `input` until one response ends, the input
    /// runs out, or an error; returns the bytes consumed and the outcome.
    mutating func parse(_ input: UnsafeRawBufferPointer) -> (consumed: Int, outcome: Outcome) {
        var i = 0
        let n = input.count
        while i < n {
            switch state {
            case .body, .chunkData:
                let take = min(remaining, n - i)
                remaining -= take
                i += take
                if remaining == 0 {
                    if state == .body { return (i, finish()) }
                    state = .chunkDataEnd
                }
            case .untilClose:
                return (n, .needMore)
            default:
                // safety: i < n, so the search range lies inside `input`.
                guard let newline = Self.find(UInt8(ascii: "\n"), in: input, from: i) else {
                    guard carry.count + (n - i) <= Self.maxLine else { return (n, .malformed) }
                    carry.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[i..<n]))
                    return (n, .needMore)
                }
                let lineOutcome: Outcome?
                if carry.isEmpty {
                    lineOutcome = line(UnsafeRawBufferPointer(rebasing: input[i..<newline]))
                } else {
                    guard carry.count + (newline - i) <= Self.maxLine else { return (n, .malformed) }
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
    mutating func endOfInput() -> Outcome {
        if state == .untilClose { return finish() }
        return isIdle ? .needMore : .malformed
    }

    private mutating func finish() -> Outcome {
        state = .statusLine
        return .response(status: status, close: close)
    }

    /// Handles one line (without its "\n"); nil means keep going.
    private mutating func line(_ raw: UnsafeRawBufferPointer) -> Outcome? {
        // A trailing "\r" is tolerated but not required.
        var end = raw.count
        if end > 0 && raw[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        let text = UnsafeRawBufferPointer(rebasing: raw[0..<end])
        switch state {
        case .statusLine:
            // Stray blank lines between responses are harmless.
            if text.isEmpty { return nil }
            return statusLine(text)
        case .headers:
            if text.isEmpty { return headersEnded() }
            return header(text)
        case .chunkSize:
            guard let size = Self.hex(text) else { return .malformed }
            if size == 0 {
                state = .trailers
            } else {
                remaining = size
                state = .chunkData
            }
            return nil
        case .chunkDataEnd:
            guard text.isEmpty else { return .malformed }
            state = .chunkSize
            return nil
        case .trailers:
            return text.isEmpty ? finish() : nil
        case .body, .chunkData, .untilClose:
            return nil
        }
    }

    private mutating func statusLine(_ text: UnsafeRawBufferPointer) -> Outcome? {
        // "HTTP/1.x NNN" at least; the reason phrase is ignored.
        let prefix: StaticString = "HTTP/1."
        guard text.count >= 12 else { return .malformed }
        for k in 0..<7 where text[k] != prefix.utf8Start[k] { return .malformed }
        let minor = text[7]
        guard minor == UInt8(ascii: "0") || minor == UInt8(ascii: "1"), text[8] == UInt8(ascii: " ") else {
            return .malformed
        }
        var code = 0
        for k in 9..<12 {
            let digit = Int(text[k]) - 48
            guard (0...9).contains(digit) else { return .malformed }
            code = code * 10 + digit
        }
        guard code >= 100 else { return .malformed }
        status = code
        contentLength = -1
        chunked = false
        // HTTP/1.0 closes unless it says keep-alive; good enough to treat as close.
        close = minor == UInt8(ascii: "0")
        state = .headers
        return nil
    }

    private mutating func header(_ text: UnsafeRawBufferPointer) -> Outcome? {
        guard let colon = Self.find(UInt8(ascii: ":"), in: text, from: 0) else { return .malformed }
        let name = UnsafeRawBufferPointer(rebasing: text[0..<colon])
        var start = colon + 1
        var end = text.count
        while start < end && (text[start] == 32 || text[start] == 9) { start += 1 }
        while end > start && (text[end - 1] == 32 || text[end - 1] == 9) { end -= 1 }
        let value = UnsafeRawBufferPointer(rebasing: text[start..<end])
        if Self.equalsLowercase(name, "content-length") {
            guard let length = Self.decimal(value) else { return .malformed }
            contentLength = length
        } else if Self.equalsLowercase(name, "transfer-encoding") {
            if Self.containsLowercase(value, "chunked") { chunked = true }
        } else if Self.equalsLowercase(name, "connection") {
            if Self.containsLowercase(value, "close") { close = true }
        }
        return nil
    }

    private mutating func headersEnded() -> Outcome? {
        if status < 200 {
            // Interim (1xx): the real response follows.
            state = .statusLine
            return nil
        }
        if status == 204 || status == 304 { return finish() }
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

    /// A chunk size: hex digits, then optional ";extensions" or spaces.
    private static func hex(_ text: UnsafeRawBufferPointer) -> Int? {
        var value = 0
        var digits = 0
        for byte in text {
            let digit: Int
            switch byte {
            case 48...57: digit = Int(byte) - 48
            case 97...102: digit = Int(byte) - 87
            case 65...70: digit = Int(byte) - 55
            case UInt8(ascii: ";"), UInt8(ascii: " "), 9:
                return digits > 0 ? value : nil
            default: return nil
            }
            digits += 1
            guard digits <= 15 else { return nil }
            value = value * 16 + digit
        }
        return digits > 0 ? value : nil
    }
}
