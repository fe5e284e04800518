// Responses that come later, sans I/O: the session's side of the contract
// (`.wait`, pipelined order, stale answers, the 504 when time runs out).

import LoopRuntime
import Synchronization
import Testing
@testable import HTTP1

/// Collects what the session hands to its resumer, as a loop's queue would.
final class CollectingResumer: Resumer, @unchecked Sendable {
    let answers = Mutex<[any LateAnswer]>([])
    func resume(_ answer: any LateAnswer) { answers.withLock { $0.append(answer) } }
    func take() -> [any LateAnswer] { answers.withLock { let taken = $0; $0.removeAll(); return taken } }
}

/// Defers every request whose path starts with /later; the handles are
/// kept for the test to answer.
final class DeferringResponder: @unchecked Sendable {
    let pending = Mutex<[PendingResponse]>([])
    lazy var recording = RecordingResponder { [unowned self] request, writer in
        if request.path.string.hasPrefix("/later") {
            let handle = writer.respondLater()
            pending.withLock { $0.append(handle) }
        } else {
            writer.respond(.ok, contentType: .textPlain, body: StaticBytes("now \(request.path.string)"))
        }
    }
}

@Suite("Late responses (sans I/O)")
struct SessionLateResponseTests {
    func connection() -> (TestConnection, DeferringResponder, CollectingResumer) {
        let responder = DeferringResponder()
        let connection = TestConnection(responder: responder.recording)
        let resumer = CollectingResumer()
        connection.loop.resumer = resumer
        connection.session.attach(connection: 42)
        return (connection, responder, resumer)
    }

    /// Delivers the resumer's answers to the session, as the loop does.
    func deliver(_ resumer: CollectingResumer, to connection: TestConnection) -> [Bool] {
        resumer.take().map { connection.session.answer($0) }
    }

    @Test("A deferred request makes the session wait; its answer goes out, then the pipelined requests behind it, in order")
    func orderKept() {
        let (c, responder, resumer) = connection()
        let out = c.send(Array("GET /now1 HTTP/1.1\r\nHost: t\r\n\r\nGET /later HTTP/1.1\r\nHost: t\r\n\r\nGET /now2 HTTP/1.1\r\nHost: t\r\n\r\n".utf8))
        #expect(String(decoding: out, as: UTF8.self).hasSuffix("now /now1"))
        #expect(c.lastAction == .wait)
        #expect(c.session.waitingFor == .response)
        #expect(!c.session.isIdle && !c.session.isQuiet)
        // Bytes arriving meanwhile are kept, not parsed.
        c.send(Array("GET /now3 HTTP/1.1\r\nHost: t\r\n\r\n".utf8))
        #expect(c.lastAction == .wait)
        #expect(c.responder.requests.map(\.path) == ["/now1", "/later"])

        let handle = responder.pending.withLock { $0[0] }
        #expect(handle.connection == 42)
        #expect(handle.respond { request, writer in
            writer.respond(.ok, contentType: .textPlain, body: StaticBytes("late \(request.path.string)"))
        })
        #expect(!handle.respond(.ok, contentType: nil, body: []))  // a second answer is refused
        #expect(deliver(resumer, to: c) == [true])
        let rest = String(decoding: c.pump(), as: UTF8.self)
        let late = rest.range(of: "late /later")!, now2 = rest.range(of: "now /now2")!, now3 = rest.range(of: "now /now3")!
        #expect(late.upperBound <= now2.lowerBound && now2.upperBound <= now3.lowerBound)
        #expect(c.lastAction == .read)
        #expect(c.session.isIdle)
        #expect(c.loop.counters.snapshot().lateResponses == 1)
    }

    @Test("An answer the session is not waiting for is refused: after a timeout, or for an earlier request")
    func staleAnswers() {
        let (c, responder, resumer) = connection()
        c.send(Array("GET /later1 HTTP/1.1\r\nHost: t\r\n\r\n".utf8))
        let first = responder.pending.withLock { $0[0] }
        c.session.deadlinePassed()
        let timedOut = String(decoding: c.pump(), as: UTF8.self)
        #expect(timedOut.hasPrefix("HTTP/1.1 504 Gateway Timeout\r\n"))
        #expect(timedOut.contains("Connection: close\r\n"))
        #expect(c.lastAction == .close)
        first.respond(.ok, contentType: nil, body: Array("too late".utf8))
        #expect(deliver(resumer, to: c) == [false])

        // A new connection on the same session object: the old handle stays stale.
        let (d, responder2, resumer2) = connection()
        d.send(Array("GET /later1 HTTP/1.1\r\nHost: t\r\n\r\n".utf8))
        let old = responder2.pending.withLock { $0[0] }
        d.session.reset()
        d.session.attach(connection: 43)
        d.send(Array("GET /later2 HTTP/1.1\r\nHost: t\r\n\r\n".utf8))
        old.respond(.ok, contentType: nil, body: Array("old".utf8))
        #expect(deliver(resumer2, to: d) == [false])
        #expect(d.lastAction == .wait)
    }

    @Test("An answer that writes nothing becomes a 500 rather than a hang")
    func abandonedAnswer() {
        let (c, responder, resumer) = connection()
        c.send(Array("GET /later HTTP/1.1\r\nHost: t\r\n\r\n".utf8))
        responder.pending.withLock { $0[0] }.respond { _, _ in }
        #expect(deliver(resumer, to: c) == [true])
        #expect(String(decoding: c.pump(), as: UTF8.self).hasPrefix("HTTP/1.1 500 "))
    }
}
