// Slot tags: what events and completions carry to find their connection.

import Testing
@testable import EventLoopCore

@Suite("Slot tags")
struct SlotTagTests {
    @Test("Kind, slot and generation survive the round trip", arguments: [
        (UInt8(0), 0, UInt32(0)), (UInt8(3), 17, UInt32(1)), (UInt8(0xFE), Int(UInt32.max), UInt32(0xFF_FFFF)),
    ])
    func roundTrip(kind: UInt8, slot: Int, generation: UInt32) {
        let tag = SlotTag(raw: SlotTag(kind: kind, slot: slot, generation: generation).raw)
        #expect(tag.kind == kind)
        #expect(tag.slot == slot)
        #expect(tag.generation == generation)
    }

    @Test("A tag matches its own connection and not the slot's next one")
    func staleTags() {
        let tag = SlotTag(slot: 5, generation: 41)
        #expect(tag.matches(generation: 41))
        #expect(!tag.matches(generation: 42))
    }

    @Test("The generation is kept in 24 bits: a full 32-bit generation matches by its low bits")
    func generationWraps() {
        let generation: UInt32 = 0x0100_0007
        let tag = SlotTag(slot: 1, generation: generation)
        #expect(tag.generation == 7)
        #expect(tag.matches(generation: generation))
        #expect(!tag.matches(generation: generation &+ 1))
    }

    @Test("A connection tag never collides with the loops' reserved tags (listener, wake)")
    func reserved() {
        let highest = SlotTag(kind: 0, slot: Int(UInt32.max), generation: SlotTag.generationMask)
        #expect(highest.raw < UInt64.max - 2)
    }
}
