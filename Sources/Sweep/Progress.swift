import Glibc

/// The runner's progress on stderr: a bar with the point being measured and
/// the time left when stderr is a terminal, one plain line per measurement
/// otherwise (CI logs, `tee`), so both read well.
///
/// Owned by the runner thread.
final class Progress {
    private let total: Int
    private var finished = 0
    /// Seconds the runner expects one measurement to take before it has timed any.
    private let expected: Double
    private var spent = 0.0
    private let interactive: Bool
    private var started = 0.0
    /// The measurement in progress, repeated above its outcome on a terminal
    /// (where the bar line that showed it is overwritten).
    private var label = ""

    init(total: Int, expectedSecondsEach: Double) {
        self.total = total
        self.expected = expectedSecondsEach
        interactive = isatty(2) == 1
    }

    func begin(_ label: String) {
        started = LoadClockSeconds.now()
        self.label = label
        let position = "[\(pad(finished + 1, to: String(total).count))/\(total)]"
        if interactive {
            let width = 24
            let filled = total == 0 ? width : width * finished / total
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            write("\r\u{1B}[2K\(bar) \(position) \(label)  ETA \(eta())")
        } else {
            write("\(position) \(label)  (ETA \(eta()))\n")
        }
    }

    /// Ends the current measurement with its one-line outcome.
    func end(_ outcome: String) {
        spent += LoadClockSeconds.now() - started
        finished += 1
        write(interactive ? "\r\u{1B}[2K\(label)\n  \(outcome)\n" : "  \(outcome)\n")
    }

    func note(_ text: String) {
        write(interactive ? "\r\u{1B}[2K\(text)\n" : "\(text)\n")
    }

    /// Time left at the average pace so far (the estimate until one is timed).
    private func eta() -> String {
        let each = finished == 0 ? expected : spent / Double(finished)
        let seconds = Int((Double(total - finished) * each).rounded())
        return seconds >= 3600
            ? "\(seconds / 3600)h\(pad(seconds % 3600 / 60, to: 2, with: "0"))m"
            : "\(seconds / 60)m\(pad(seconds % 60, to: 2, with: "0"))s"
    }

    private func pad(_ value: Int, to width: Int, with fill: Character = " ") -> String {
        let text = String(value)
        return String(repeating: fill, count: max(0, width - text.count)) + text
    }

    private func write(_ text: String) {
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
