import HTTP1

/// A strict reader of what a session wrote: the byte stream of HTTP/1.1
/// responses, each framed as RFC 9112 says, so tests and the fuzzer can
/// check that every answer is well framed.

/// The bytes as text (lossy), for messages.
public func text(_ bytes: some Sequence<UInt8>) -> String { String(decoding: Array(bytes), as: UTF8.self) }

public struct ParsedResponse: Equatable, CustomStringConvertible {
    public var version: String
    public var status: Int
    public var reason: String
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// The raw bytes of this response (head and framed body).
    public var raw: [UInt8]

    public static func == (a: ParsedResponse, b: ParsedResponse) -> Bool { a.raw == b.raw }

    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    public func headers(named name: String) -> [String] {
        headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1)
    }

    public var closes: Bool { header("Connection")?.lowercased() == "close" }
    public var bodyText: String { text(body) }

    public var description: String { "\(status) \(reason) \(headers.map { "\($0.0): \($0.1)" }) body=\(bodyText.debugDescription)" }
}

struct ResponseParseError: Error, CustomStringConvertible {
    public var description: String
}

/// Parses a byte stream of HTTP/1.1 responses strictly, with HTTP1's
/// `ResponseParser` in its strict mode: status line `HTTP/1.1 NNN reason`,
/// CRLF field lines `name: value`, blank line, then a body framed by
/// Content-Length or chunked (RFC 9112 sections 4, 6, 7). 1xx, 204 and 304
/// and HEAD responses have no body. `headResponses` are the indices of the
/// final responses that answer HEAD; with `lenientLastBody` the last one
/// may end after its head although its Content-Length promises a body (it
/// answers a HEAD the caller did not know about).
public func parseResponses(_ bytes: [UInt8], headResponses: Set<Int> = [], lenientLastBody: Bool = false) throws -> [ParsedResponse] {
    var out: [ParsedResponse] = []
    var parser = ResponseParser(strict: true, capturing: true, reportingInterim: true)
    var i = 0
    var finalIndex = 0
    func response(from start: Int, to end: Int) -> ParsedResponse {
        let c = parser.captured
        return ParsedResponse(version: "HTTP/1.1", status: c.status, reason: c.reason, headers: c.headers.map { ($0.name, $0.value) },
                              body: c.body, raw: Array(bytes[start..<end]))
    }
    while i < bytes.count {
        let start = i
        if headResponses.contains(finalIndex) { parser.nextAnswersHead() }
        let (consumed, outcome) = bytes[i...].withUnsafeBytes { parser.parse($0) }
        i += consumed
        switch outcome {
        case .response(let status, _):
            out.append(response(from: start, to: i))
            if status >= 200 { finalIndex += 1 }
        case .malformed:
            throw ResponseParseError(description: "\(parser.failure) near byte \(i) in \(text(bytes).debugDescription)")
        case .needMore:
            if lenientLastBody && parser.awaitsWholeBody {
                out.append(response(from: start, to: i))
                return out
            }
            throw ResponseParseError(description: "truncated response at byte \(i) in \(text(bytes).debugDescription)")
        }
    }
    return out
}

extension Substring {
    public func trimmingOWS() -> String {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}

/// Replaces every Date value (IMF-fixdate, 29 bytes) with '#'s.
