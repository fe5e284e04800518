import Foundation
import Testing
@testable import Experiments

@Suite struct ResultsTests {
    func scratchPath() -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("exp-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder.appendingPathComponent("results.csv").path
    }

    func row(_ run: ScheduledRun, reason: String = "") -> ResultRow {
        var row = ResultRow(experiment: "t", run: run, arrivals: .poisson, startedAt: "2026-11-25T22:10:09Z")
        row.requests = 1000
        row.rps = 2000.5
        row.p99 = 123.25
        row.peakRSSKiB = 4096
        if !reason.isEmpty { row.fail(reason) }
        return row
    }

    @Test func quotingFollowsRFC4180() {
        #expect(ResultsCSV.quote("plain") == "plain")
        #expect(ResultsCSV.quote("a,b") == "\"a,b\"")
        #expect(ResultsCSV.quote("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(ResultsCSV.quote("two\nlines") == "\"two\nlines\"")
        #expect(ResultsCSV.header.count == 43)
        #expect(ResultsCSV.header.first == "experiment" && ResultsCSV.header.last == "started_at")
    }

    @Test func writeAndReadBack() throws {
        let spec = try parse(minimalSpec)
        let path = scratchPath()
        let runs = spec.runOrder
        do {
            let csv = try ResultsCSV(path: path)
            try csv.append(row(runs[0]))
            try csv.append(row(runs[1], reason: "server exited: \"bad\", status 1\nsee log"))
        }
        let read = try ResultsCSV.read(path: path)
        #expect(read == [row(runs[0]), row(runs[1], reason: "server exited: \"bad\", status 1\nsee log")])
        #expect(read[0].rate == nil && read[0].arrivals == "" && read[0].threads == 1)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasPrefix(ResultsCSV.header.joined(separator: ",") + "\n"))
        // Reopening appends after what is there, without a second header.
        let reopened = try ResultsCSV(path: path)
        #expect(reopened.rows.count == 2)
        try reopened.append(row(runs[2]))
        #expect(try ResultsCSV.read(path: path).count == 3)
    }

    @Test func tornLastLineIsCutOff() throws {
        let spec = try parse(minimalSpec)
        let path = scratchPath()
        try ResultsCSV(path: path).append(row(spec.runOrder[0]))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("t,engine=epoll,\"half a quoted".utf8))
        try handle.close()
        let csv = try ResultsCSV(path: path)
        #expect(csv.rows.count == 1)
        try csv.append(row(spec.runOrder[1]))
        #expect(try ResultsCSV.read(path: path).map(\.repetition) == [1, 2])
    }

    @Test func foreignHeaderIsRefused() throws {
        let path = scratchPath()
        try "a,b\n1,2\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ResultsError.self) { try ResultsCSV(path: path) }
    }

    @Test func resumeSkipsOkAndRetriesFailed() throws {
        let spec = try parse("""
            name = "t"
            repetitions = 2
            [matrix]
            engines = ["threads", "epoll"]
            """)
        let order = spec.runOrder
        #expect(order.count == 4)
        let existing = [row(order[0]), row(order[1], reason: "crashed"), row(order[2])]
        let plan = ResumePlan(order: order, existing: existing, experiment: "t", fresh: false)
        #expect(plan.done == [order[0], order[2]])
        #expect(plan.pending == [order[1], order[3]])
        let fresh = ResumePlan(order: order, existing: existing, experiment: "t", fresh: true)
        #expect(fresh.pending == order && fresh.done.isEmpty)
        let other = ResumePlan(order: order, existing: existing, experiment: "other", fresh: false)
        #expect(other.pending == order)
    }

    @Test func setAsideKeepsTheOldFile() throws {
        let path = scratchPath()
        #expect(try ResultsCSV.setAside(path: path) == nil)
        _ = try ResultsCSV(path: path)
        #expect(try ResultsCSV.setAside(path: path) == path + ".1")
        _ = try ResultsCSV(path: path)
        #expect(try ResultsCSV.setAside(path: path) == path + ".2")
    }

    @Test func metadataIsValidJSON() throws {
        let metadata = Metadata(
            experiment: "t", gitCommit: "abc123", kernel: "6.1.0", cpuModel: "Xeon \"fast\"",
            topologyJSON: "{\"cores\": 2}", swiftVersion: "6.3.1", ioUringFeatures: ["SINGLE_MMAP", "NODROP"],
            specText: "name = \"t\"\n\t[matrix]\u{1}", createdAt: "2026-11-25T22:10:09Z")
        let object = try JSONSerialization.jsonObject(with: Data(metadata.json.utf8)) as? [String: Any]
        #expect(object?["cpu_model"] as? String == "Xeon \"fast\"")
        #expect(object?["spec"] as? String == "name = \"t\"\n\t[matrix]\u{1}")
        #expect((object?["topology"] as? [String: Any])?["cores"] as? Int == 2)
        #expect(object?["io_uring_features"] as? [String] == ["SINGLE_MMAP", "NODROP"])

        var broken = metadata
        broken.topologyJSON = "not json"
        broken.ioUringFeatures = nil
        let path = scratchPath().replacingOccurrences(of: "results.csv", with: "metadata.json")
        try broken.write(to: path)
        let read = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
        #expect((read as? [String: Any])?["topology"] as? String == "not json")
        #expect((read as? [String: Any])?["io_uring_features"] is NSNull)
    }

    @Test func timestampFormat() {
        #expect(ResultRow.timestamp(epochSeconds: 0) == "1970-01-01T00:00:00Z")
        #expect(ResultRow.timestamp(epochSeconds: 1_795_126_209) == "2026-11-19T22:10:09Z")
    }
}
