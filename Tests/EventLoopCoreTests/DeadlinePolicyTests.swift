// The deadline policy: pure, so every rule is checked on plain numbers.

import Testing
@testable import EventLoopCore

@Suite("Deadline policy")
struct DeadlinePolicyTests {
    let settings = DeadlineSettings(head: 10_000, body: 20_000, keepAlive: 5_000, send: 30_000, drainIdleGrace: 250, response: 2_000)

    @Test("Each wait gets its own timeout", arguments: [
        (DeadlinePolicy.Waiting.sending, 31_000),
        (.idle(draining: false), 6_000),
        (.idle(draining: true), 1_250),
        (.body, 21_000),
        (.head(startedAt: 400), 10_400),
        (.response, 3_000),
    ])
    func deadlines(waiting: DeadlinePolicy.Waiting, expected: Int) {
        #expect(DeadlinePolicy.deadline(waiting, now: 1_000, settings: settings) == expected)
    }

    @Test("The draining flag picks the drain grace over the keep-alive timeout")
    func idleTimeouts() {
        #expect(DeadlinePolicy.Waiting.idle(draining: false).timeout == .keepAlive)
        #expect(DeadlinePolicy.Waiting.idle(draining: true).timeout == .drainIdleGrace)
    }

    @Test("A head keeps the start of its first byte while it trickles in; the next request starts afresh")
    func headStart() {
        // First bytes of a head: no start yet.
        var start = DeadlinePolicy.headStart(startedAt: -1, requestsSeen: 0, requestsCompleted: 0, now: 100)
        #expect(start == 100)
        // More bytes of the same head later: the start stays, so trickling gains nothing.
        start = DeadlinePolicy.headStart(startedAt: start, requestsSeen: 0, requestsCompleted: 0, now: 9_000)
        #expect(start == 100)
        #expect(DeadlinePolicy.deadline(.head(startedAt: start), now: 9_000, settings: settings) == 10_100)
        // A request was answered since: a new head, a new start.
        start = DeadlinePolicy.headStart(startedAt: start, requestsSeen: 0, requestsCompleted: 1, now: 9_500)
        #expect(start == 9_500)
    }
}
