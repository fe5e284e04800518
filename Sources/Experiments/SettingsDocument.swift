/// A server configuration file: TOML whose keys are `serve`'s flag names.
///
/// Top-level `key = value` pairs name a flag directly (`read-timeout = "30s"`);
/// a table prefixes its keys with its name, so `[uring]` with `recv = "single"`
/// is `uring-recv`. Only one level of tables is meaningful; values are
/// strings, integers, floats or booleans. Everything else is an error naming
/// the key, so a typo never passes silently.
public enum SettingsDocument {
    public struct Entry: Sendable, Equatable {
        /// The flag name, without dashes in front (`read-timeout`).
        public var key: String
        public var value: ServerFlag.Value
        /// The value as it goes on a command line.
        public var renderedValue: String { ServerFlag(key: key, value: value).renderedValue }
    }

    public struct Problem: Error, CustomStringConvertible {
        public var description: String
    }

    /// The document's entries, keys in file order of their tables, sorted within.
    public static func entries(_ text: String, source: String) throws(Problem) -> [Entry] {
        let root: SpecValue
        do {
            root = try SpecValue.parse(text)
        } catch {
            let position = error.line > 0 ? "\(source):\(error.line):\(error.column)" : source
            throw Problem(description: "\(position): not valid TOML: \(error.message)")
        }
        guard case .table(let top) = root else { return [] }
        var entries: [Entry] = []
        var problems: [String] = []
        func add(_ key: String, _ value: SpecValue) {
            switch value {
            case .string(let text): entries.append(Entry(key: key, value: .string(text)))
            case .int(let number): entries.append(Entry(key: key, value: .int(number)))
            case .double(let number): entries.append(Entry(key: key, value: .double(number)))
            case .bool(let flag): entries.append(Entry(key: key, value: .bool(flag)))
            default: problems.append("\(key): expected a string, number or boolean, got \(value.typeName)")
            }
        }
        for (key, value) in top {
            if case .table(let inner) = value {
                for (innerKey, innerValue) in inner {
                    if case .table = innerValue {
                        problems.append("\(key).\(innerKey): tables nest one level only ([\(key)] holds \(key)-... keys)")
                    } else {
                        add("\(key)-\(innerKey)", innerValue)
                    }
                }
            } else {
                add(key, value)
            }
        }
        guard problems.isEmpty else {
            throw Problem(description: problems.map { "\(source): \($0)" }.joined(separator: "\n"))
        }
        return entries
    }
}
