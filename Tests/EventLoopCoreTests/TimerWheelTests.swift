// The timer wheel on a fake clock: rounding, never the current tick,
// re-arming, cancelling, deadlines beyond one revolution, the wait.

import Testing
@testable import EventLoopCore

@Suite("Timer wheel")
struct TimerWheelTests {
    /// Advances the wheel to `now` and returns the slots that fired.
    private func fire(_ wheel: TimerWheel, at now: Int) -> [Int] {
        var expired: [Int] = []
        wheel.advance(to: now, collectingInto: &expired)
        return expired.sorted()
    }

    @Test("A deadline is rounded up to its tick: it fires no earlier than asked, at most one tick late")
    func roundsUp() {
        let wheel = TimerWheel(tickMilliseconds: 100, now: 1_000)
        wheel.reserve(slots: 2)
        wheel.arm(0, at: 1_150)  // tick 12 (1,200 ms)
        wheel.arm(1, at: 1_200)  // exactly tick 12
        #expect(wheel.tick(for: 1_150) == 12)
        #expect(wheel.tick(for: 1_200) == 12)
        #expect(wheel.tick(for: 1_201) == 13)
        #expect(fire(wheel, at: 1_199).isEmpty)
        #expect(fire(wheel, at: 1_200) == [0, 1])
        #expect(wheel.armedCount == 0)
    }

    @Test("A deadline already past, or in the current tick, fires in the next tick, never the one being processed")
    func neverTheCurrentTick() {
        let wheel = TimerWheel(tickMilliseconds: 100, now: 1_050)
        wheel.reserve(slots: 1)
        wheel.arm(0, at: 900)
        #expect(fire(wheel, at: 1_099).isEmpty)
        #expect(fire(wheel, at: 1_100) == [0])
    }

    @Test("Re-arming moves the deadline; cancelling removes it")
    func rearmAndCancel() {
        let wheel = TimerWheel(tickMilliseconds: 100, now: 0)
        wheel.reserve(slots: 3)
        wheel.arm(0, at: 200)
        wheel.arm(1, at: 200)
        wheel.arm(2, at: 200)
        wheel.arm(0, at: 500)
        wheel.cancel(1)
        #expect(wheel.armedCount == 2)
        #expect(fire(wheel, at: 200) == [2])
        #expect(fire(wheel, at: 400).isEmpty)
        #expect(fire(wheel, at: 500) == [0])
    }

    @Test("A deadline more than one revolution away is skipped until its turn comes round")
    func beyondOneRevolution() {
        let wheel = TimerWheel(tickMilliseconds: 10, now: 0)
        wheel.reserve(slots: 1)
        // 512 buckets of 10 ms: 5,120 ms a revolution.
        wheel.arm(0, at: 5_120 + 30)
        #expect(fire(wheel, at: 30).isEmpty)
        #expect(fire(wheel, at: 5_140).isEmpty)
        #expect(fire(wheel, at: 5_150) == [0])
    }

    @Test("After a long stall one pass finds everything due")
    func longStall() {
        let wheel = TimerWheel(tickMilliseconds: 10, now: 0)
        wheel.reserve(slots: 3)
        wheel.arm(0, at: 20)
        wheel.arm(1, at: 3_000)
        wheel.arm(2, at: 90_000)
        #expect(fire(wheel, at: 60_000) == [0, 1])
        #expect(fire(wheel, at: 90_000) == [2])
    }

    @Test("The wait ends at the next tick boundary; with nothing armed the loop sleeps until an event")
    func waitMilliseconds() {
        let wheel = TimerWheel(tickMilliseconds: 100, now: 1_000)
        wheel.reserve(slots: 1)
        #expect(wheel.waitMilliseconds(now: 1_030) == -1)
        wheel.arm(0, at: 5_000)
        #expect(wheel.waitMilliseconds(now: 1_030) == 70)
        #expect(!wheel.mayExpire(at: 1_099))
        #expect(wheel.mayExpire(at: 1_100))
        // Past the boundary but not yet advanced: the next boundary after now.
        #expect(wheel.waitMilliseconds(now: 1_250) == 50)
    }
}
