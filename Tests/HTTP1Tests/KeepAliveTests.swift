// Persistence rules (RFC 9112 §9.3) and graceful shutdown (beginDraining).

import LoopRuntime
import Testing
@testable import HTTP1

@Suite("Keep-alive")
struct KeepAliveTests {
    /// RFC 9112 §9.3: HTTP/1.1 connections persist by default.
    @Test func http11PersistsByDefault() {
        let c = TestConnection()
        c.send(request("GET /1 HTTP/1.1"))
        #expect(!c.closed)
        #expect(c.lastAction == .read)
        c.send(request("GET /2 HTTP/1.1"))
        let r = result(of: c)
        expectServedOpen(r, count: 2)
        #expect(r.responses.allSatisfy { $0.header("Connection") == nil })
        #expect(r.requests.allSatisfy { $0.keepAlive })
        #expect(c.session.isIdle)
    }

    /// RFC 9112 §9.6: after a request with `Connection: close` the server
    /// answers with `Connection: close`, closes, and reads nothing further —
    /// a request pipelined after it is not processed.
    @Test func connectionCloseStopsThePipeline() {
        let r = run(request("GET /last HTTP/1.1", ["Host: x", "Connection: close"]) + request("GET /ignored HTTP/1.1"))
        #expect(r.statuses == [200])
        #expect(r.requests.map(\.path) == ["/last"])
        #expect(r.requests.first?.keepAlive == false)
        #expect(r.responses.first?.header("Connection") == "close")
        #expect(r.closed)
    }

    /// Bytes that arrive after the closing response are never parsed.
    @Test func bytesAfterCloseAreIgnored() {
        let c = TestConnection()
        c.send(request("GET / HTTP/1.1", ["Host: x", "Connection: close"]))
        #expect(c.closed)
        #expect(c.session.willClose)
        #expect(c.session.process() == .close)
        #expect(c.requests.count == 1)
    }

    /// RFC 9112 §9.3: HTTP/1.0 closes by default.
    @Test func http10ClosesByDefault() {
        let r = run("GET / HTTP/1.0\r\n\r\n".bytes + request("GET /ignored HTTP/1.1"))
        #expect(r.statuses == [200])
        #expect(r.requests.first?.keepAlive == false)
        #expect(r.responses.first?.header("Connection") == "close")
        #expect(r.closed)
    }

    /// RFC 9112 §9.3 / appendix C.2.2: an HTTP/1.0 client asking for
    /// keep-alive gets `Connection: keep-alive` and the connection stays open.
    @Test(arguments: ["keep-alive", "Keep-Alive", "foo, keep-alive"])
    func http10KeepAlive(_ value: String) {
        let c = TestConnection()
        c.send("GET /1 HTTP/1.0\r\nConnection: \(value)\r\n\r\n".bytes)
        #expect(!c.closed)
        c.send("GET /2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".bytes)
        let r = result(of: c)
        expectServedOpen(r, count: 2)
        #expect(r.responses.map { $0.header("Connection") } == ["keep-alive", "keep-alive"])
        #expect(r.requests.allSatisfy { $0.keepAlive && $0.version == .http10 })
    }

    /// `close` wins over `keep-alive` in the same list.
    @Test func closeWinsOverKeepAlive() {
        let r = run("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n")
        #expect(r.requests.first?.keepAlive == false)
        #expect(r.responses.first?.closes == true)
        #expect(r.closed)
    }

    /// Draining: the next response says `Connection: close` and the session
    /// closes after it; a pipelined request after it is not processed.
    @Test func drainingClosesAfterNextResponse() {
        let c = TestConnection()
        c.send(request("GET /before HTTP/1.1"))
        #expect(!c.closed)
        c.session.beginDraining()
        c.send(request("GET /during HTTP/1.1") + request("GET /never HTTP/1.1"))
        let r = result(of: c)
        #expect(r.statuses == [200, 200])
        #expect(r.requests.map(\.path) == ["/before", "/during"])
        #expect(r.responses[0].header("Connection") == nil)
        #expect(r.responses[1].header("Connection") == "close")
        #expect(c.closed)
    }

    /// A draining idle connection still reads (its client may have sent a
    /// request already; the engine's drain grace decides when to close), and
    /// a request that arrives is answered with `Connection: close`. A
    /// connection in the middle of a request finishes it first.
    @Test func drainingIdleAndBusyConnections() {
        let idle = TestConnection()
        idle.session.beginDraining()
        #expect(idle.session.process() == .read)
        #expect(idle.session.isDraining)
        idle.send("GET /late HTTP/1.1\r\nHost: x\r\n\r\n".bytes)
        let late = result(of: idle)
        #expect(late.statuses == [200])
        #expect(late.responses.first?.closes == true)
        #expect(idle.closed)

        let busy = TestConnection()
        busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n".bytes)
        busy.session.beginDraining()
        #expect(busy.pump().isEmpty)
        #expect(!busy.closed, "a half-received request is not cut off")
        busy.send("\r\n".bytes)
        let r = result(of: busy)
        #expect(r.statuses == [200])
        #expect(r.responses.first?.closes == true)
        #expect(busy.closed)
    }

    /// isIdle: nothing buffered, no partial request, no output pending.
    @Test func idleTracking() {
        let c = TestConnection()
        #expect(c.session.isIdle)
        c.send("GET / HTTP/1.1\r\n".bytes)
        #expect(!c.session.isIdle)
        c.send("Host: x\r\n\r\n".bytes)
        #expect(c.session.isIdle)
        c.send(request("POST / HTTP/1.1", ["Host: x", "Content-Length: 4"], body: "ab"))
        #expect(!c.session.isIdle, "waiting for the rest of the body")
        c.send("cd".bytes)
        #expect(c.session.isIdle)
    }

    // MARK: Read timeouts (the engine's deadline; RFC 9110 §15.5.9)

    /// A client that stops in the middle of a request gets 408 and the
    /// connection closes.
    @Test(arguments: ["GET /slow HTTP/1.1\r\nHost: x\r\n", "GET /sl", "\r\n"])
    func timeoutWithPartialHead(_ partial: String) {
        let c = TestConnection()
        c.send(partial.bytes)
        #expect(!c.closed)
        c.session.deadlinePassed()
        c.pump()
        let r = result(of: c)
        #expect(r.statuses == [408])
        #expect(r.responses.first?.closes == true)
        #expect(r.requests.isEmpty)
        #expect(c.closed)
    }

    /// The same while waiting for a body.
    @Test func timeoutWaitingForBody() {
        let c = TestConnection()
        c.send(request("POST / HTTP/1.1", ["Host: x", "Content-Length: 10"], body: "12345"))
        c.session.deadlinePassed()
        c.pump()
        #expect(result(of: c).statuses == [408])
        #expect(c.closed)
    }

    /// An idle connection (nothing buffered, everything answered) closes
    /// silently: there is no request to answer.
    @Test func timeoutWhenIdle() {
        let fresh = TestConnection()
        fresh.session.deadlinePassed()
        #expect(fresh.session.process() == .close)
        #expect(fresh.output.isEmpty)

        let served = TestConnection()
        served.send(request("GET / HTTP/1.1"))
        let before = served.output.count
        served.session.deadlinePassed()
        served.pump()
        #expect(served.output.count == before, "no 408 after a complete exchange")
        #expect(served.closed)
    }

    // MARK: Session reuse (reset)

    /// After reset() a session serves a new connection as if new: no state
    /// (close flag, draining, buffered bytes, pending output) carries over.
    @Test func resetAfterClose() {
        let c = TestConnection()
        c.session.beginDraining()
        c.send(request("GET /a HTTP/1.1", ["Host: x", "Connection: close"]))
        #expect(c.closed)
        c.session.reset()
        #expect(c.session.isIdle)
        #expect(!c.session.willClose)
        #expect(c.session.process() == .read)
        // TestConnection stops feeding once it saw .close; drive by hand.
        c.session.receive(request("GET /b HTTP/1.1"))
        #expect(c.session.process() == .write)
        let responses = (try? parseResponses(Array(c.session.pendingOutput))) ?? []
        #expect(responses.map { $0.status } == [200])
        #expect(responses.first?.header("Connection") == nil, "neither the close nor the draining carried over")
        c.session.didWrite(c.session.pendingOutput.count)
        #expect(c.session.process() == .read)
    }

    /// reset() in the middle of a request (with output still pending and a
    /// body half received) drops all of it.
    @Test func resetMidRequest() {
        let c = TestConnection()
        c.session.receive(request("GET /1 HTTP/1.1") + request("POST /2 HTTP/1.1", ["Host: x", "Content-Length: 10"], body: "abc"))
        #expect(c.session.process() == .write)
        #expect(c.session.waitingFor == .body)
        c.session.reset()
        #expect(c.session.pendingOutput.count == 0)
        #expect(c.session.waitingFor != .body)
        #expect(c.session.isIdle)
        c.send(request("GET /3 HTTP/1.1"))
        let r = result(of: c)
        // /1 was answered but its unsent response discarded; only /3's goes out.
        #expect(r.requests.map(\.path) == ["/1", "/3"])
        #expect(r.statuses == [200])
        #expect(r.responses.first?.bodyText == "GET /3\n")
        #expect(!c.closed)
    }
}

@Suite("Requests per connection")
struct RequestLimitTests {
    /// `--max-requests-per-connection 3`: five pipelined requests get three
    /// responses, the third says `Connection: close`, the rest are not
    /// answered (the client retries them on a new connection), and the close
    /// is counted.
    @Test func lastAllowedResponseCloses() {
        let c = TestConnection(limits: HTTPLimits(maxRequestsPerConnection: 3))
        c.send((0..<5).map { "GET /r\($0) HTTP/1.1\r\nHost: x\r\n\r\n" }.joined().bytes)
        let r = result(of: c)
        #expect(r.statuses == [200, 200, 200])
        #expect(r.responses.map { $0.header("Connection") } == [nil, nil, "close"])
        #expect(c.closed)
        #expect(c.loop.counters.snapshot().requestLimitCloses == 1)
    }

    /// A request that closes anyway (HTTP/1.0 without keep-alive) is not counted.
    @Test func closingRequestIsNotCounted() {
        let c = TestConnection(limits: HTTPLimits(maxRequestsPerConnection: 1))
        c.send("GET / HTTP/1.0\r\n\r\n".bytes)
        #expect(result(of: c).statuses == [200])
        #expect(c.loop.counters.snapshot().requestLimitCloses == 0)
    }
}
