import Application
import Foundation
import HTTP1
import HTTPReplay
import Metrics
import Testing

/// The fuzz seed corpus and every input the fuzzer found a bug with, replayed
/// through the session with the demo application under the fuzzer's own
/// invariants (`ReplayInvariants`), split many ways.
@Suite("Fuzz corpus")
struct CorpusTests {
    static let fuzzDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fuzz")

    static func files(in folder: String) -> [URL] {
        let directory = fuzzDirectory.appendingPathComponent(folder)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0 != "README.md" }.sorted().map { directory.appendingPathComponent($0) }
    }

    static let application: Application = {
        var demo = DemoConfiguration()
        demo.maxWorkMicroseconds = 50
        return try! Application.demo(demo, metrics: MetricsRegistry())
    }()

    /// Whole, one byte at a time, and eight seeded splits.
    static func splits(of bytes: [UInt8]) -> [[[UInt8]]] {
        var out: [[[UInt8]]] = [[bytes], bytes.map { [$0] }]
        for seed: UInt32 in 1...8 {
            let prefix = withUnsafeBytes(of: seed.littleEndian) { Array($0) }
            out.append(SessionReplay.pieces(fromFuzzInput: prefix + bytes))
        }
        return out
    }

    /// Every split under every parser variant this CPU has must keep the
    /// invariants and match the scalar parser's whole-input run.
    func check(_ bytes: [UInt8], name: String) {
        let whole = SessionReplay.run(pieces: [bytes], responder: Self.application, limits: HTTPLimits(parserSIMD: .scalar))
        for simd in ParserSIMD.supported {
            for pieces in Self.splits(of: bytes) {
                let split = SessionReplay.run(pieces: pieces, responder: Self.application, limits: HTTPLimits(parserSIMD: simd))
                let problems = ReplayInvariants.violations(split) + ReplayInvariants.splitViolations(whole: whole, split: split)
                #expect(problems.isEmpty, "\(name) in \(pieces.count) pieces, parser \(simd): \(problems)")
            }
        }
    }

    @Test("The seed corpus is present (a moved directory must not pass silently)")
    func corpusIsThere() {
        #expect(Self.files(in: "corpus").count >= 50)
    }

    @Test("Every seed input keeps the invariants however it is split")
    func seeds() throws {
        for file in Self.files(in: "corpus") {
            check(Array(try Data(contentsOf: file)), name: file.lastPathComponent)
        }
    }

    @Test("Every input the fuzzer broke the session with keeps them now")
    func regressions() throws {
        for file in Self.files(in: "regressions") {
            let data = Array(try Data(contentsOf: file))
            // As the fuzzer split it, then as a client's bytes alone.
            let pieces = SessionReplay.pieces(fromFuzzInput: data)
            let split = SessionReplay.run(pieces: pieces, responder: Self.application)
            let whole = SessionReplay.run(pieces: [Array(pieces.joined())], responder: Self.application)
            let problems = ReplayInvariants.violations(split) + ReplayInvariants.splitViolations(whole: whole, split: split)
            #expect(problems.isEmpty, "\(file.lastPathComponent): \(problems)")
            check(Array(pieces.joined()), name: file.lastPathComponent)
        }
    }
}
