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

/// Parses a byte stream of HTTP/1.1 responses strictly: status line
/// `HTTP/1.1 NNN reason`, CRLF field lines `name: value`, blank line, then a
/// body framed by Content-Length or chunked (RFC 9112 sections 4, 6, 7).
/// 1xx, 204 and 304 and HEAD responses have no body.
public func parseResponses(_ bytes: [UInt8], headResponses: Set<Int> = [], lenientLastBody: Bool = false) throws -> [ParsedResponse] {
    var out: [ParsedResponse] = []
    var i = 0
    var finalIndex = 0
    func fail(_ why: String) -> ResponseParseError {
        ResponseParseError(description: "\(why) at byte \(i) in \(text(bytes).debugDescription)")
    }
    func line() throws -> String {
        var j = i
        while j + 1 < bytes.count && !(bytes[j] == 0x0D && bytes[j + 1] == 0x0A) {
            if bytes[j] == 0x0D || bytes[j] == 0x0A { throw fail("bare CR or LF") }
            j += 1
        }
        guard j + 1 < bytes.count else { throw fail("unterminated line") }
        let s = text(bytes[i..<j])
        i = j + 2
        return s
    }
    while i < bytes.count {
        let start = i
        let statusLine = try line()
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "HTTP/1.1", parts[1].count == 3, let status = Int(parts[1]) else {
            throw fail("bad status line \(statusLine.debugDescription)")
        }
        var headers: [(String, String)] = []
        while true {
            let l = try line()
            if l.isEmpty { break }
            guard let colon = l.firstIndex(of: ":"), colon != l.startIndex else { throw fail("bad field line \(l.debugDescription)") }
            let name = String(l[..<colon])
            guard !name.contains(" ") else { throw fail("space in field name") }
            headers.append((name, l[l.index(after: colon)...].trimmingOWS()))
        }
        var r = ParsedResponse(version: "HTTP/1.1", status: status, reason: String(parts[2]), headers: headers, body: [], raw: [])
        let isFinal = status >= 200
        let noBody = !isFinal || status == 204 || status == 304 || headResponses.contains(finalIndex)
        if !noBody {
            let lengths = r.headers(named: "Content-Length")
            let te = r.header("Transfer-Encoding")
            if te != nil && !lengths.isEmpty { throw fail("both Content-Length and Transfer-Encoding") }
            if lengths.count > 1 { throw fail("several Content-Length fields") }
            if te?.lowercased() == "chunked" {
                while true {
                    let sizeLine = try line()
                    guard let size = Int(sizeLine, radix: 16), size >= 0 else { throw fail("bad chunk size \(sizeLine.debugDescription)") }
                    if size == 0 {
                        guard try line().isEmpty else { throw fail("trailers in a response") }
                        break
                    }
                    guard i + size + 2 <= bytes.count else { throw fail("truncated chunk") }
                    r.body += bytes[i..<(i + size)]
                    i += size
                    guard bytes[i] == 0x0D, bytes[i + 1] == 0x0A else { throw fail("chunk data without CRLF") }
                    i += 2
                }
            } else if let te {
                throw fail("unexpected Transfer-Encoding \(te)")
            } else if let cl = lengths.first {
                guard let n = Int(cl), n >= 0 else { throw fail("bad Content-Length \(cl)") }
                if i + n > bytes.count {
                    // The final response of a stream may answer a HEAD request
                    // the harness did not know about (fuzzing): no body follows.
                    guard lenientLastBody && i == bytes.count else { throw fail("truncated body") }
                } else {
                    r.body = Array(bytes[i..<(i + n)])
                    i += n
                }
            } else {
                throw fail("final response without framing (would be read until close)")
            }
        } else if isFinal && !headResponses.contains(finalIndex) {
            // 204/304: no Content-Length and no Transfer-Encoding (RFC 9110 8.6, 6.1).
            if r.header("Content-Length") != nil && status == 204 { throw fail("Content-Length on 204") }
            if r.header("Transfer-Encoding") != nil { throw fail("Transfer-Encoding on \(status)") }
        }
        r.raw = Array(bytes[start..<i])
        if isFinal { finalIndex += 1 }
        out.append(r)
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
