import Glibc

/// Decodes a chunked body in place (RFC 9112 section 7.1).
///
/// Chunk data is moved down over the framing that preceded it, so the decoded
/// body ends up contiguous right after the head, in the same buffer, without a
/// second buffer or an allocation. Framing is scanned once: the decoder keeps
/// its state between calls and resumes at `scan`.
///
/// Offsets are relative to the request's first byte, like the head parser's.
struct ChunkedDecoder {
    /// The byte scanners for trailer fields; the limits are passed in.
    let simd: ParserSIMD
    /// The byte table (C's; reading it has no lazy initialization).
    var classes: ByteClasses { .shared }

    private enum State {
        case size          // reading hex digits
        case extensions    // after ';' (or whitespace) until CR
        case sizeLF        // CR seen at the end of the size line
        case data(Int)     // this many data bytes left in the chunk
        case dataCR, dataLF
        case trailers      // field lines until an empty line
        case done
    }
    private var state = State.size
    /// Next byte to look at.
    private(set) var scan = 0
    /// End of the decoded body; it starts at the head's end.
    private(set) var bodyEnd = 0
    private var bodyStart = 0
    private var size = 0
    private var digits = 0
    private var sawSemicolon = false
    private var lineStart = 0
    private var trailerBytes = 0
    private var trailerCount = 0

    init(simd: ParserSIMD) { self.simd = simd }

    mutating func start(at headLength: Int) {
        self = ChunkedDecoder(simd: simd)
        scan = headLength
        bodyEnd = headLength
        bodyStart = headLength
        lineStart = headLength
    }

    /// Bytes of consumed framing between the body's end and the first byte
    /// still needed; the session may cut them out to save buffer space.
    var reclaimable: (from: Int, count: Int) {
        if case .trailers = state { return (bodyEnd, lineStart - bodyEnd) }
        return (bodyEnd, scan - bodyEnd)
    }

    /// Called after the session cut `count` reclaimable bytes out of the buffer.
    mutating func didReclaim(_ count: Int) {
        scan -= count
        lineStart -= count
    }

    /// Decodes what is available in `p[0..<count]` (the whole request so far).
    mutating func decode(_ p: UnsafeMutableRawPointer, count: Int, limits: borrowing HTTPLimits) -> ParseOutcome {
        while scan < count {
            switch state {
            case .size:
                let b = p.load(fromByteOffset: scan, as: UInt8.self)
                if let v = hexValue(b) {
                    // 15 significant hex digits already exceed any body
                    // limit; more is overflow. Leading zeros are digits
                    // like any other (chunk-size = 1*HEXDIG, RFC 9112 §7.1).
                    guard size >> 56 == 0 else { return .failure(.badRequest) }
                    size = size << 4 | v
                    digits += 1
                } else {
                    guard digits > 0 else { return .failure(.badRequest) }
                    if b == 0x0D { state = .sizeLF }
                    else if b == 0x3B { sawSemicolon = true; state = .extensions }
                    else if isWhitespace(b) { sawSemicolon = false; state = .extensions }  // BWS before ';'
                    else { return .failure(.badRequest) }
                }
                scan += 1
            case .extensions:
                // chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] ); we
                // accept any printable extension and ignore it.
                let b = p.load(fromByteOffset: scan, as: UInt8.self)
                if b == 0x0D {
                    guard sawSemicolon else { return .failure(.badRequest) }
                    state = .sizeLF
                } else if b == 0x3B {
                    sawSemicolon = true
                } else if !sawSemicolon && !isWhitespace(b) {
                    return .failure(.badRequest)
                } else if !classes.isFieldValue(b) {
                    return .failure(.badRequest)
                }
                scan += 1
                if scan - lineStart > 4096 { return .failure(.badRequest) }
            case .sizeLF:
                guard p.load(fromByteOffset: scan, as: UInt8.self) == 0x0A else { return .failure(.badRequest) }
                scan += 1
                if size == 0 {
                    state = .trailers
                    lineStart = scan
                } else {
                    guard bodyEnd - bodyStart + size <= limits.maxBodyBytes else { return .failure(.contentTooLarge) }
                    state = .data(size)
                }
            case .data(let remaining):
                let n = min(remaining, count - scan)
                if scan != bodyEnd { memmove(p + bodyEnd, p + scan, n) }
                bodyEnd += n
                scan += n
                state = remaining == n ? .dataCR : .data(remaining - n)
            case .dataCR:
                guard p.load(fromByteOffset: scan, as: UInt8.self) == 0x0D else { return .failure(.badRequest) }
                scan += 1
                state = .dataLF
            case .dataLF:
                guard p.load(fromByteOffset: scan, as: UInt8.self) == 0x0A else { return .failure(.badRequest) }
                scan += 1
                state = .size
                size = 0
                digits = 0
                lineStart = scan
            case .trailers:
                guard let hit = memchr(p + scan, 0x0A, count - scan) else {
                    scan = count
                    let pendingCR = p.load(fromByteOffset: count - 1, as: UInt8.self) == 0x0D ? 1 : 0
                    if count - lineStart - pendingCR > limits.maxFieldBytes { return .failure(.headerFieldsTooLarge) }
                    return .needMore
                }
                let lf = UnsafeRawPointer(hit) - UnsafeRawPointer(p)
                let hasCR = lf > lineStart && p.load(fromByteOffset: lf - 1, as: UInt8.self) == 0x0D
                if lf - lineStart - (hasCR ? 1 : 0) > limits.maxFieldBytes { return .failure(.headerFieldsTooLarge) }
                guard hasCR else { return .failure(.badRequest) }
                let line = UnsafeRawBufferPointer(start: p + lineStart, count: lf - 1 - lineStart)
                scan = lf + 1
                lineStart = scan
                if line.count == 0 {
                    state = .done
                    return .complete
                }
                // Trailer fields are validated like header fields, then dropped.
                trailerBytes += line.count + 2
                trailerCount += 1
                guard line.count <= limits.maxFieldBytes, trailerBytes <= limits.maxHeaderBytes,
                      trailerCount <= limits.maxFieldCount
                else { return .failure(.headerFieldsTooLarge) }
                guard RequestParser.splitField(line, simd) != nil else { return .failure(.badRequest) }
            case .done:
                return .complete
            }
        }
        if case .done = state { return .complete }
        return .needMore
    }

    /// The decoded body, relative to the request start.
    var body: Range<Int> { bodyStart..<bodyEnd }
}

@inline(__always)
func hexValue(_ b: UInt8) -> Int? {
    switch b {
    case 0x30...0x39: Int(b - 0x30)
    case 0x41...0x46: Int(b - 0x41 + 10)
    case 0x61...0x66: Int(b - 0x61 + 10)
    default: nil
    }
}
