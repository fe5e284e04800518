// Responses made of segments, sans I/O: bytes in the output buffer, start-up
// bytes referenced where they lie, and file ranges, written by a fake socket
// that takes a few bytes at a time, so partial writes end inside every kind
// of segment and across their boundaries.

import Glibc
import LoopRuntime
import Testing
@testable import HTTP1

/// A file with known contents, removed when the value goes away.
final class TemporaryFile: Sendable {
    let path: String
    let contents: [UInt8]

    init(size: Int) {
        var template = Array("/tmp/switchyard-segment-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        contents = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        _ = contents.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    deinit { unlink(path) }

    func open() -> Int32 { Glibc.open(path, O_RDONLY | O_CLOEXEC) }
}

/// Drains a session's output by segments, at most `step` bytes per write,
/// reading file ranges the way sendfile would. Returns the bytes "sent".
func drainSegments(_ session: HTTPSession, step: Int) -> [UInt8] {
    var sent: [UInt8] = []
    for _ in 0..<1_000_000 {
        let action = session.process()
        guard action == .write else { return sent }
        var chunk: [UInt8] = []
        if session.hasSegments {
            session.forEachPendingSegment { segment in
                let room = step - chunk.count
                guard room > 0 else { return false }
                switch segment {
                case .bytes(let bytes):
                    chunk += bytes.prefix(room)
                    return bytes.count <= room
                case .file(let descriptor, let offset, let count):
                    var buffer = [UInt8](repeating: 0, count: min(room, count))
                    let n = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, off_t(offset)) }
                    chunk += buffer.prefix(max(n, 0))
                    return false  // like sendfile: one file range per call
                }
            }
        } else {
            chunk = Array(session.pendingOutput.prefix(step))
        }
        sent += chunk
        session.didWrite(chunk.count)
    }
    Issue.record("the session never settled")
    return sent
}

@Suite("Segments (sans I/O)")
struct SegmentTests {
    static let banner = StaticBytes(String(repeating: "static banner bytes ", count: 50))

    /// /file/N answers with the file; /banner with start-up bytes by reference; else "small".
    func responder(_ file: TemporaryFile, opened: @escaping @Sendable (Int32) -> Void = { _ in }) -> RecordingResponder {
        RecordingResponder { request, writer in
            switch request.path.string {
            case "/file":
                let fd = file.open()
                opened(fd)
                writer.head(.ok)
                writer.body(contentType: .octetStream, file: FileRange(descriptor: fd, offset: 0, count: file.contents.count, closeWhenSent: true))
            case "/part":
                let fd = file.open()
                opened(fd)
                writer.head(.ok)
                writer.body(contentType: .octetStream, file: FileRange(descriptor: fd, offset: 100, count: 50, closeWhenSent: true))
            case "/banner":
                writer.head(.ok)
                writer.body(contentType: .textPlain, referencing: Self.banner)
            default:
                writer.respond(.ok, contentType: .textPlain, body: StaticBytes("small"))
            }
        }
    }

    @Test("Pipelined responses of every kind of segment, written a few bytes at a time, arrive whole and in order",
          arguments: [1, 7, 64, 1000, 1 << 20])
    func partialWrites(step: Int) throws {
        let file = TemporaryFile(size: 5_000)
        let c = TestConnection(responder: responder(file))
        c.session.receive(Array(("GET /small HTTP/1.1\r\nHost: t\r\n\r\nGET /file HTTP/1.1\r\nHost: t\r\n\r\n"
                                 + "GET /banner HTTP/1.1\r\nHost: t\r\n\r\nGET /part HTTP/1.1\r\nHost: t\r\n\r\n"
                                 + "GET /small HTTP/1.1\r\nHost: t\r\n\r\n").utf8))
        let bytes = drainSegments(c.session, step: step)
        let responses = try parseAll(bytes)
        #expect(responses.map(\.body) == [Array("small".utf8), file.contents, Self.banner.buffer.map { $0 },
                                          Array(file.contents[100..<150]), Array("small".utf8)])
        #expect(responses[1].header("Content-Length") == "5000")
        #expect(c.session.isIdle)
    }

    @Test("The output closes a file once its range is written, and when the connection ends first")
    func filesClosed() throws {
        let file = TemporaryFile(size: 3_000)
        let descriptors = DescriptorList()
        let c = TestConnection(responder: responder(file) { descriptors.add($0) })
        c.session.receive(Array("GET /file HTTP/1.1\r\nHost: t\r\n\r\n".utf8))
        _ = drainSegments(c.session, step: 1 << 20)
        #expect(descriptors.all.count == 1 && descriptors.all.allSatisfy { fcntl($0, F_GETFD) == -1 })
        // Unsent when the connection goes: closed by the reset.
        c.session.receive(Array("GET /file HTTP/1.1\r\nHost: t\r\n\r\n".utf8))
        #expect(c.session.process() == .write)
        #expect(fcntl(descriptors.all[1], F_GETFD) != -1)
        c.session.reset()
        #expect(fcntl(descriptors.all[1], F_GETFD) == -1)
    }

    @Test("HEAD gets the file's length and no body; the descriptor is closed at once")
    func head() throws {
        let file = TemporaryFile(size: 1_234)
        let descriptors = DescriptorList()
        let c = TestConnection(responder: responder(file) { descriptors.add($0) })
        c.session.receive(Array("HEAD /file HTTP/1.1\r\nHost: t\r\n\r\n".utf8))
        let text = String(decoding: drainSegments(c.session, step: 100), as: UTF8.self)
        #expect(text.contains("Content-Length: 1234\r\n"))
        #expect(text.hasSuffix("\r\n\r\n"))
        #expect(fcntl(descriptors.all[0], F_GETFD) == -1)
    }

    func parseAll(_ bytes: [UInt8]) throws -> [ResponseParser.Captured] {
        var parser = ResponseParser(strict: true, capturing: true)
        var out: [ResponseParser.Captured] = []
        var offset = 0
        while offset < bytes.count {
            let (consumed, outcome) = bytes[offset...].withUnsafeBytes { parser.parse($0) }
            offset += consumed
            guard case .response = outcome else {
                Issue.record("bad response stream: \(outcome) \(parser.failure)")
                return out
            }
            out.append(parser.captured)
        }
        return out
    }
}

final class DescriptorList: @unchecked Sendable {
    private(set) var all: [Int32] = []
    func add(_ fd: Int32) { all.append(fd) }
}
