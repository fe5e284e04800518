import Testing
@testable import Metrics

@Suite("Latency histograms")
struct LatencyHistogramTests {
    @Test("Every value lands in the bucket whose bounds hold it; buckets are at most 25% wide from 4 µs")
    func buckets() {
        var values = Array(0..<5000)
        var v = 5000
        while v < 200_000_000 { values.append(v); values.append(v + 1); v = v * 9 / 7 }
        for value in values {
            let index = LatencyBuckets.index(micros: value)
            if let upper = LatencyBuckets.upperBound(index) {
                #expect(value <= upper)
                let lower = index == 0 ? 0 : LatencyBuckets.upperBound(index - 1)! + 1
                #expect(value >= lower)
                if value >= 4 { #expect(Double(upper - lower + 1) <= Double(lower) * 0.25 + 1) }
            } else {
                #expect(value > LatencyBuckets.upperBound(LatencyBuckets.count - 2)!)
            }
        }
        #expect(LatencyBuckets.index(micros: -3) == 0)
        // The literal sizes agree with what they stand for.
        #expect(LatencyBuckets.count == 4 + (LatencyBuckets.maxOctave - 1) * 4 + 1)
        #expect(LatencyHistograms.classCount == LatencyHistograms.classNames.count)
        #expect(LatencyHistograms.histogramCount == LatencyKind.allCases.count * LatencyHistograms.classCount)
        #expect(LatencyHistograms.stride == LatencyBuckets.count + 1)
        #expect(LatencyBuckets.upperBound(LatencyBuckets.count - 1) == nil)
    }

    @Test("A turn's pair of samples in one call records what the two separate calls record",
          arguments: [(0, 0, 1), (0, 17, 1), (3, 250, 1), (-2, 5, 1), (40, 90_000_000, 3), (1_000, 1_000_000_000, 2)])
    func pairedRecord(queueDelay: Int, duration: Int, count: Int) {
        for priority in 0..<LatencyHistograms.classCount {
            let paired = LatencyHistograms(), separate = LatencyHistograms()
            paired.record(priority: priority, queueDelay: queueDelay, duration: duration, count: count)
            separate.record(.queueDelay, priority: priority, micros: queueDelay, count: count)
            separate.record(.requestDuration, priority: priority, micros: duration, count: count)
            #expect(paired.snapshot() == separate.snapshot())
            #expect(paired.snapshot().total(.requestDuration, priority: priority) == UInt64(count))
        }
    }

    @Test("Prometheus text: cumulative buckets in seconds, +Inf, sum and count; absent classes left out")
    func prometheus() {
        let h = LatencyHistograms()
        h.record(.requestDuration, priority: 2, micros: 3, count: 2)
        h.record(.requestDuration, priority: 2, micros: 1_000, count: 1)
        h.record(.queueDelay, priority: 0, micros: 100_000_000, count: 1)  // past the last finite bucket
        let s = h.snapshot() + LatencySnapshot()
        #expect(s.total(.requestDuration, priority: 2) == 3)
        #expect(s.sumMicros(.requestDuration, priority: 2) == 1_006)
        let text = s.prometheusText()
        #expect(text.contains("# TYPE switchyard_request_duration_seconds histogram"))
        #expect(text.contains("switchyard_request_duration_seconds_bucket{class=\"low\",le=\"3e-06\"} 2\n"))
        // 1,000 µs falls in [896, 1023]: its bucket and every later one count 3.
        #expect(text.contains("switchyard_request_duration_seconds_bucket{class=\"low\",le=\"0.000895\"} 2\n"))
        #expect(text.contains("switchyard_request_duration_seconds_bucket{class=\"low\",le=\"0.001023\"} 3\n"))
        #expect(text.contains("switchyard_request_duration_seconds_bucket{class=\"low\",le=\"+Inf\"} 3\n"))
        #expect(text.contains("switchyard_request_duration_seconds_sum{class=\"low\"} 0.001006\n"))
        #expect(text.contains("switchyard_request_duration_seconds_count{class=\"low\"} 3\n"))
        #expect(!text.contains("switchyard_request_duration_seconds_count{class=\"normal\"}"))
        #expect(text.contains("switchyard_queue_delay_seconds_bucket{class=\"critical\",le=\"+Inf\"} 1\n"))
        #expect(text.contains("switchyard_queue_delay_seconds_bucket{class=\"critical\",le=\"67.108863\"} 0\n"))
        let bucketLines = text.split(separator: "\n").filter { $0.hasPrefix("switchyard_request_duration_seconds_bucket{class=\"low\"") }
        #expect(bucketLines.count == LatencyBuckets.count)
    }
}
