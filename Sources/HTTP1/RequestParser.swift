import CSwitchyardSIMD
import Glibc

/// The result of feeding bytes to a parser.
enum ParseOutcome: Equatable {
    /// The bytes so far are a valid prefix; call again with more.
    case needMore
    /// A complete head (or body) is available.
    case complete
    /// The request is invalid: answer with this status and close the connection.
    case failure(HTTPStatus)
}

/// Incremental parser of a request head (request line and header section).
///
/// It works a line at a time and remembers how far it has scanned, so bytes
/// that arrive later continue the scan where it stopped: a request split at
/// any byte boundary parses identically and nothing is rescanned from the
/// start. Fields are recorded as offsets into caller-owned slots: no
/// allocation per request. All offsets are relative to the request's first
/// byte, so the session may move the unconsumed bytes between calls.
///
/// Validation is strict (RFC 9112 / RFC 9110): lines must end in CRLF, field
/// names must be tokens with no whitespace before the colon, values may not
/// hold controls, obs-fold is rejected, framing headers are cross-checked.
struct RequestParser {
    /// The byte scanners (`--parser-simd`). The limits themselves are not
    /// stored: the session holds the one copy and passes it in.
    let simd: ParserSIMD
    // safety: `limits.maxFieldCount` slots lent to the session that owns
    // this parser by its loop's pool; the session re-points it whenever it
    // takes the storage back from the pool, and parses only while it holds it.
    var fields: UnsafeMutablePointer<FieldSlot>
    /// The byte table (C's; reading it has no lazy initialization).
    var classes: ByteClasses { .shared }

    private(set) var head = RequestHead()

    private enum Phase { case requestLine, fields, done }
    private var phase = Phase.requestLine
    /// Start of the line being assembled.
    private var lineStart = 0
    /// Bytes before this offset have been searched for LF already.
    private var scanned = 0
    /// Where the header section begins (after the request line).
    private var sectionStart = 0

    // Framing headers, cross-checked when the head ends.
    private var contentLength = -1
    private var transferEncodingSeen = false
    private var chunkedCount = 0
    private var lastCodingIsChunked = false
    private var unsupportedCoding = false
    private var unsupportedExpectation = false

    /// Inlined: `reset` then builds the fresh parser in place, where a call
    /// built it on the stack and copied its 171 bytes over (a memcpy per
    /// request).
    @inline(__always)
    init(simd: ParserSIMD, fields: UnsafeMutablePointer<FieldSlot>) {
        self.simd = simd
        self.fields = fields
    }

    /// Forget the previous request; the fields storage is reused.
    @inline(__always)
    mutating func reset() {
        self = RequestParser(simd: simd, fields: fields)
    }

    /// True when no byte of a new request has been looked at.
    var isAtStart: Bool { phase == .requestLine && scanned == 0 }

    /// Parses the head from `p` (the request's first byte) and `count` bytes.
    @inline(__always)
    mutating func parseHead(_ p: UnsafeRawPointer, count: Int, limits: borrowing HTTPLimits) -> ParseOutcome {
        // A complete head of the common shape, read in one pass; anything
        // else (and every later call on a head that arrived in pieces) goes
        // line by line. Inlined into the session, with the line loop apart:
        // the common case then makes one call, not two.
        if isAtStart, let outcome = parseWholeHead(p, count: count, limits) { return outcome }
        return parseLines(p, count: count, limits: limits)
    }

    /// The line-at-a-time parser, for whatever the fast path did not take.
    @inline(never)
    private mutating func parseLines(_ p: UnsafeRawPointer, count: Int, limits: borrowing HTTPLimits) -> ParseOutcome {
        while phase != .done {
            let searchFrom = scanned
            let lf = searchFrom < count ? searchFrom + simd.findLF(p + searchFrom, count - searchFrom) : count
            guard lf < count else {
                scanned = count
                // A CR already here belongs to the line end, not the line.
                let pendingCR = p.load(fromByteOffset: count - 1, as: UInt8.self) == 0x0D ? 1 : 0
                return limitFailure(pendingLineLength: count - lineStart - pendingCR, buffered: count - pendingCR, limits) ?? .needMore
            }
            scanned = lf + 1
            // RFC 9112 section 2.2 lets a recipient accept a bare LF; we do
            // not, because servers that disagree on line ends enable smuggling.
            let hasCR = lf > lineStart && p.load(fromByteOffset: lf - 1, as: UInt8.self) == 0x0D
            // Limits first, as for a line still arriving, so the status does
            // not depend on whether the LF came in the same read.
            if let failure = limitFailure(pendingLineLength: lf - lineStart - (hasCR ? 1 : 0), buffered: lf + 1, limits) {
                return failure
            }
            guard hasCR else { return .failure(.badRequest) }
            let line = UnsafeRawBufferPointer(start: p + lineStart, count: lf - 1 - lineStart)
            let lineOffset = lineStart
            lineStart = lf + 1
            switch phase {
            case .requestLine:
                // A server SHOULD ignore empty lines before the request line
                // (RFC 9112 section 2.2); the line limit bounds how many.
                if line.count == 0 {
                    if lineStart > limits.maxRequestLineBytes { return .failure(.badRequest) }
                    continue
                }
                if let failure = parseRequestLine(line, at: lineOffset) { return failure }
                phase = .fields
                sectionStart = lineStart
            case .fields:
                if line.count == 0 {
                    phase = .done
                    head.headLength = lineStart
                    return finishHead(limits)
                }
                if let failure = parseField(line, at: lineOffset, maxFieldCount: limits.maxFieldCount) { return failure }
            case .done:
                break
            }
        }
        return .complete
    }

    /// The fast path: `simd.parseHead` checked the syntax and the limits of
    /// every line and wrote the field slots; what is left is what the line
    /// parser does after a line is valid, in the same order (the method,
    /// then each field's meaning, then the cross-checks), so the outcome is
    /// the same as parsing the bytes line by line. Nil: not handled here.
    @inline(__always)  // one caller, parseHead, itself inlined into the session's step
    private mutating func parseWholeHead(_ p: UnsafeRawPointer, count: Int, _ limits: borrowing HTTPLimits) -> ParseOutcome? {
        var fast = cswitchyard_head()
        guard simd.parseHead(p, count, limits, fields, &fast) else { return nil }
        let methodLength = Int(fast.method_length)
        let method: HTTPMethod
        // GET, the usual method, as one compare of "GET " (the request
        // line has at least the SP and "/" after the method).
        if methodLength == 3 && p.loadUnaligned(as: UInt32.self) == 0x2054_4547 {
            method = .get
        } else if let other = HTTPMethod(token: UnsafeRawBufferPointer(start: p, count: methodLength)) {
            method = other
        } else {
            return .failure(.notImplemented)
        }
        if method == .connect { return .failure(.notImplemented) }
        head.method = method
        head.version = fast.minor == 0 ? .http10 : .http11
        let targetStart = methodLength + 1, targetLength = Int(fast.target_length), query = Int(fast.query_offset)
        head.targetStart = targetStart
        head.targetLength = targetLength
        head.pathStart = targetStart
        head.pathLength = query
        if query < targetLength {
            head.queryStart = targetStart + query + 1
            head.queryLength = targetLength - query - 1
        }
        let fieldCount = Int(fast.field_count)
        head.fieldCount = fieldCount
        // Host lines were counted and checked in C; what is left for
        // `interpret` is the fields that may be framing or connection
        // fields. Every failure `interpret` can give is 400, so the order
        // in which they are found does not change the answer.
        head.hostCount = Int(fast.host_count)
        if fast.host_invalid != 0 { return .failure(.badRequest) }
        if fast.special_overflow == 0 {
            var special = fast.special
            while special != 0 {
                let i = special.trailingZeroBitCount
                special &= special - 1
                if let failure = interpretField(i, p) { return failure }
            }
        } else {
            for i in 0..<fieldCount where fields[i].nameLength != 4 {  // Host is done
                if let failure = interpretField(i, p) { return failure }
            }
        }
        let headLength = Int(fast.head_length)
        phase = .done
        head.headLength = headLength
        scanned = headLength
        lineStart = headLength
        return finishHead(limits)
    }

    @inline(__always)
    private mutating func interpretField(_ i: Int, _ p: UnsafeRawPointer) -> ParseOutcome? {
        let slot = fields[i]
        let name = UnsafeRawBufferPointer(start: p + Int(slot.nameStart), count: Int(slot.nameLength))
        let value = UnsafeRawBufferPointer(start: p + Int(slot.valueStart), count: Int(slot.valueLength))
        return interpret(name: name, value: value)
    }

    /// Checks the size limits for the line being assembled and the section.
    private func limitFailure(pendingLineLength: Int, buffered: Int, _ limits: borrowing HTTPLimits) -> ParseOutcome? {
        switch phase {
        case .requestLine:
            if pendingLineLength > limits.maxRequestLineBytes { return .failure(.uriTooLong) }
        case .fields:
            if pendingLineLength > limits.maxFieldBytes { return .failure(.headerFieldsTooLarge) }
            if buffered - sectionStart > limits.maxHeaderBytes + 2 { return .failure(.headerFieldsTooLarge) }
        case .done:
            break
        }
        return nil
    }

    // MARK: request line

    /// method SP request-target SP HTTP-version (RFC 9112 section 3).
    private mutating func parseRequestLine(_ line: UnsafeRawBufferPointer, at offset: Int) -> ParseOutcome? {
        let base = line.baseAddress!
        var i = simd.tokenRun(base, line.count)
        let methodEnd = i
        guard methodEnd > 0, i < line.count, line[i] == 0x20 else { return .failure(.badRequest) }
        i += 1
        let targetStart = i
        i += simd.targetRun(base + i, line.count - i)
        let targetEnd = i
        guard targetEnd > targetStart, i < line.count, line[i] == 0x20 else { return .failure(.badRequest) }
        i += 1
        // HTTP-version = "HTTP/" DIGIT "." DIGIT, exactly, to the end of the line.
        guard line.count - i == 8,
              line[i] == 0x48, line[i + 1] == 0x54, line[i + 2] == 0x54, line[i + 3] == 0x50,
              line[i + 4] == 0x2F, line[i + 6] == 0x2E,
              isDigit(line[i + 5]), isDigit(line[i + 7])
        else { return .failure(.badRequest) }
        let major = line[i + 5] - 0x30, minor = line[i + 7] - 0x30
        guard major == 1 else { return .failure(.versionNotSupported) }
        head.version = minor == 0 ? .http10 : .http11

        guard let method = HTTPMethod(token: UnsafeRawBufferPointer(rebasing: line[0..<methodEnd])) else {
            return .failure(.notImplemented)
        }
        // We are an origin server, not a proxy: no tunnels.
        if method == .connect { return .failure(.notImplemented) }
        head.method = method
        head.targetStart = offset + targetStart
        head.targetLength = targetEnd - targetStart
        return parseTarget(UnsafeRawBufferPointer(rebasing: line[targetStart..<targetEnd]), at: offset + targetStart)
    }

    /// Splits the target into path and query; accepts origin-form,
    /// absolute-form (http/https) and asterisk-form for OPTIONS.
    private mutating func parseTarget(_ target: UnsafeRawBufferPointer, at offset: Int) -> ParseOutcome? {
        var pathStart = 0
        if target[0] == 0x2F {
            pathStart = 0
        } else if target.count == 1 && target[0] == 0x2A {  // "*"
            guard head.method == .options else { return .failure(.badRequest) }
            head.pathStart = offset
            head.pathLength = 1
            return nil
        } else {
            // absolute-form: scheme "://" authority [path] ["?" query]
            let scheme: Int
            if startsWithLowercase(target, "http://") { scheme = 7 }
            else if startsWithLowercase(target, "https://") { scheme = 8 }
            else { return .failure(.badRequest) }
            var j = scheme
            while j < target.count && target[j] != 0x2F && target[j] != 0x3F { j += 1 }
            guard j > scheme else { return .failure(.badRequest) }  // empty authority
            pathStart = j
        }
        var q = pathStart
        while q < target.count && target[q] != 0x3F { q += 1 }
        head.pathStart = offset + pathStart
        head.pathLength = q - pathStart  // 0: absolute-form without path, which means "/"
        if q < target.count {
            head.queryStart = offset + q + 1
            head.queryLength = target.count - q - 1
        }
        return nil
    }

    // MARK: header fields

    /// field-name ":" OWS field-value OWS (RFC 9112 section 5).
    private mutating func parseField(_ line: UnsafeRawBufferPointer, at offset: Int, maxFieldCount: Int) -> ParseOutcome? {
        guard let (nameLength, valueStart, valueEnd) = Self.splitField(line, simd) else { return .failure(.badRequest) }
        guard head.fieldCount < maxFieldCount else { return .failure(.headerFieldsTooLarge) }
        fields[head.fieldCount] = FieldSlot(
            nameStart: UInt32(offset), nameLength: UInt32(nameLength),
            valueStart: UInt32(offset + valueStart), valueLength: UInt32(valueEnd - valueStart))
        head.fieldCount += 1
        let name = UnsafeRawBufferPointer(rebasing: line[0..<nameLength])
        let value = UnsafeRawBufferPointer(rebasing: line[valueStart..<valueEnd])
        return interpret(name: name, value: value)
    }

    /// Validates one field line; returns the name length and the trimmed
    /// value's bounds, or nil when the line is malformed. Also used for trailers.
    @inline(__always)
    static func splitField(_ line: UnsafeRawBufferPointer, _ simd: ParserSIMD) -> (Int, Int, Int)? {
        guard let base = line.baseAddress else { return nil }
        let i = simd.tokenRun(base, line.count)
        // Rejects an empty name, whitespace before the colon, obs-fold (a
        // line starting with whitespace) and a line without a colon.
        guard i > 0, i < line.count, line[i] == 0x3A else { return nil }
        let nameLength = i
        var start = i + 1
        var end = line.count
        while start < end && isWhitespace(line[start]) { start += 1 }
        // Whitespace is a field-value byte, so the run covers it too.
        guard simd.valueRun(base + start, end - start) == end - start else { return nil }
        while end > start && isWhitespace(line[end - 1]) { end -= 1 }
        return (nameLength, start, end)
    }

    /// Records what the framing and connection-management fields say.
    private mutating func interpret(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> ParseOutcome? {
        switch name.count {
        case 4 where equalsLowercase(name, "host"):
            head.hostCount += 1
            for b in value where !classes.isHost(b) { return .failure(.badRequest) }
        case 6 where equalsLowercase(name, "expect"):
            if equalsLowercase(value, "100-continue") { head.expectContinue = true } else { unsupportedExpectation = true }
        case 10 where equalsLowercase(name, "connection"):
            forEachListElement(value) { token in
                if equalsLowercase(token, "close") { head.connectionClose = true }
                else if equalsLowercase(token, "keep-alive") { head.connectionKeepAlive = true }
                return true
            }
        case 14 where equalsLowercase(name, "content-length"):
            return parseContentLength(value)
        case 17 where equalsLowercase(name, "transfer-encoding"):
            transferEncodingSeen = true
            let wellFormed = forEachListElement(value) { element in
                // transfer-coding = token *( OWS ";" OWS transfer-parameter )
                var n = 0
                while n < element.count && classes.isToken(element[n]) { n += 1 }
                guard n > 0 else { return false }
                let coding = UnsafeRawBufferPointer(rebasing: element[0..<n])
                if equalsLowercase(coding, "chunked") {
                    chunkedCount += 1
                    lastCodingIsChunked = n == element.count
                } else {
                    unsupportedCoding = true  // gzip, deflate...: we decode only chunked
                    lastCodingIsChunked = false
                }
                return true
            }
            if !wellFormed { return .failure(.badRequest) }
        default:
            break
        }
        return nil
    }

    /// Content-Length = 1*DIGIT (RFC 9110 section 8.6), once. A list, even
    /// of identical values (`1000,1000`), and a second Content-Length line
    /// are rejected with 400, though section 8.6 lets a recipient fold
    /// identical values into one: a front end that reads such a field
    /// differently (first value, last value, invalid) would frame the
    /// request differently from us, which is how requests get smuggled, and
    /// RFC 9112 section 6.3 makes an invalid length an unrecoverable error.
    /// nginx refuses the duplicate line the same way. A sign, a hex digit or
    /// more than 18 significant digits is an error too (leading zeros are
    /// digits like any other).
    private mutating func parseContentLength(_ value: UnsafeRawBufferPointer) -> ParseOutcome? {
        guard contentLength < 0, value.count > 0 else { return .failure(.badRequest) }
        var n = 0
        for b in value {
            guard isDigit(b), n < 100_000_000_000_000_000 else { return .failure(.badRequest) }
            n = n * 10 + Int(b - 0x30)
        }
        contentLength = n
        return nil
    }

    /// Cross-checks the head once the blank line arrived.
    @inline(__always)
    private mutating func finishHead(_ limits: borrowing HTTPLimits) -> ParseOutcome {
        if head.version == .http11 && head.hostCount != 1 { return .failure(.badRequest) }
        if head.hostCount > 1 { return .failure(.badRequest) }
        if transferEncodingSeen {
            // Both framings at once is a smuggling vector (RFC 9112 section 6.3);
            // HTTP/1.0 has no chunked framing, so its TE means faulty framing.
            if contentLength >= 0 || head.version == .http10 { return .failure(.badRequest) }
            if !lastCodingIsChunked || chunkedCount != 1 { return .failure(.badRequest) }
            if unsupportedCoding { return .failure(.notImplemented) }
            head.framing = .chunked
        } else if contentLength > limits.maxBodyBytes {
            return .failure(.contentTooLarge)
        } else if contentLength > 0 {
            head.framing = .contentLength(contentLength)
        }
        if unsupportedExpectation { return .failure(.expectationFailed) }
        return .complete
    }
}

@inline(__always) func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

@inline(__always)
func startsWithLowercase(_ bytes: UnsafeRawBufferPointer, _ prefix: StaticString) -> Bool {
    let n = prefix.utf8CodeUnitCount
    guard bytes.count >= n else { return false }
    return equalsLowercase(UnsafeRawBufferPointer(rebasing: bytes[0..<n]), prefix)
}

/// Calls `body` with each element of a comma-separated list, trimmed of
/// optional whitespace. Empty elements are skipped (RFC 9110 section 5.6.1)
/// unless `allowEmpty` is false. Returns false if `body` did.
@discardableResult
@inline(__always)
func forEachListElement(_ value: UnsafeRawBufferPointer, allowEmpty: Bool = true,
                        _ body: (UnsafeRawBufferPointer) -> Bool) -> Bool {
    var start = 0
    while start <= value.count {
        var end = start
        while end < value.count && value[end] != 0x2C { end += 1 }
        var a = start, b = end
        while a < b && isWhitespace(value[a]) { a += 1 }
        while b > a && isWhitespace(value[b - 1]) { b -= 1 }
        if a < b {
            if !body(UnsafeRawBufferPointer(rebasing: value[a..<b])) { return false }
        } else if !allowEmpty {
            return false
        }
        start = end + 1
    }
    return true
}
