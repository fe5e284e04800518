import Glibc
import HTTP1

/// Serves files under one directory, refusing anything that would escape it.
///
/// The request path is percent-decoded, split into segments, and refused
/// (403) if a segment is `..` or holds a NUL or a backslash; the file that is
/// opened is then resolved with `realpath` and must still lie under the root,
/// so a symbolic link cannot lead out either.
public final class StaticFiles: Sendable {
    /// The root, resolved (no symbolic links, no trailing slash).
    public let root: String
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
    }

    /// Answers a request for `relativePath` (the raw bytes after `/static/`).
    public func serve(_ relativePath: UnsafeRawBufferPointer, _ writer: inout ResponseWriter) {
        guard let decoded = percentDecoded(relativePath) else {
            writer.respond(.badRequest, contentType: .textPlain, body: Self.badRequest)
            return
        }
        let segments = decoded.split(separator: 0x2F, omittingEmptySubsequences: true)
        for segment in segments {
            if segment.elementsEqual([0x2E, 0x2E]) || segment.contains(0) || segment.contains(0x5C) {
                writer.respond(.forbidden, contentType: .textPlain, body: Self.forbidden)
                return
            }
        }
        let relative = segments.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "/")
        guard !relative.isEmpty, let resolvedPointer = realpath(root + "/" + relative, nil) else {
            writer.respond(.notFound, contentType: .textPlain, body: Self.notFound)
            return
        }
        let resolved = String(cString: resolvedPointer)
        free(resolvedPointer)
        guard resolved.hasPrefix(root + "/") else {
            writer.respond(.forbidden, contentType: .textPlain, body: Self.forbidden)
            return
        }
        let fd = open(resolved, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            writer.respond(errno == EACCES ? .forbidden : .notFound, contentType: .textPlain,
                           body: errno == EACCES ? Self.forbidden : Self.notFound)
            return
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            writer.respond(.notFound, contentType: .textPlain, body: Self.notFound)
            return
        }
        let size = Int(info.st_size)
        guard size <= Self.maxFileBytes else {
            writer.respond(.forbidden, contentType: .textPlain, body: Self.forbidden)
            return
        }
        writer.head(.ok)
        writer.body(contentType: ContentTypes.forPath(relative)) { body in
            body.write(upTo: size) { space in
                // A file that shrinks while being read is sent as far as it goes.
                var filled = 0
                while filled < space.count {
                    let n = pread(fd, space.baseAddress! + filled, space.count - filled, off_t(filled))
                    if n <= 0 { break }
                    filled += n
                }
                return filled
            }
        }
    }
}

/// Decodes %XX escapes; nil when an escape is malformed.
func percentDecoded(_ bytes: UnsafeRawBufferPointer) -> [UInt8]? {
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count)
    var i = 0
    while i < bytes.count {
        if bytes[i] == 0x25 {
            guard i + 2 < bytes.count, let hi = hexDigit(bytes[i + 1]), let lo = hexDigit(bytes[i + 2]) else { return nil }
            out.append(UInt8(hi << 4 | lo))
            i += 3
        } else {
            out.append(bytes[i])
            i += 1
        }
    }
    return out
}

private func hexDigit(_ b: UInt8) -> Int? {
    switch b {
    case 0x30...0x39: Int(b - 0x30)
    case 0x41...0x46: Int(b - 0x41 + 10)
    case 0x61...0x66: Int(b - 0x61 + 10)
    default: nil
    }
}

/// Content types by file extension.
enum ContentTypes {
    static let byExtension: [String: StaticHeader] = {
        let table: [(String, String)] = [
            ("html", "text/html; charset=utf-8"), ("htm", "text/html; charset=utf-8"),
            ("css", "text/css; charset=utf-8"), ("js", "text/javascript; charset=utf-8"),
            ("mjs", "text/javascript; charset=utf-8"), ("json", "application/json"),
            ("txt", "text/plain; charset=utf-8"), ("md", "text/markdown; charset=utf-8"),
            ("csv", "text/csv; charset=utf-8"), ("xml", "application/xml"),
            ("svg", "image/svg+xml"), ("png", "image/png"), ("jpg", "image/jpeg"),
            ("jpeg", "image/jpeg"), ("gif", "image/gif"), ("webp", "image/webp"),
            ("ico", "image/x-icon"), ("wasm", "application/wasm"), ("pdf", "application/pdf"),
            ("woff2", "font/woff2"),
        ]
        return Dictionary(uniqueKeysWithValues: table.map { ($0.0, StaticHeader(name: "Content-Type", value: $0.1)) })
    }()

    static func forPath(_ path: String) -> StaticHeader {
        guard let dot = path.lastIndex(of: "."), !path[dot...].contains("/") else { return .octetStream }
        return byExtension[path[path.index(after: dot)...].lowercased()] ?? .octetStream
    }
}
