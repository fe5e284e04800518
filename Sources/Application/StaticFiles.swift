import Glibc
import HTTP1
import Pools

/// Serves files under one directory, refusing anything that would escape it.
///
/// The request path is percent-decoded, split into segments, and refused
/// (403) if a segment is `..` or holds a NUL or a backslash; the file that is
/// opened is then resolved with `realpath` and must still lie under the root,
/// so a symbolic link cannot lead out either.
///
/// All temporary memory (the decoded path, the C string, the resolved path,
/// the validators) comes from the request arena, and content types are
/// matched on bytes: a static file is served without a heap allocation.
///
/// Every file response carries a strong `ETag`, `Last-Modified` and
/// `Accept-Ranges: bytes`; conditional requests get 304 and a single byte
/// range 206 (`FileValidators` says which rules apply and how).
public final class StaticFiles: Sendable {
    /// The root, resolved (no symbolic links, no trailing slash).
    public let root: String
    private let rootBytes: StaticBytes
    static let notConfigured = StaticBytes("404 Not Found (no --static-dir configured)\n")
    static let notFound = StaticBytes("404 Not Found\n")
    static let forbidden = StaticBytes("403 Forbidden\n")
    static let badRequest = StaticBytes("400 Bad Request (invalid percent-encoding)\n")
    /// Larger files are refused rather than copied into memory whole.
    static let maxFileBytes = 64 * 1024 * 1024

    public struct ConfigurationError: Error, CustomStringConvertible {
        public let description: String
    }

    public init(root: String) throws(ConfigurationError) {
        guard let resolved = realpath(root, nil) else {
            throw ConfigurationError(description: "--static-dir \(root): \(String(cString: strerror(errno)))")
        }
        defer { free(resolved) }
        var info = stat()
        guard stat(resolved, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw ConfigurationError(description: "--static-dir \(root): not a directory")
        }
        self.root = String(cString: resolved)
        rootBytes = StaticBytes(self.root)
    }

    /// Answers a request for `relativePath` (the raw bytes after `/static/`);
    /// `headers` are read for the conditionals and `Range`.
    public func serve(_ relativePath: UnsafeRawBufferPointer, headers: HTTPHeaders? = nil, arena: RequestArena,
                      _ writer: inout ResponseWriter) {
        // "<root>/<decoded path>\0", built in the arena.
        let path = arena.allocate(byteCount: rootBytes.count + relativePath.count + 2, alignment: 1)
        path.baseAddress!.copyMemory(from: rootBytes.base, byteCount: rootBytes.count)
        path[rootBytes.count] = 0x2F
        let start = rootBytes.count + 1
        guard let decodedCount = percentDecode(relativePath, into: UnsafeMutableRawBufferPointer(rebasing: path[start...])) else {
            writer.respond(.badRequest, contentType: .textPlain, body: Self.badRequest)
            return
        }
        let relative = UnsafeRawBufferPointer(rebasing: path[start..<(start + decodedCount)])
        switch Self.check(relative) {
        case .forbidden:
            writer.respond(.forbidden, contentType: .textPlain, body: Self.forbidden)
            return
        case .empty:
            writer.respond(.notFound, contentType: .textPlain, body: Self.notFound)
            return
        case .ok:
            break
        }
        path[start + decodedCount] = 0
        let resolved = arena.allocate(byteCount: Int(PATH_MAX) + 1, alignment: 1)
        let cPath = path.baseAddress!.assumingMemoryBound(to: CChar.self)
        let cResolved = resolved.baseAddress!.assumingMemoryBound(to: CChar.self)
        guard realpath(cPath, cResolved) != nil else {
            writer.respond(.notFound, contentType: .textPlain, body: Self.notFound)
            return
        }
        // Still under the root after following links: "<root>/..." exactly.
        let resolvedCount = strlen(cResolved)
        guard resolvedCount > rootBytes.count, memcmp(cResolved, rootBytes.base, rootBytes.count) == 0,
              resolved[rootBytes.count] == 0x2F
        else {
            writer.respond(.forbidden, contentType: .textPlain, body: Self.forbidden)
            return
        }
        let fd = open(cResolved, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let denied = errno == EACCES
            writer.respond(denied ? .forbidden : .notFound, contentType: .textPlain, body: denied ? Self.forbidden : Self.notFound)
            return
        }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            writer.respond(.notFound, contentType: .textPlain, body: Self.notFound)
            return
        }
        let size = Int(info.st_size)
        guard size <= Self.maxFileBytes else {
            close(fd)
            writer.respond(.forbidden, contentType: .textPlain, body: Self.forbidden)
            return
        }
        // Validators, in the arena.
        let etagBytes = arena.allocate(byteCount: FileValidators.maxETagBytes, alignment: 1)
        let mtimeNanoseconds = Int(info.st_mtim.tv_sec) * 1_000_000_000 + Int(info.st_mtim.tv_nsec)
        let etag = UnsafeRawBufferPointer(rebasing: etagBytes[0..<FileValidators.etag(
            inode: UInt64(info.st_ino), size: size, mtimeNanoseconds: mtimeNanoseconds, into: etagBytes)])
        let dateBytes = arena.allocate(byteCount: 29, alignment: 1)
        FileValidators.httpDate(Int(info.st_mtim.tv_sec), into: dateBytes)
        let lastModified = UnsafeRawBufferPointer(dateBytes)
        let wanted = arena.allocate(byteCount: FileValidators.maxRanges * MemoryLayout<(offset: Int, count: Int)>.stride,
                                    alignment: MemoryLayout<(offset: Int, count: Int)>.alignment)
            .bindMemory(to: (offset: Int, count: Int).self).baseAddress!
        var ranges = FileValidators.Ranges.whole
        if let headers {
            if notModified(headers, etag: etag, modifiedAt: Int(info.st_mtim.tv_sec)) {
                // The descriptor goes with the (bodiless) response, closed at once.
                writer.head(.notModified)
                writer.header("ETag", etag)
                writer.header("Last-Modified", lastModified)
                writer.body(contentType: nil, file: FileRange(descriptor: fd, offset: 0, count: size, closeWhenSent: true))
                return
            }
            if let asked = headers.first("range"), rangeApplies(headers, etag: etag, lastModified: lastModified) {
                ranges = FileValidators.ranges(asked, size: size, into: wanted)
            }
        }
        let contentType = ContentTypes.forPath(relative)
        switch ranges {
        case .whole:
            // The body is the file itself, a segment of the response (sendfile
            // where the engine can): not copied into the output. The descriptor
            // is the output's from here on; a file that shrinks before it is
            // sent closes the connection (its length is already promised).
            writer.head(.ok)
            writeValidators(&writer, etag: etag, lastModified: lastModified)
            writer.body(contentType: contentType, file: FileRange(descriptor: fd, offset: 0, count: size, closeWhenSent: true))
        case .parts(1):
            let (offset, count) = wanted[0]
            writer.head(.partialContent)
            writeValidators(&writer, etag: etag, lastModified: lastModified)
            writer.header("Content-Range", contentRange(arena, offset: offset, count: count, size: size))
            writer.body(contentType: contentType, file: FileRange(descriptor: fd, offset: offset, count: count, closeWhenSent: true))
        case .parts(let parts):
            writeMultipart(&writer, fd: fd, parts: UnsafeBufferPointer(start: wanted, count: parts), size: size,
                           contentType: contentType, etag: etag, lastModified: lastModified, arena: arena)
        case .unsatisfiable:
            close(fd)
            writer.head(.rangeNotSatisfiable)
            writer.header("Content-Range", contentRange(arena, offset: nil, count: 0, size: size))
            writer.body(contentType: nil, UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }

    /// 206 `multipart/byteranges` (RFC 9110 section 14.6): each range as a
    /// part with its own Content-Type and Content-Range, the ranges as file
    /// segments of the one descriptor (closed after the last). The boundary
    /// is the ETag's characters behind a fixed prefix. Part heads are made
    /// in the arena first, so Content-Length is known before the head ends.
    private func writeMultipart(_ writer: inout ResponseWriter, fd: Int32, parts: UnsafeBufferPointer<(offset: Int, count: Int)>,
                                size: Int, contentType: StaticHeader, etag: UnsafeRawBufferPointer,
                                lastModified: UnsafeRawBufferPointer, arena: RequestArena) {
        // "switchyard-" + the ETag without its quotes.
        let prefix: StaticString = "switchyard-"
        let boundary = arena.allocate(byteCount: prefix.utf8CodeUnitCount + etag.count, alignment: 1)
        boundary.baseAddress!.copyMemory(from: prefix.utf8Start, byteCount: prefix.utf8CodeUnitCount)
        let tag = UnsafeRawBufferPointer(rebasing: etag[1..<(etag.count - 1)])
        (boundary.baseAddress! + prefix.utf8CodeUnitCount).copyMemory(from: tag.baseAddress!, byteCount: tag.count)
        let boundaryCount = prefix.utf8CodeUnitCount + tag.count
        let typeName: StaticString = "multipart/byteranges; boundary="
        let type = arena.allocate(byteCount: typeName.utf8CodeUnitCount + boundaryCount, alignment: 1)
        type.baseAddress!.copyMemory(from: typeName.utf8Start, byteCount: typeName.utf8CodeUnitCount)
        (type.baseAddress! + typeName.utf8CodeUnitCount).copyMemory(from: boundary.baseAddress!, byteCount: boundaryCount)
        // Each part's head: CRLF "--" boundary CRLF, its Content-Type line,
        // its Content-Range line, CRLF; then the closing delimiter.
        let headRoom = 6 + boundaryCount + contentType.line.count + 72
        let heads = arena.allocate(byteCount: headRoom * parts.count + boundaryCount + 8, alignment: 1)
        let starts = arena.allocate(byteCount: (parts.count + 1) * MemoryLayout<Int>.stride, alignment: MemoryLayout<Int>.alignment)
            .bindMemory(to: Int.self).baseAddress!
        var n = 0
        var length = 0
        for (k, part) in parts.enumerated() {
            starts[k] = n
            n = appendBytes(heads, at: n, "\r\n--")
            n = appendBytes(heads, at: n, UnsafeRawBufferPointer(rebasing: boundary[0..<boundaryCount]))
            n = appendBytes(heads, at: n, "\r\n")
            n = appendBytes(heads, at: n, contentType.line.buffer)
            n = appendBytes(heads, at: n, "Content-Range: ")
            n = appendBytes(heads, at: n, contentRange(arena, offset: part.offset, count: part.count, size: size))
            n = appendBytes(heads, at: n, "\r\n\r\n")
            length += part.count
        }
        starts[parts.count] = n
        n = appendBytes(heads, at: n, "\r\n--")
        n = appendBytes(heads, at: n, UnsafeRawBufferPointer(rebasing: boundary[0..<boundaryCount]))
        n = appendBytes(heads, at: n, "--\r\n")
        length += n
        writer.head(.partialContent)
        writeValidators(&writer, etag: etag, lastModified: lastModified)
        writer.header("Content-Type", UnsafeRawBufferPointer(type))
        writer.body(contentType: nil, contentLength: length) { body in
            for (k, part) in parts.enumerated() {
                body.append(UnsafeRawBufferPointer(rebasing: heads[starts[k]..<starts[k + 1]]))
                body.append(file: FileRange(descriptor: fd, offset: part.offset, count: part.count,
                                            closeWhenSent: k == parts.count - 1))
            }
            body.append(UnsafeRawBufferPointer(rebasing: heads[starts[parts.count]..<n]))
        }
    }

    private func appendBytes(_ out: UnsafeMutableRawBufferPointer, at: Int, _ bytes: UnsafeRawBufferPointer) -> Int {
        (out.baseAddress! + at).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        return at + bytes.count
    }

    private func appendBytes(_ out: UnsafeMutableRawBufferPointer, at: Int, _ text: StaticString) -> Int {
        (out.baseAddress! + at).copyMemory(from: text.utf8Start, byteCount: text.utf8CodeUnitCount)
        return at + text.utf8CodeUnitCount
    }

    private func writeValidators(_ writer: inout ResponseWriter, etag: UnsafeRawBufferPointer, lastModified: UnsafeRawBufferPointer) {
        writer.header("ETag", etag)
        writer.header("Last-Modified", lastModified)
        writer.header(Self.acceptRanges)
    }

    static let acceptRanges = StaticHeader(name: "Accept-Ranges", value: "bytes")

    /// RFC 9110 section 13.2.2, steps 3 and 4, for GET and HEAD: 304 when
    /// `If-None-Match` matches, or (without it) the file has not changed
    /// since `If-Modified-Since` (a date in the future is ignored).
    private func notModified(_ headers: HTTPHeaders, etag: UnsafeRawBufferPointer, modifiedAt: Int) -> Bool {
        if let tags = headers.first("if-none-match") { return FileValidators.noneMatch(tags, etag: etag) }
        guard let since = headers.first("if-modified-since").flatMap(FileValidators.parseHTTPDate) else { return false }
        return since <= time(nil) && modifiedAt <= since
    }

    /// `If-Range`: the range applies only while the file is the one the
    /// client has part of (its strong ETag, or exactly its Last-Modified).
    private func rangeApplies(_ headers: HTTPHeaders, etag: UnsafeRawBufferPointer, lastModified: UnsafeRawBufferPointer) -> Bool {
        guard let condition = headers.first("if-range") else { return true }
        if FileValidators.rangeTagMatches(condition, etag: etag) { return true }
        return condition.count == lastModified.count && memcmp(condition.baseAddress!, lastModified.baseAddress!, condition.count) == 0
    }

    /// `bytes FIRST-LAST/SIZE`, or `bytes */SIZE` (unsatisfiable), in the arena.
    private func contentRange(_ arena: RequestArena, offset: Int?, count: Int, size: Int) -> UnsafeRawBufferPointer {
        let out = arena.allocate(byteCount: 72, alignment: 1)
        let prefix: StaticString = "bytes "
        out.baseAddress!.copyMemory(from: prefix.utf8Start, byteCount: prefix.utf8CodeUnitCount)
        var n = prefix.utf8CodeUnitCount
        if let offset {
            n = FileValidators.appendDecimal(offset, out, at: n)
            out[n] = 0x2D; n += 1
            n = FileValidators.appendDecimal(offset + count - 1, out, at: n)
        } else {
            out[n] = 0x2A; n += 1
        }
        out[n] = 0x2F; n += 1
        n = FileValidators.appendDecimal(size, out, at: n)
        return UnsafeRawBufferPointer(rebasing: out[0..<n])
    }

    enum PathCheck { case ok, empty, forbidden }

    /// Refuses `..` segments, NUL and backslash; an empty path names no file.
    static func check(_ path: UnsafeRawBufferPointer) -> PathCheck {
        var segmentStart = 0
        var sawName = false
        for i in 0...path.count {
            let atEnd = i == path.count
            let b: UInt8 = atEnd ? 0x2F : path[i]
            if b == 0 || b == 0x5C { return .forbidden }
            guard b == 0x2F else { continue }
            let length = i - segmentStart
            if length == 2 && path[segmentStart] == 0x2E && path[segmentStart + 1] == 0x2E { return .forbidden }
            if length > 0 { sawName = true }
            segmentStart = i + 1
        }
        return sawName ? .ok : .empty
    }
}

/// Decodes %XX escapes of `bytes` into `output`; returns the decoded length,
/// or nil when an escape is malformed. `output` must hold `bytes.count`.
func percentDecode(_ bytes: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int? {
    var i = 0, n = 0
    while i < bytes.count {
        if bytes[i] == 0x25 {
            guard i + 2 < bytes.count, let hi = hexDigit(bytes[i + 1]), let lo = hexDigit(bytes[i + 2]) else { return nil }
            output[n] = UInt8(hi << 4 | lo)
            i += 3
        } else {
            output[n] = bytes[i]
            i += 1
        }
        n += 1
    }
    return n
}

private func hexDigit(_ b: UInt8) -> Int? {
    switch b {
    case 0x30...0x39: Int(b - 0x30)
    case 0x41...0x46: Int(b - 0x41 + 10)
    case 0x61...0x66: Int(b - 0x61 + 10)
    default: nil
    }
}

/// Content types by file extension, matched on bytes (no String per request).
enum ContentTypes {
    static let table: [(StaticString, StaticHeader)] = [
        ("html", "text/html; charset=utf-8"), ("htm", "text/html; charset=utf-8"),
        ("css", "text/css; charset=utf-8"), ("js", "text/javascript; charset=utf-8"),
        ("mjs", "text/javascript; charset=utf-8"), ("json", "application/json"),
        ("txt", "text/plain; charset=utf-8"), ("md", "text/markdown; charset=utf-8"),
        ("csv", "text/csv; charset=utf-8"), ("xml", "application/xml"),
        ("svg", "image/svg+xml"), ("png", "image/png"), ("jpg", "image/jpeg"),
        ("jpeg", "image/jpeg"), ("gif", "image/gif"), ("webp", "image/webp"),
        ("ico", "image/x-icon"), ("wasm", "application/wasm"), ("pdf", "application/pdf"),
        ("woff2", "font/woff2"), ("sh", "text/x-shellscript; charset=utf-8"),
    ].map { ($0.0, StaticHeader(name: "Content-Type", value: $0.1)) }

    static func forPath(_ path: UnsafeRawBufferPointer) -> StaticHeader {
        var dot = path.count
        while dot > 0 && path[dot - 1] != 0x2E && path[dot - 1] != 0x2F { dot -= 1 }
        guard dot > 0, path[dot - 1] == 0x2E else { return .octetStream }
        let ext = UnsafeRawBufferPointer(rebasing: path[dot...])
        // Indexing, not `for … in`: a generic iterator over tuples allocates
        // its frame in unoptimized builds, and tests check debug builds too.
        for i in 0..<table.count {
            let name = table[i].0
            guard ext.count == name.utf8CodeUnitCount else { continue }
            var same = true
            for k in 0..<ext.count where (ext[k] | 0x20) != (name.utf8Start[k] | 0x20) { same = false; break }
            if same { return table[i].1 }
        }
        return .octetStream
    }
}
