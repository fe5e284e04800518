// RFC 9112 §9.3.2: a server MAY process pipelined requests in parallel but
// MUST send the responses in the order the requests were received.

import Testing
@testable import HTTP1

/// 50 requests, GET and POST mixed, each with a distinct path.
func pipeline(_ count: Int = 50) -> (bytes: [UInt8], paths: [String], bodies: [[UInt8]]) {
    var bytes: [UInt8] = []
    var paths: [String] = []
    var bodies: [[UInt8]] = []
    for i in 0..<count {
        let path = "/req/\(i)"
        paths.append(path)
        switch i % 3 {
        case 0:
            bytes += request("GET \(path) HTTP/1.1")
            bodies.append([])
        case 1:
            let body = "body-\(i)-" + String(repeating: "p", count: i)
            bytes += request("POST \(path) HTTP/1.1", ["Host: x", "Content-Length: \(body.utf8.count)"], body: body)
            bodies.append(body.bytes)
        default:
            let body = "chunk-\(i)"
            bytes += chunkedRequest(String(body.utf8.count, radix: 16) + "\r\n" + body + "\r\n0\r\n\r\n", path: path)
            bodies.append(body.bytes)
        }
    }
    return (bytes, paths, bodies)
}

@Suite("Pipelining")
struct PipeliningTests {
    /// 50 requests in one read are answered in order, and (below the output
    /// high-water mark) all in the first process() call: one write.
    @Test func fiftyRequestsInOneFeed() {
        let (bytes, paths, bodies) = pipeline()
        let c = TestConnection()
        c.session.receive(bytes)
        #expect(c.session.process() == .write)
        #expect(c.requests.count == 50, "all pipelined requests answered before the first write")
        c.pump()
        let r = result(of: c)
        expectServedOpen(r, count: 50)
        #expect(r.requests.map(\.path) == paths)
        #expect(r.requests.map(\.body) == bodies)
        let expected = zip(r.requests, bodies).map { echoBody(method: $0.method, target: $0.target, body: $1) }
        #expect(r.responses.map(\.body) == expected, "responses in request order")
        #expect(c.session.isIdle)
    }

    /// The same pipeline arriving in uneven reads that cut requests anywhere.
    @Test(arguments: [1, 7, 100, 333])
    func fiftyRequestsInUnevenReads(_ size: Int) {
        let (bytes, paths, _) = pipeline()
        var pieces: [[UInt8]] = []
        var i = 0, k = 0
        while i < bytes.count {
            let n = size + (k % 5) * 3
            pieces.append(Array(bytes[i..<min(i + n, bytes.count)]))
            i += n
            k += 1
        }
        let r = run(pieces: pieces)
        expectServedOpen(r, count: 50)
        #expect(r.requests.map(\.path) == paths)
        #expect(r.responses.map(\.body) == r.requests.map { echoBody(method: $0.method, target: $0.target, body: $0.body) })
    }

    /// Backpressure: with a small `outputHighWater`, process() stops taking
    /// requests and asks for a write long before the input is consumed; after
    /// the writes (here partial, 7 bytes at a time) every request is answered
    /// in order.
    @Test(arguments: [Int.max, 7])
    func outputBackpressure(_ maxWrite: Int) {
        let (bytes, paths, _) = pipeline()
        let c = TestConnection()
        c.maxWrite = maxWrite
        c.session.outputHighWater = 300
        c.session.receive(bytes)
        #expect(c.session.process() == .write)
        let answeredBeforeFirstWrite = c.requests.count
        #expect(answeredBeforeFirstWrite >= 1)
        #expect(answeredBeforeFirstWrite < 10, "stopped at the high-water mark")
        #expect(c.session.pendingOutput.count >= 300)
        #expect(!c.session.isIdle)
        c.pump()
        let r = result(of: c)
        expectServedOpen(r, count: 50)
        #expect(r.requests.map(\.path) == paths)
        #expect(r.responses.map(\.body) == r.requests.map { echoBody(method: $0.method, target: $0.target, body: $0.body) })
        #expect(c.writeActions > 5)
        #expect(c.session.isIdle)
    }

    /// While output waits, a request with `Connection: close` in the middle
    /// of the pipeline still ends it.
    @Test func closeInTheMiddleOfThePipeline() {
        var bytes: [UInt8] = []
        for i in 0..<10 {
            bytes += request("GET /\(i) HTTP/1.1", i == 4 ? ["Host: x", "Connection: close"] : ["Host: x"])
        }
        let r = run(pieces: [bytes], setUp: { $0.outputHighWater = 50 })
        #expect(r.statuses == [200, 200, 200, 200, 200])
        #expect(r.requests.map(\.path) == ["/0", "/1", "/2", "/3", "/4"])
        #expect(r.responses.last?.closes == true)
        #expect(r.closed)
    }

    /// A pipeline whose last request is incomplete: the complete ones are
    /// answered, the session then waits for the rest.
    @Test func incompleteTail() {
        let full = request("GET /a HTTP/1.1") + request("POST /b HTTP/1.1", ["Host: x", "Content-Length: 4"], body: "wxyz")
        let c = TestConnection()
        c.send(full + "GET /c HT".bytes)
        #expect(c.requests.map(\.path) == ["/a", "/b"])
        #expect(c.lastAction == .read)
        #expect(!c.session.isIdle)
        c.send("TP/1.1\r\nHost: x\r\n\r\n".bytes)
        #expect(c.requests.map(\.path) == ["/a", "/b", "/c"])
        expectServedOpen(result(of: c), count: 3)
    }

    /// An error in the middle of a pipeline: earlier responses are sent, the
    /// error response follows in order, later requests are dropped.
    @Test func errorInTheMiddleOfThePipeline() {
        let bytes = request("GET /1 HTTP/1.1") + request("GET /2 HTTP/1.1")
            + request("POST /3 HTTP/1.1", ["Host: x", "Content-Length: x"]) + request("GET /4 HTTP/1.1")
        let r = run(bytes)
        #expect(r.statuses == [200, 200, 400])
        #expect(r.requests.map(\.path) == ["/1", "/2"])
        #expect(r.closed)
    }

    /// The worker's counters see every response and every byte.
    @Test func countersMatchTheTraffic() {
        let (bytes, _, _) = pipeline(20)
        let c = TestConnection()
        c.maxWrite = 100
        c.send(bytes)
        let snapshot = c.loop.counters.snapshot()
        #expect(snapshot.responses == 20)
        #expect(snapshot.bytesIn == UInt64(bytes.count))
        #expect(snapshot.bytesOut == UInt64(c.output.count))
        #expect(snapshot.responsesByStatus.map(\.status) == [200])
    }
}
