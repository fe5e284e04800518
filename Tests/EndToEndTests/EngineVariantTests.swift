import Engines
import Testing

/// Every engine variant the engine modules name, available here or not:
/// one that can run serves a request; one that cannot is reported, with
/// the reason, as a known issue (the engine suites leave it out).
@Suite("Engine variants")
struct EngineVariantTests {
    @Test("Each engine variant runs here, or why it cannot is reported", arguments: EngineRegistry.variants.map(\.name))
    func runsHere(variant: String) throws {
        if let reason = unavailability(of: variant) {
            withKnownIssue("\(variant) skipped on this machine: \(reason)") {
                Issue.record("\(variant) cannot run here: \(reason)")
            }
            return
        }
        let server = try TestServer(engine: variant)
        #expect(try server.client().get("/health").text == "ok\n")
    }
}
