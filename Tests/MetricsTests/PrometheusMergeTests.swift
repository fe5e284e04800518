import Metrics
import Testing

@Suite("Process mode: merging every worker's /metrics")
struct PrometheusMergeTests {
    let worker0 = """
        # HELP switchyard_http_responses_total Responses sent, by status code.
        # TYPE switchyard_http_responses_total counter
        switchyard_http_responses_total{status="200"} 5
        switchyard_http_responses_total{status="404"} 1
        # HELP switchyard_connections_open Connections currently open.
        # TYPE switchyard_connections_open gauge
        switchyard_connections_open 2

        """
    let worker1 = """
        # HELP switchyard_http_responses_total Responses sent, by status code.
        # TYPE switchyard_http_responses_total counter
        switchyard_http_responses_total{status="200"} 7
        # HELP switchyard_connections_open Connections currently open.
        # TYPE switchyard_connections_open gauge
        switchyard_connections_open 3

        """
    let supervisor = """
        # HELP switchyard_supervisor_worker_restarts_total Workers started again.
        # TYPE switchyard_supervisor_worker_restarts_total counter
        switchyard_supervisor_worker_restarts_total 1

        """

    @Test func sumsAndKeepsEachProcess() {
        let text = PrometheusMerge.merge([("process=\"0\"", worker0), ("process=\"1\"", worker1), ("process=\"supervisor\"", supervisor)])
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.contains("switchyard_http_responses_total{status=\"200\"} 12"))
        #expect(lines.contains("switchyard_http_responses_total{status=\"404\"} 1"))
        #expect(lines.contains("switchyard_connections_open 5"))
        #expect(lines.contains("switchyard_http_responses_total{process=\"1\",status=\"200\"} 7"))
        #expect(lines.contains("switchyard_connections_open{process=\"0\"} 2"))
        #expect(lines.contains("switchyard_supervisor_worker_restarts_total{process=\"supervisor\"} 1"))
        // Each family's HELP and TYPE once, before its samples, and its samples together.
        #expect(lines.filter { $0.hasPrefix("# TYPE switchyard_http_responses_total") }.count == 1)
        let type = lines.firstIndex(of: "# TYPE switchyard_connections_open gauge")!
        let samples = lines.indices.filter { lines[$0].hasPrefix("switchyard_connections_open") }
        #expect(samples.allSatisfy { $0 > type })
        #expect(samples.last! - samples.first! == samples.count - 1)
    }

    @Test func skipsWhatIsNotASample() {
        let text = PrometheusMerge.merge([("process=\"0\"", "garbage line\n# a comment\nname_without_value\nok_total 3\n")])
        #expect(text == "ok_total 3\nok_total{process=\"0\"} 3\n")
    }

    /// A series that names its process already (`switchyard_info`) gets only the labels it lacks:
    /// Prometheus rejects a series with a label twice, and with it the whole scrape.
    @Test func addsNoLabelTwice() {
        let info = "switchyard_info{engine=\"epoll\",process=\"1\"} 1\n"
        let text = PrometheusMerge.merge([("process=\"1\",generation=\"3\"", info), ("process=\"supervisor\"", "switchyard_info{process=\"supervisor\"} 1\n")])
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.contains("switchyard_info{generation=\"3\",engine=\"epoll\",process=\"1\"} 1"))
        #expect(lines.allSatisfy { $0.ranges(of: "process=").count <= 1 })
        // Nothing to add: the sum already is that process's series, shown once.
        #expect(lines.filter { $0.contains("process=\"supervisor\"") } == ["switchyard_info{process=\"supervisor\"} 1"])
    }
}
