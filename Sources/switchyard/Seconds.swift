import ArgumentParser
import Experiments

/// A duration flag's value: `4s`, `500ms`, `2m`, `250us`, or a bare number
/// of seconds (`DurationText`), so every duration flag reads the way wrk's do.
struct Seconds: ExpressibleByArgument, Sendable, Equatable {
    var value: Double

    init(_ value: Double) { self.value = value }

    init?(argument: String) {
        guard let seconds = DurationText.seconds(argument) else { return nil }
        value = seconds
    }

    var defaultValueDescription: String { DurationText.format(value) }

    /// For error messages: the value as typed forms would show it.
    var text: String { DurationText.format(value) }
}
