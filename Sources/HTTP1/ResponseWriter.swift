import Glibc
import LoopRuntime

/// Serializes one response straight into the connection's output buffer.
///
/// A responder is lent a writer for the duration of one request. Use either
/// the one-call `respond(...)` or the steps `head(_:)`, `header(...)`*, then
/// one `body(...)` / `chunkedBody(...)`. Middleware may `addHeader` before the
/// head is written. Nothing here allocates: static headers and bodies are
/// bytes prepared at start-up, `Date` comes from the loop's cache.
public struct ResponseWriter: ~Copyable {
    // safety: the session owns the output and the loop's date line, and
    // outlives the writer, which exists only during one `respond` call on the
    // session's thread. Pointers, not class references: no retain/release.
    let output: UnsafeMutablePointer<OutputBytes>
    let dateLine: UnsafeRawPointer
    let statusLines: StatusLines

    /// A HEAD request: headers as for GET, no body bytes.
    public let isHead: Bool
    let isHTTP10: Bool
    /// True when the connection closes after this response.
    public private(set) var closeConnection: Bool
    /// The status sent (valid once `head` ran).
    public private(set) var status = HTTPStatus.internalServerError

    enum Stage { case initial, head, done }
    private(set) var stage = Stage.initial
    /// Lines queued by middleware: only the line of each header, 16 bytes.
    private var extraHeaders: InlineArray<4, StaticBytes?> = [nil, nil, nil, nil]
    private var extraCount = 0
    /// The session that lent the writer, for `respondLater`; nil for a
    /// writer that answers a late response (it cannot defer again).
    // safety: the session outlives the writer (see above).
    unowned(unsafe) let session: HTTPSession?
    /// The handler took the response away to answer later (`respondLater`).
    public private(set) var isDeferred = false

    init(output: UnsafeMutablePointer<OutputBytes>, dateLine: UnsafeRawPointer, statusLines: StatusLines,
         isHead: Bool, isHTTP10: Bool, closeConnection: Bool, session: HTTPSession? = nil) {
        self.session = session
        self.output = output
        self.dateLine = dateLine
        self.statusLines = statusLines
        self.isHead = isHead
        self.isHTTP10 = isHTTP10
        self.closeConnection = closeConnection
    }

    /// True once a complete response has been written.
    public var hasResponded: Bool { stage == .done }

    /// Takes the response away from this call: the handler returns without
    /// writing, and the returned `PendingResponse` is answered later, from
    /// any thread (`PendingResponse.respond`). Until then the connection
    /// sends nothing more and takes no further request (pipelined ones
    /// wait, in order); past `--response-timeout` the client gets 504.
    public mutating func respondLater() -> PendingResponse {
        precondition(stage == .initial && !isDeferred, "respondLater after the response began")
        guard let session else { preconditionFailure("respondLater: this writer answers a late response already") }
        isDeferred = true
        return session.makePending(isHead: isHead, isHTTP10: isHTTP10, closeConnection: closeConnection)
    }

    /// The application's priority class for a deferred request's latency sample.
    public mutating func setDeferredPriority(_ priority: PriorityClass) {
        session?.pendingResponse?.priority = priority
    }
    /// True once the status line has been written.
    public var hasStarted: Bool { stage != .initial }

    /// Queues a pre-serialized header to go out with the head (middleware use;
    /// up to four).
    public mutating func addHeader(_ header: StaticHeader) { addHeader(line: header.line) }

    /// Queues a pre-serialized header line ("Name: value\r\n").
    public mutating func addHeader(line: StaticBytes) {
        precondition(stage == .initial, "addHeader after the head was written")
        precondition(extraCount < 4, "at most four queued headers")
        extraHeaders[extraCount] = line
        extraCount += 1
    }

    /// Asks for the connection to be closed after this response.
    public mutating func closeAfterResponse() {
        precondition(stage != .done, "response already complete")
        closeConnection = true
    }

    /// Writes the status line, `Date` and queued headers.
    @inline(__always)
    public mutating func head(_ status: HTTPStatus) {
        precondition(stage == .initial, "head written twice")
        self.status = status
        stage = .head
        output.pointee.append(statusLines.line(for: status))
        output.pointee.append(dateLine, count: DateCache.lineLength)
        for i in 0..<extraCount {
            if let line = extraHeaders[i] { output.pointee.append(line) }
        }
    }

    public mutating func header(_ header: StaticHeader) {
        precondition(stage == .head, "header outside the head")
        output.pointee.append(header.line)
    }

    public mutating func header(_ name: StaticString, _ value: UnsafeRawBufferPointer) {
        precondition(stage == .head, "header outside the head")
        output.pointee.append(name)
        output.pointee.append(": " as StaticString)
        output.pointee.append(value)
        output.pointee.append("\r\n" as StaticString)
    }

    public mutating func header(_ name: StaticString, _ value: Int) {
        precondition(stage == .head, "header outside the head")
        output.pointee.append(name)
        output.pointee.append(": " as StaticString)
        output.pointee.appendDecimal(value)
        output.pointee.append("\r\n" as StaticString)
    }

    /// Content-Type (optional), Content-Length, Connection, end of head.
    private mutating func endHead(contentType: StaticHeader?, contentLength: Int?) {
        precondition(stage == .head, "body before head")
        // Fewer, longer copies: the content type and the Content-Length
        // name are one piece, and so are the line end and the blank line
        // when no Connection header goes between them.
        if let contentLength, status.allowsBody {
            if let contentType {
                output.pointee.append(contentType.lineAndLengthName)
            } else {
                output.pointee.append("Content-Length: " as StaticString)
            }
            output.pointee.appendDecimal(contentLength)
            if !closeConnection && !isHTTP10 {
                output.pointee.append("\r\n\r\n" as StaticString)
                return
            }
            output.pointee.append("\r\n" as StaticString)
        } else if let contentType {
            output.pointee.append(contentType.line)
        }
        appendConnectionHeader()
        output.pointee.append("\r\n" as StaticString)
    }

    private func appendConnectionHeader() {
        if closeConnection {
            output.pointee.append("Connection: close\r\n" as StaticString)
        } else if isHTTP10 {
            output.pointee.append("Connection: keep-alive\r\n" as StaticString)
        }
    }

    /// Ends the response with a body known in full.
    public mutating func body(contentType: StaticHeader?, _ bytes: UnsafeRawBufferPointer) {
        endHead(contentType: contentType, contentLength: bytes.count)
        if !isHead && status.allowsBody { output.pointee.append(bytes) }
        stage = .done
    }

    public mutating func body(contentType: StaticHeader?, _ bytes: StaticBytes) {
        body(contentType: contentType, bytes.buffer)
    }

    /// Ends the response with start-up bytes sent from where they lie, not
    /// copied into the output (worth it for bodies of a few KiB and more;
    /// a small body is cheaper copied, with `body(contentType:_:)`).
    public mutating func body(contentType: StaticHeader?, referencing bytes: StaticBytes) {
        endHead(contentType: contentType, contentLength: bytes.count)
        if !isHead && status.allowsBody { output.pointee.splice(.bytes(bytes)) }
        stage = .done
    }

    /// Ends the response with a range of an open file, sent without copying
    /// it into the output (`sendfile` where the engine can). With
    /// `closeWhenSent` the descriptor is the output's from here on: closed
    /// once sent, or when the connection ends first, or at once if no body
    /// goes out (HEAD, 304). A file that turns out shorter than the range
    /// when it is sent closes the connection: its length was already promised.
    public mutating func body(contentType: StaticHeader?, file: FileRange) {
        endHead(contentType: contentType, contentLength: file.count)
        if !isHead && status.allowsBody {
            output.pointee.splice(.file(file))
        } else if file.closeWhenSent {
            close(file.descriptor)
        }
        stage = .done
    }

    /// Ends the response with a body produced by `fill`. Its length is
    /// measured afterwards and Content-Length moved in front of it (a
    /// memmove of the body, cheaper than a second buffer).
    public mutating func body(contentType: StaticHeader?, writing fill: (inout BodyWriter) -> Void) {
        precondition(stage == .head, "body before head")
        if let contentType { output.pointee.append(contentType.line) }
        appendConnectionHeader()
        let bodyStart = output.pointee.mark
        var writer = BodyWriter(output: output)
        fill(&writer)
        let length = output.pointee.mark - bodyStart
        if isHead || !status.allowsBody { output.pointee.truncate(to: bodyStart) }
        // "Content-Length: N\r\n" (when a body is allowed) and the blank line,
        // written into a gap opened in front of the body.
        let prefix: StaticString = "Content-Length: "
        let digits = OutputBytes.decimalDigits(length)
        let lengthLine = status.allowsBody ? prefix.utf8CodeUnitCount + digits + 2 : 0
        var at = output.pointee.openGap(at: bodyStart, count: lengthLine + 2)
        let crlf: StaticString = "\r\n"
        if status.allowsBody {
            at.copyMemory(from: prefix.utf8Start, byteCount: prefix.utf8CodeUnitCount)
            at += prefix.utf8CodeUnitCount
            OutputBytes.storeDecimal(length, digits: digits, at: at)
            at += digits
            at.copyMemory(from: crlf.utf8Start, byteCount: 2)
            at += 2
        }
        at.copyMemory(from: crlf.utf8Start, byteCount: 2)
        stage = .done
    }

    /// Ends the response with a body of `contentLength` bytes made of
    /// serialized bytes and file ranges, in order (`multipart/byteranges`):
    /// `compose` appends them; the length it promises is the caller's to keep.
    /// HEAD and bodiless statuses discard the parts (and close owned files).
    public mutating func body(contentType: StaticHeader?, contentLength: Int, composing compose: (inout ComposedBody) -> Void) {
        endHead(contentType: contentType, contentLength: contentLength)
        var composer = ComposedBody(output: output, discard: isHead || !status.allowsBody)
        compose(&composer)
        stage = .done
    }

    /// Ends the response with a chunked body (HTTP/1.1), or a measured body
    /// for an HTTP/1.0 client, which does not know chunked framing.
    public mutating func chunkedBody(contentType: StaticHeader?, writing fill: (inout ChunkedBodyWriter) -> Void) {
        if isHTTP10 {
            body(contentType: contentType) { plain in
                var writer = ChunkedBodyWriter(output: plain.output, framed: false, discard: false)
                fill(&writer)
            }
            return
        }
        precondition(stage == .head, "body before head")
        if let contentType { output.pointee.append(contentType.line) }
        let framed = status.allowsBody
        if framed { output.pointee.append("Transfer-Encoding: chunked\r\n" as StaticString) }
        appendConnectionHeader()
        output.pointee.append("\r\n" as StaticString)
        var writer = ChunkedBodyWriter(output: output, framed: framed, discard: isHead || !framed)
        fill(&writer)
        if framed && !isHead { output.pointee.append("0\r\n\r\n" as StaticString) }
        stage = .done
    }

    /// A whole response whose body and framing were serialized at start-up.
    public mutating func respond(_ status: HTTPStatus, _ response: StaticResponse) {
        head(status)
        guard !closeConnection && !isHTTP10 && status.allowsBody else {
            body(contentType: response.contentType, response.body.buffer)
            return
        }
        output.pointee.append(response.framed.base, count: isHead ? response.framingCount : response.framed.count)
        stage = .done
    }

    /// A whole response in one call.
    public mutating func respond(_ status: HTTPStatus, contentType: StaticHeader?, body bytes: StaticBytes) {
        head(status)
        body(contentType: contentType, bytes.buffer)
    }

    public mutating func respond(_ status: HTTPStatus, contentType: StaticHeader?, body bytes: UnsafeRawBufferPointer) {
        head(status)
        body(contentType: contentType, bytes)
    }

    public mutating func respond(_ status: HTTPStatus, contentType: StaticHeader?, writing fill: (inout BodyWriter) -> Void) {
        head(status)
        body(contentType: contentType, writing: fill)
    }
}

/// Appends body bytes to the output buffer.
public struct BodyWriter: ~Copyable {
    let output: UnsafeMutablePointer<OutputBytes>

    public mutating func write(_ bytes: UnsafeRawBufferPointer) { output.pointee.append(bytes) }
    public mutating func write(_ bytes: StaticBytes) { output.pointee.append(bytes) }
    public mutating func write(_ text: StaticString) { output.pointee.append(text) }
    /// Lets `fill` write up to `capacity` bytes in place (a `read(2)` from a
    /// file, say) and keeps the number it returns.
    public mutating func write(upTo capacity: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Int) {
        output.pointee.reserve(capacity)
        let space = UnsafeMutableRawBufferPointer(start: output.pointee.bytes + output.pointee.count, count: capacity)
        let n = fill(space)
        precondition(n >= 0 && n <= capacity, "filled more than reserved")
        output.pointee.advance(by: n)
    }
    public mutating func write(decimal value: Int) {
        if value < 0 { output.pointee.append(byte: 0x2D); output.pointee.appendDecimal(0 &- value) } else { output.pointee.appendDecimal(value) }
    }
    /// Allocates the String's bytes only if it is not already contiguous UTF-8.
    public mutating func write(_ text: String) {
        var text = text
        text.withUTF8 { output.pointee.append(UnsafeRawBufferPointer($0)) }
    }
    /// Writes `bytes` as the contents of a JSON string, escaping as RFC 8259 requires.
    public mutating func writeJSONStringContents(_ bytes: UnsafeRawBufferPointer) {
        for b in bytes {
            switch b {
            case 0x22: output.pointee.append("\\\"" as StaticString)
            case 0x5C: output.pointee.append("\\\\" as StaticString)
            case 0x0A: output.pointee.append("\\n" as StaticString)
            case 0x0D: output.pointee.append("\\r" as StaticString)
            case 0x09: output.pointee.append("\\t" as StaticString)
            case 0..<0x20:
                output.pointee.append("\\u00" as StaticString)
                output.pointee.append(byte: b < 0x10 ? 0x30 : 0x31)
                let d = b & 0xF
                output.pointee.append(byte: d < 10 ? 0x30 + d : 0x57 + d)
            default: output.pointee.append(byte: b)
            }
        }
    }
}

/// Appends chunks of a chunked body.
public struct ChunkedBodyWriter: ~Copyable {
    let output: UnsafeMutablePointer<OutputBytes>
    /// Whether to frame each write as a chunk (false for HTTP/1.0).
    let framed: Bool
    /// HEAD, 204, 304: measure nothing, send nothing.
    let discard: Bool

    public mutating func write(_ bytes: UnsafeRawBufferPointer) {
        guard !discard, bytes.count > 0 else { return }  // a zero-size chunk would end the body
        if framed {
            output.pointee.appendHex(bytes.count)
            output.pointee.append("\r\n" as StaticString)
        }
        output.pointee.append(bytes)
        if framed { output.pointee.append("\r\n" as StaticString) }
    }

    public mutating func write(_ bytes: StaticBytes) { write(bytes.buffer) }
}

/// The parts of a composed body (`ResponseWriter.body(contentType:contentLength:composing:)`).
public struct ComposedBody {
    let output: UnsafeMutablePointer<OutputBytes>
    let discard: Bool

    /// Bytes copied into the output.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        if !discard { output.pointee.append(bytes) }
    }

    /// A file range sent from the file (see `body(contentType:file:)`).
    public mutating func append(file: FileRange) {
        if !discard {
            output.pointee.splice(.file(file))
        } else if file.closeWhenSent {
            close(file.descriptor)
        }
    }
}
