import Glibc
import Testing

/// Responses made of segments over real sockets, once per available engine:
/// static files are sent as file ranges (sendfile on the readiness and
/// thread engines, read-and-send on io_uring), never copied into the output.
@Suite("End to end: segments", .serialized)
struct SegmentEndToEndTests {
    /// Writes `size` bytes of a pattern to `path`; returns them.
    @discardableResult
    static func writeFile(_ path: String, size: Int) throws -> [UInt8] {
        let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ $0 >> 9) }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw TestClient.Failure(description: "cannot write \(path)") }
        defer { close(fd) }
        var written = 0
        while written < size {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, size - written) }
            guard n > 0 else { throw TestClient.Failure(description: "write \(path) failed") }
            written += n
        }
        return bytes
    }

    @Test("A large file arrives whole, between pipelined responses, and HEAD gets its length without it",
          arguments: engineNames)
    func largeFile(engine: String) throws {
        let server = try TestServer(engine: engine)
        let path = "\(server.staticDirectory)/large.bin"
        let contents = try Self.writeFile(path, size: 3 * 1024 * 1024 + 17)
        defer { unlink(path) }
        let client = try server.client()
        try client.send("GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\nGET /static/large.bin HTTP/1.1\r\nHost: t\r\n\r\n"
                        + "HEAD /static/large.bin HTTP/1.1\r\nHost: t\r\n\r\nGET /static/hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try client.readResponse().text == "Hello, World!")
        let file = try client.readResponse()
        #expect(file.header("Content-Length") == String(contents.count))
        #expect(file.body == contents)
        let head = try client.readResponse(head: true)
        #expect(head.header("Content-Length") == String(contents.count))
        #expect(head.body.isEmpty)
        #expect(try client.readResponse().text == "hello static\n")
    }

    @Test("A file truncated while it is being sent closes the connection short of its promised length",
          arguments: engineNames)
    func truncatedFile(engine: String) throws {
        let server = try TestServer(engine: engine)
        let path = "\(server.staticDirectory)/shrinking.bin"
        let size = 48 * 1024 * 1024  // far more than the socket buffers hold
        // A sparse file of zeros: made at once, read from the page cache.
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        #expect(fd >= 0 && ftruncate(fd, off_t(size)) == 0)
        close(fd)
        defer { unlink(path) }
        let client = try server.client()
        try client.send("GET /static/shrinking.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        // Read the head and a little of the body, then cut the file short.
        var received = 0
        var chunk = [UInt8](repeating: 0, count: 65536)
        var head: [UInt8] = []
        while !String(decoding: head, as: UTF8.self).contains("\r\n\r\n") {
            let n = chunk.withUnsafeMutableBytes { recv(client.fd, $0.baseAddress, 1024, 0) }
            guard n > 0 else { throw TestClient.Failure(description: "closed before the head") }
            head += chunk[0..<n]
        }
        #expect(String(decoding: head, as: UTF8.self).contains("Content-Length: \(size)\r\n"))
        truncate(path, 0)
        // The rest: whatever was already on its way, then the close.
        var last = 0
        while true {
            last = chunk.withUnsafeMutableBytes { recv(client.fd, $0.baseAddress, $0.count, 0) }
            if last <= 0 { break }
            received += last
        }
        // Closed by the server (end of stream or reset), not given up on by
        // the client's read timeout (a server that kept the connection open).
        #expect(last == 0 || errno == ECONNRESET, "no close: recv said \(last), \(String(cString: strerror(errno)))")
        #expect(received < size, "the whole promised body arrived although the file was truncated")
        // The server goes on serving.
        #expect(try server.client().get("/plaintext").text == "Hello, World!")
    }
}
