// The loop clock and the turn accounting on fake time: queueing delay after
// busy and idle waits, latency samples of requests answered in a turn.

import EngineCore
import Metrics
import Testing
@testable import EventLoopCore
@testable import LoopRuntime

@Suite("Turn accounting")
struct TurnAccountingTests {
    @Test("The turn count wraps before the 'no turn' value")
    func turnWraps() {
        var clock = LoopClock(micros: 0, turn: LoopClock.noTurn - 2)
        clock.beginTurn()
        #expect(clock.turn == LoopClock.noTurn - 1)
        clock.beginTurn()
        #expect(clock.turn == 0)
        #expect(clock.millis == clock.micros / 1000)
    }

    @Test("After a wait that found work at once, the queueing delay counts from the previous turn's start; after an idle wait it is 0")
    func queueDelay() {
        let loop = LoopContext(counters: WorkerCounters())
        var turns = TurnClock(settings: OverloadSettings(), now: 0)
        turns.tick(at: 1_000, loop: loop)             // turn 1 begins
        turns.willWait(at: 3_000, loop: loop)         // 2 ms of work
        turns.tick(at: 3_005, loop: loop)             // the wait returned at once: busy
        #expect(loop.counters.snapshot().queueDelayMicros == 2_005)
        turns.willWait(at: 3_100, loop: loop)
        turns.tick(at: 50_000, loop: loop)            // a long, idle wait
        #expect(loop.counters.snapshot().queueDelayMicros == 0)
    }

    @Test("Requests answered in a turn are recorded once, at its end, with the turn's queueing delay")
    func latencySamples() {
        let loop = LoopContext(counters: WorkerCounters())
        var turns = TurnClock(settings: OverloadSettings(), now: 0)
        turns.tick(at: 1_000, loop: loop)
        loop.overload.answered(.normal)
        loop.overload.answered(.normal)
        loop.overload.answered(.low)
        turns.willWait(at: 1_400, loop: loop)
        let latency = loop.counters.latency.snapshot()
        #expect(latency.total(.requestDuration, priority: PriorityClass.normal.rawValue) == 2)
        #expect(latency.total(.requestDuration, priority: PriorityClass.low.rawValue) == 1)
        #expect(latency.total(.queueDelay, priority: PriorityClass.normal.rawValue) == 2)
        #expect(loop.overload.answeredNormal == 0 && loop.overload.answeredLow == 0)
        // A turn with nothing answered records nothing more.
        turns.tick(at: 1_405, loop: loop)
        turns.willWait(at: 1_500, loop: loop)
        #expect(loop.counters.latency.snapshot().total(.requestDuration, priority: PriorityClass.normal.rawValue) == 2)
    }
}
