import CSystem
import Glibc

/// Facts about the machine and the build that metadata.json records, so a
/// result can be read later knowing where it came from.
enum MachineFacts {
    /// `git rev-parse HEAD`, with `+dirty` when the work tree has changes
    /// (then the commit alone does not say what was measured).
    /// Asked in `folder` (the server binary's, which lives in the checkout's
    /// .build), so the answer does not depend on where the sweep was started.
    static func gitCommit(in folder: String) -> String {
        let git = "git -C '\(folder.replacingOccurrences(of: "'", with: "'\\''"))'"
        guard let commit = run("\(git) rev-parse HEAD 2>/dev/null"), !commit.isEmpty else {
            return "unknown (not a git work tree)"
        }
        // Sweep results are committed data, not code: changing them does not
        // make the measured build different.
        let dirty = run("\(git) status --porcelain --untracked-files=no -- \":/\" \":(exclude,top)notebooks-data\" 2>/dev/null")
            .map { !$0.isEmpty } ?? false
        return dirty ? commit + "+dirty" : commit
    }

    /// `uname -srvm` as the kernel reports it.
    static func kernel() -> String {
        var names = utsname()
        uname(&names)
        func field<T>(_ value: T) -> String {
            // safety: the utsname fields are NUL-terminated char arrays copied by value.
            withUnsafeBytes(of: value) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return "\(field(names.sysname)) \(field(names.release)) \(field(names.version)) \(field(names.machine))"
    }

    /// The first `model name` of /proc/cpuinfo (x86), else its `Model` or
    /// `CPU part` line (Arm), else "unknown".
    static func cpuModel() -> String {
        guard let info = readSmallFile("/proc/cpuinfo") else { return "unknown" }
        for key in ["model name", "Model", "CPU part"] {
            for line in info.split(separator: "\n") where line.hasPrefix(key) {
                if let colon = line.firstIndex(of: ":") {
                    return String(line[line.index(after: colon)...].trimmingSpaces)
                }
            }
        }
        return "unknown"
    }

    /// The toolchain that built this binary: `swift --version`'s first line
    /// when a toolchain is on PATH, else the compiler version known at build time.
    static func swiftVersion() -> String {
        if let line = run("swift --version 2>/dev/null")?.split(separator: "\n").first, line.contains("Swift") {
            return String(line)
        }
        #if compiler(>=6.3)
        return "Swift 6.3 or later (compile time)"
        #elseif compiler(>=6.2)
        return "Swift 6.2 (compile time)"
        #elseif compiler(>=6.1)
        return "Swift 6.1 (compile time)"
        #else
        return "Swift 6.0 (compile time)"
        #endif
    }

    /// The io_uring features the kernel offers (IORING_FEAT_* names), or nil
    /// with the reason when io_uring cannot be used here.
    static func ioUringFeatures() -> (features: [String]?, note: String?) {
        let mask = switchyard_io_uring_features()
        guard mask >= 0 else {
            let code = Int32(-mask)
            var note = "io_uring unavailable: \(String(cString: strerror(code)))"
            if let disabled = readSmallFile("/proc/sys/kernel/io_uring_disabled"), disabled.first != "0" {
                note += " (kernel.io_uring_disabled = \(disabled.droppingLineEnds))"
            }
            return (nil, note)
        }
        let names = [
            "SINGLE_MMAP", "NODROP", "SUBMIT_STABLE", "RW_CUR_POS", "CUR_PERSONALITY", "FAST_POLL", "POLL_32BITS",
            "SQPOLL_NONFIXED", "EXT_ARG", "NATIVE_WORKERS", "RSRC_TAGS", "CQE_SKIP", "LINKED_FILE", "REG_REG_RING",
            "RECVSEND_BUNDLE", "MIN_TIMEOUT", "RW_ATTR", "NO_IOWAIT",
        ]
        var features: [String] = []
        for bit in 0..<63 where mask & (1 << bit) != 0 {
            features.append(bit < names.count ? names[bit] : "bit\(bit)")
        }
        return (features, nil)
    }

    /// A shell command's standard output, trimmed; nil if it could not run
    /// or failed.
    static func run(_ command: String) -> String? {
        guard let pipe = popen(command, "r") else { return nil }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            // safety: fread writes at most buffer.count bytes into the array.
            let count = fread(&buffer, 1, buffer.count, pipe)
            if count == 0 { break }
            output.append(contentsOf: buffer[..<count])
        }
        guard pclose(pipe) == 0 else { return nil }
        return String(decoding: output, as: UTF8.self).droppingLineEnds
    }

    /// Where servers such as nginx live, which a normal user's PATH may
    /// lack; looked in by `isOnPath` and added to reference commands' PATH.
    static let serverFolders = ["/usr/local/sbin", "/usr/sbin", "/sbin"]

    /// Whether `program` is an executable file in some PATH folder.
    static func isOnPath(_ program: String) -> Bool {
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
        let folders = path.split(separator: ":").map(String.init) + serverFolders
        return folders.contains { access("\($0)/\(program)", X_OK) == 0 }
    }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
