import Testing
@testable import Experiments
@Test func placeholder() { #expect(true) }
