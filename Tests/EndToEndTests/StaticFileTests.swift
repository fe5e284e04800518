@testable import Application
import Glibc
import Testing

/// Static files' validators, conditionals and byte ranges (RFC 9110), over
/// real sockets on every engine, and the parsing rules on bytes.
@Suite("Static files: validators, conditionals, ranges", .serialized)
struct StaticFileTests {
    @Test("ETag, Last-Modified and Accept-Ranges; If-None-Match and If-Modified-Since give 304", arguments: engineNames)
    func conditionals(engine: String) throws {
        let server = try TestServer(engine: engine)
        let client = try server.client()
        let full = try client.get("/static/hello.txt")
        #expect(full.status == 200 && full.text == "hello static\n")
        let etag = try #require(full.header("ETag"))
        let lastModified = try #require(full.header("Last-Modified"))
        #expect(etag.hasPrefix("\"") && etag.hasSuffix("\""))
        #expect(lastModified.hasSuffix(" GMT") && lastModified.count == 29)
        #expect(full.header("Accept-Ranges") == "bytes")

        for condition in ["If-None-Match: \(etag)", "If-None-Match: W/\(etag)", "If-None-Match: \"x\", \(etag)",
                          "If-None-Match: *", "If-Modified-Since: \(lastModified)"] {
            let response = try client.get("/static/hello.txt", headers: "\(condition)\r\n")
            #expect(response.status == 304, "\(condition)")
            #expect(response.body.isEmpty && response.header("Content-Length") == nil, "\(condition)")
            #expect(response.header("ETag") == etag, "\(condition)")
        }
        for condition in ["If-None-Match: \"other\"", "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT",
                          "If-Modified-Since: yesterday",
                          // If-None-Match decides alone when present.
                          "If-None-Match: \"other\"\r\nIf-Modified-Since: \(lastModified)"] {
            let response = try client.get("/static/hello.txt", headers: "\(condition)\r\n")
            #expect(response.status == 200 && response.text == "hello static\n", "\(condition)")
        }
        // The connection is still in step after the bodiless answers.
        #expect(try client.get("/health").text == "ok\n")
    }

    @Test("A changed file gets a new ETag and is served fresh", arguments: engineNames)
    func changedFile(engine: String) throws {
        let server = try TestServer(engine: engine)
        let client = try server.client()
        let first = try client.get("/static/page.html")
        let etag = try #require(first.header("ETag"))
        try TestServer.write("\(server.staticDirectory)/page.html", "<h1>changed, longer</h1>\n")
        let second = try client.get("/static/page.html", headers: "If-None-Match: \(etag)\r\n")
        #expect(second.status == 200 && second.text == "<h1>changed, longer</h1>\n")
        #expect(second.header("ETag") != etag)
    }

    @Test("Range: one range gives 206 with Content-Range; past the end 416; several the whole file", arguments: engineNames)
    func ranges(engine: String) throws {
        let server = try TestServer(engine: engine)
        let client = try server.client()
        let cases: [(range: String, status: Int, body: String, contentRange: String?)] = [
            ("bytes=0-4", 206, "hello", "bytes 0-4/13"),
            ("bytes=6-", 206, "static\n", "bytes 6-12/13"),
            ("bytes=-3", 206, "ic\n", "bytes 10-12/13"),
            ("bytes=-100", 206, "hello static\n", "bytes 0-12/13"),
            ("bytes=5-1000", 206, " static\n", "bytes 5-12/13"),
            ("bytes=13-", 416, "", "bytes */13"),
            ("bytes=-0", 416, "", "bytes */13"),
            ("bytes=0-1,1-3", 200, "hello static\n", nil),  // overlapping: the whole file
            ("bytes=3-4,0-1", 200, "hello static\n", nil),  // out of order: the whole file
            ("bytes=0-0,2-2,4-4,6-6,8-8,10-10,11-11,12-12,1-1", 200, "hello static\n", nil),  // more than 8
            ("bytes=20-30,2-3", 206, "ll", "bytes 2-3/13"),  // the unsatisfiable one dropped
            ("bytes=20-30,40-", 416, "", "bytes */13"),
            ("bytes=4-2", 200, "hello static\n", nil),
            ("lines=1-2", 200, "hello static\n", nil),
        ]
        for item in cases {
            let response = try client.get("/static/hello.txt", headers: "Range: \(item.range)\r\n")
            #expect(response.status == item.status, "\(item.range)")
            #expect(response.text == item.body, "\(item.range)")
            #expect(response.header("Content-Range") == item.contentRange, "\(item.range)")
        }
        let etag = try #require(try client.get("/static/hello.txt").header("ETag"))
        let lastModified = try #require(try client.get("/static/hello.txt").header("Last-Modified"))
        // Several ranges: multipart/byteranges, each part with its own head.
        let multi = try client.get("/static/hello.txt", headers: "Range: bytes=0-1, 6-8\r\n")
        #expect(multi.status == 206 && multi.header("Content-Range") == nil)
        let type = try #require(multi.header("Content-Type"))
        #expect(type.hasPrefix("multipart/byteranges; boundary="))
        let boundary = String(type.dropFirst("multipart/byteranges; boundary=".count))
        let part = "Content-Type: text/plain; charset=utf-8\r\n"
        #expect(multi.text == "\r\n--\(boundary)\r\n\(part)Content-Range: bytes 0-1/13\r\n\r\nhe"
            + "\r\n--\(boundary)\r\n\(part)Content-Range: bytes 6-8/13\r\n\r\nsta\r\n--\(boundary)--\r\n")
        #expect(try client.get("/static/hello.txt", headers: "Range: bytes=0-4\r\nIf-Range: \(etag)\r\n").status == 206)
        #expect(try client.get("/static/hello.txt", headers: "Range: bytes=0-4\r\nIf-Range: \(lastModified)\r\n").status == 206)
        let stale = try client.get("/static/hello.txt", headers: "Range: bytes=0-4\r\nIf-Range: \"stale\"\r\n")
        #expect(stale.status == 200 && stale.text == "hello static\n")
        #expect(try client.get("/static/hello.txt", headers: "Range: bytes=0-4\r\nIf-Range: W/\(etag)\r\n").status == 200)
        #expect(try client.get("/health").text == "ok\n")
    }

    /// Traversal attempts from published advisories (Apache CVE-2021-41773
    /// and CVE-2021-42013's `.%2e` and double encoding, IIS's overlong UTF-8
    /// and backslashes, NUL truncation) and a symbolic link out of the root:
    /// none may read outside the root.
    @Test("Traversal attempts never leave the root", arguments: engineNames)
    func traversal(engine: String) throws {
        let server = try TestServer(engine: engine)
        let link = "\(server.staticDirectory)/escape"
        symlink("/etc", link)
        defer { unlink(link) }
        let client = try server.client()
        for path in ["../../../../etc/passwd", "%2e%2e/%2e%2e/%2e%2e/etc/passwd", "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
                     ".%2e/.%2e/.%2e/etc/passwd", "%252e%252e/%252e%252e/etc/passwd", "..%5c..%5cetc%5cpasswd",
                     "..\\..\\etc\\passwd", "%2e%2e%00/etc/passwd", "....//....//etc/passwd", "%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
                     "sub/../../etc/passwd", "sub/%2e%2e/%2e%2e/etc/passwd", "escape/passwd", "escape/../escape/passwd"] {
            // A fresh connection each: a target the parser refuses (400) closes it.
            let response = try server.client().get("/static/\(path)")
            #expect([400, 403, 404].contains(response.status), "\(path): \(response.status)")
            #expect(!response.text.contains("root:"), "\(path)")
        }
        #expect(try client.get("/static/hello.txt").text == "hello static\n")
    }

    @Test("Dates: IMF-fixdate round trip; other forms refused")
    func dates() {
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 29, alignment: 1)
        defer { out.deallocate() }
        for seconds in [0, 784_111_777, 1_796_688_000, 4_102_444_799] {
            FileValidators.httpDate(seconds, into: out)
            #expect(FileValidators.parseHTTPDate(UnsafeRawBufferPointer(out)) == seconds)
        }
        for text in ["Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Sun, 06 Nov 1994 08:49:37 UTC",
                     "Sun, 06 Xyz 1994 08:49:37 GMT", "Sun, 32 Nov 1994 08:49:37 GMT"] {
            #expect(Array(text.utf8).withUnsafeBytes { FileValidators.parseHTTPDate($0) } == nil, "\(text)")
        }
    }
}
