import Testing
@testable import Metrics

/// The counter slots are literals (see `Slot`); they must still be the
/// consecutive layout they stand for.
@Suite struct SlotLayoutTests {
    @Test func slotsAreConsecutive() {
        #expect(Slot.otherStatus == Slot.trackedStatuses.count)
        let order = [Slot.otherStatus, Slot.bytesIn, Slot.bytesOut, Slot.connectionsOpened, Slot.connectionsClosed,
                     Slot.routedRequests, Slot.poolMisses, Slot.poolInUse, Slot.poolHighWater, Slot.requestLimitCloses,
                     Slot.shedCritical]
        #expect(order == Array(Slot.otherStatus..<(Slot.otherStatus + order.count)))
        #expect(Slot.busyMicros == Slot.shedCritical + 3)
        let rest = [Slot.busyMicros, Slot.overloadEpisodes, Slot.queueDelayMicros, Slot.overloaded,
                    Slot.utilizationPerMille, Slot.cpuClock, Slot.lateResponses, Slot.staleResumes, Slot.poolReleasedBytes, Slot.count]
        #expect(rest == Array(Slot.busyMicros..<(Slot.busyMicros + rest.count)))
    }
}
