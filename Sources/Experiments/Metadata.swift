#if canImport(Glibc)
import Glibc
#endif

/// What metadata.json records about the machine and the build, so a result
/// can be read years later knowing where it came from. The runner gathers
/// the facts; this type only writes them.
public struct Metadata: Sendable, Equatable {
    public static func == (a: Metadata, b: Metadata) -> Bool { a.json == b.json }

    public var experiment: String
    public var gitCommit: String
    public var kernel: String
    public var cpuModel: String
    /// Already JSON (the Topology module's output); embedded as is when it
    /// looks like an object or array, else kept as a string so the file
    /// stays valid JSON whatever the caller passes.
    public var topologyJSON: String
    public var swiftVersion: String
    /// io_uring feature names the kernel reports; nil when io_uring is unavailable.
    public var ioUringFeatures: [String]?
    /// The spec exactly as read, so a rerun can use the same text.
    public var specText: String
    public var createdAt: String
    /// How the runner ran this sweep (CPU sets, load threads, binary,
    /// engines skipped and why), in its own order, as strings.
    public var runner: [(key: String, value: String)] = []

    public init(
        experiment: String, gitCommit: String, kernel: String, cpuModel: String, topologyJSON: String,
        swiftVersion: String, ioUringFeatures: [String]?, specText: String,
        createdAt: String = ResultRow.timestamp()
    ) {
        self.experiment = experiment
        self.gitCommit = gitCommit
        self.kernel = kernel
        self.cpuModel = cpuModel
        self.topologyJSON = topologyJSON
        self.swiftVersion = swiftVersion
        self.ioUringFeatures = ioUringFeatures
        self.specText = specText
        self.createdAt = createdAt
    }

    /// The document, pretty-printed with a fixed key order (diffs stay small).
    public var json: String {
        let trimmed = topologyJSON.trimmingWhitespace
        let topology = (trimmed.hasPrefix("{") && trimmed.hasSuffix("}"))
            || (trimmed.hasPrefix("[") && trimmed.hasSuffix("]")) ? trimmed : jsonString(topologyJSON)
        let features = ioUringFeatures.map { "[" + $0.map(jsonString).joined(separator: ", ") + "]" } ?? "null"
        let fields = [
            ("experiment", jsonString(experiment)),
            ("created_at", jsonString(createdAt)),
            ("git_commit", jsonString(gitCommit)),
            ("kernel", jsonString(kernel)),
            ("cpu_model", jsonString(cpuModel)),
            ("swift_version", jsonString(swiftVersion)),
            ("io_uring_features", features),
            ("runner", "{" + runner.map { "\(jsonString($0.key)): \(jsonString($0.value))" }
                .joined(separator: ", ") + "}"),
            ("topology", topology),
            ("spec", jsonString(specText)),
        ]
        return "{\n" + fields.map { "  \(jsonString($0.0)): \($0.1)" }.joined(separator: ",\n") + "\n}\n"
    }

    /// Writes `path` atomically: a temporary file, fsync, rename. A crash
    /// leaves either the old file or the new one, never half of one.
    public func write(to path: String) throws(ResultsError) {
        let temporary = path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw ResultsError.system("cannot open \(temporary)", errno) }
        let bytes = Array(json.utf8)
        var offset = 0
        while offset < bytes.count {
            // safety: the pointer is valid inside the closure; the count stays within the array.
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                let code = errno
                close(descriptor)
                throw ResultsError.system("cannot write \(temporary)", code)
            }
            offset += written
        }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard synced, rename(temporary, path) == 0 else {
            throw ResultsError.system("cannot write \(path)", errno)
        }
        syncDirectory(of: path)
    }
}

/// A JSON string literal: quotes, backslashes and control characters escaped.
public func jsonString(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case "\n": result += "\\n"
        case "\r": result += "\\r"
        case "\t": result += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: result.unicodeScalars.append(scalar)
        }
    }
    return result + "\""
}

extension String {
    var trimmingWhitespace: String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
