import ArgumentParser
import Experiments
import Glibc

/// Where `serve`'s settings come from, highest first: flags, environment
/// variables (`SWITCHYARD_READ_TIMEOUT`), the configuration file
/// (`--config FILE` or `SWITCHYARD_CONFIG`), built-in defaults.
///
/// For each setting the environment wins over the file; the winning values
/// become arguments placed before the command line's own, so the argument
/// parser, where the last occurrence wins, applies flags over both and runs
/// the one set of type checks and validations every layer shares. Read at
/// start-up and reload only.
///
/// Why not apple/swift-configuration, as planned: it built in 18 s here, but
/// its swift-system dependency declares a C target named `CSystem` (ours has
/// that name too), and its module brings the kernel's <linux/io_uring.h>,
/// which clang refuses beside liburing's own copy in the executable that
/// imports both. Env-over-file for a fixed key table is these few lines.
struct SettingsLayers {
    /// Arguments for `Serve.parse`: file and environment values, then the command line.
    var arguments: [String]
    /// Key → where its value came from ("flag", "environment SWITCHYARD_X", "file PATH"); absent: default.
    var sources: [String: String]
    /// The configuration file, if any.
    var file: String?
    /// Notes for the operator (ignored environment variables).
    var warnings: [String] = []

    struct Failure: Error, CustomStringConvertible { let description: String }


    /// Resolves the layers for `serve`'s own arguments (`cli`, after `serve`).
    static func resolve(cli: [String], environment: [String: String]) throws(Failure) -> SettingsLayers {
        let file = configPath(in: cli) ?? environment["SWITCHYARD_CONFIG"]
        var fileValues: [String: String] = [:]
        if let file {
            guard let text = readWholeFile(file) else {
                throw Failure(description: "--config \(file): cannot read the file: \(String(cString: strerror(errno)))")
            }
            let entries: [SettingsDocument.Entry]
            do { entries = try SettingsDocument.entries(text, source: file) } catch { throw Failure(description: error.description) }
            var problems: [String] = []
            for entry in entries {
                guard let setting = ServeSetting.byKey[entry.key] else {
                    let hint = ServeSetting.nearest(to: entry.key).map { " (did you mean \($0)?)" } ?? ""
                    problems.append("\(file): unknown key '\(entry.key)'\(hint); the keys are serve's flag names, see `switchyard serve --help`")
                    continue
                }
                switch (setting.kind, entry.value) {
                case (.value, .bool):
                    problems.append("\(file): key '\(entry.key)' takes a value, not true/false")
                case (.flag, let value), (.invertible, let value):
                    guard case .bool = value else {
                        problems.append("\(file): key '\(entry.key)' is on or off: write \(entry.key) = true or false")
                        continue
                    }
                default: break
                }
                fileValues[entry.key] = entry.renderedValue
            }
            guard problems.isEmpty else { throw Failure(description: problems.joined(separator: "\n")) }
        }
        var layered: [String] = []
        var sources: [String: String] = [:]
        for setting in ServeSetting.all {
            let origin: String, text: String
            if let value = environment[setting.environmentName] {
                (origin, text) = ("environment \(setting.environmentName)", value)
            } else if let value = fileValues[setting.key] {
                (origin, text) = ("file \(file ?? "")", value)
            } else {
                continue
            }
            sources[setting.key] = origin
            switch setting.kind {
            case .value:
                layered.append("--\(setting.key)=\(text)")  // one word, so "-1s" is not read as a flag
            case .flag, .invertible:
                guard let on = parseBool(text) else {
                    throw Failure(description: "\(origin): '\(text)' is not on or off (allowed: true, false, 1, 0, yes, no, on, off)")
                }
                if on { layered.append("--\(setting.key)") } else if setting.kind == .invertible { layered.append("--no-\(setting.key)") }
            }
        }
        for key in cliKeys(cli) { sources[key] = "flag" }
        var warnings: [String] = []
        let known = Set(ServeSetting.all.map(\.environmentName) + ["SWITCHYARD_CONFIG", "SWITCHYARD_URING_PROBE_FAIL"])
        for name in environment.keys.sorted() where name.hasPrefix("SWITCHYARD_") && !known.contains(name) {
            let hint = ServeSetting.nearest(to: String(name.dropFirst(11)).lowercased().map { $0 == "_" ? "-" : $0 }.reduce("") { $0 + String($1) })
                .map { " (did you mean \(ServeSetting.byKey[$0]!.environmentName)?)" } ?? ""
            warnings.append("environment variable \(name) is not a setting and is ignored\(hint)")
        }
        return SettingsLayers(arguments: layered + cli, sources: sources, file: file, warnings: warnings)
    }

    /// Where a key's value came from, for messages.
    func source(of key: String) -> String { sources[key] ?? "default" }

    /// An error message from parsing or validating, with where the value it
    /// names came from when that was not the command line.
    func annotate(_ message: String) -> String {
        // Messages name the flag: "--read-timeout 0s: must be ...".
        var found: String?
        var rest = Substring(message)
        while let range = rest.range(of: "--") {
            let tail = rest[range.upperBound...]
            let name = String(tail.prefix { $0.isLetter || $0.isNumber || $0 == "-" })
            let bare = name.hasPrefix("no-") ? String(name.dropFirst(3)) : name
            if ServeSetting.byKey[bare] != nil { found = bare; break }
            rest = tail
        }
        guard let key = found, let origin = sources[key], origin != "flag" else { return message }
        return "\(message) [set by \(origin.hasPrefix("file") ? "key '\(key)' in \(origin.dropFirst(5))" : origin)]"
    }

    static func configPath(in cli: [String]) -> String? {
        var path: String?
        var i = 0
        while i < cli.count {
            if cli[i] == "--config", i + 1 < cli.count { path = cli[i + 1]; i += 1 }
            else if cli[i].hasPrefix("--config=") { path = String(cli[i].dropFirst(9)) }
            i += 1
        }
        return path
    }

    /// Setting keys the command line names (`--key`, `--no-key`, `--key=value`).
    static func cliKeys(_ cli: [String]) -> [String] {
        cli.compactMap { argument in
            guard argument.hasPrefix("--") else { return nil }
            var name = String(argument.dropFirst(2).prefix { $0 != "=" })
            if ServeSetting.byKey[name] == nil, name.hasPrefix("no-") { name = String(name.dropFirst(3)) }
            return ServeSetting.byKey[name] == nil ? nil : name
        }
    }

    static func parseBool(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "1", "yes", "on": true
        case "false", "0", "no", "off": false
        default: nil
        }
    }

    /// The process environment as a dictionary.
    static func processEnvironment() -> [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }
}

