/// A length of time as people type it for wrk and friends: `4s`, `500ms`,
/// `2m`, `250us`, `1.5s`, `1h`; a bare number is seconds. Shared by every
/// duration flag of the CLI and every duration key of an experiment spec.
public enum DurationText {
    /// The allowed forms, for error messages.
    public static let allowed = "a number of seconds, or a number with a unit: 250us, 500ms, 4s, 2m, 1h"

    /// Seconds, or nil when the text is not a duration (negative values
    /// parse; callers check their own range).
    public static func seconds(_ text: String) -> Double? {
        let trimmed = text.trimmingSpaces
        guard !trimmed.isEmpty else { return nil }
        let units: [(suffix: String, seconds: Double)] = [("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600)]
        for unit in units where trimmed.hasSuffix(unit.suffix) {
            let number = String(trimmed.dropLast(unit.suffix.count))
            // "5ms" must not be read as "5m" followed by junk: the longest
            // suffix is tried first, and what is left must be a number.
            guard let value = Double(number), value.isFinite else { continue }
            return value * unit.seconds
        }
        guard let value = Double(trimmed), value.isFinite else { return nil }
        return value
    }

    /// The shortest exact form: 0.5 → "500ms", 120 → "2m", 4 → "4s".
    public static func format(_ seconds: Double) -> String {
        if seconds != 0 && seconds.truncatingRemainder(dividingBy: 60) == 0 { return "\(trim(seconds / 60))m" }
        if seconds >= 1 || seconds == 0 { return "\(trim(seconds))s" }
        let ms = seconds * 1000
        if ms >= 1 { return "\(trim(ms))ms" }
        return "\(trim(seconds * 1e6))us"
    }

    private static func trim(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
