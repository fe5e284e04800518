import Testing
@testable import Topology

@Suite struct PinPolicyTests {
    @Test(arguments: [
        ("none", PinPolicy.none),
        ("compact", .compact),
        ("scatter", .scatter),
        ("cpus:5", .cpus([5])),
        ("cpus:0,2,4", .cpus([0, 2, 4])),
        ("cpus:0-3", .cpus([0, 1, 2, 3])),
        ("cpus:0-1,4", .cpus([0, 1, 4])),
        ("cpus:3,1", .cpus([3, 1])),
        ("cpus:6-7,0-1", .cpus([6, 7, 0, 1])),
        ("cpus:2-2", .cpus([2])),
    ])
    func parsesValidForms(text: String, expected: PinPolicy) throws {
        let policy = try PinPolicy(parsing: text)
        #expect(policy == expected)
        #expect(try PinPolicy(parsing: policy.description) == policy)
    }

    @Test(arguments: [
        (PinPolicy.none, "none"),
        (.compact, "compact"),
        (.scatter, "scatter"),
        (.cpus([0, 2, 4]), "cpus:0,2,4"),
        (.cpus([0, 1]), "cpus:0,1"),
        (.cpus([0, 1, 2, 3]), "cpus:0-3"),
        (.cpus([3, 1]), "cpus:3,1"),
        (.cpus([8, 0, 1, 2, 5]), "cpus:8,0-2,5"),
    ])
    func describesAsFlagText(policy: PinPolicy, text: String) throws {
        #expect(policy.description == text)
        #expect("\(policy)" == text)
        #expect(try PinPolicy(parsing: text) == policy)
    }

    @Test(arguments: [
        "", "Compact", "compact ", "spread", "cpus", "cpus:", "cpus:a", "cpus:1,", "cpus:,1", "cpus:1,,2",
        "cpus:3-1", "cpus:-1", "cpus:1-", "cpus:1-2-3", "cpus:0,0", "cpus:0-2,2", "cpus:+1", "cpus: 1",
        "cpus:99999999999", "cpus:100000", "cpus=0,1", "CPUS:0",
    ])
    func rejectsInvalidForms(text: String) {
        let error = #expect(throws: TopologyError.self) { try PinPolicy(parsing: text) }
        let message = error?.description ?? ""
        #expect(message.contains("--pin"), "\(message)")
        for form in ["none", "compact", "scatter", "cpus:"] {
            #expect(message.contains(form), "\(message)")
        }
    }

    @Test func namesTheFaultInTheMessage() {
        let backwards = #expect(throws: TopologyError.self) { try PinPolicy(parsing: "cpus:3-1") }
        #expect(backwards?.description.contains("backwards") == true)
        let twice = #expect(throws: TopologyError.self) { try PinPolicy(parsing: "cpus:0-2,2") }
        #expect(twice?.description.contains("CPU 2 is listed twice") == true)
        let unknown = #expect(throws: TopologyError.self) { try PinPolicy(parsing: "spread") }
        #expect(unknown?.description.contains("\"spread\"") == true)
    }
}
