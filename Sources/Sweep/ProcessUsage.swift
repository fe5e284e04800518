import Glibc

/// What a server has cost so far, summed over every process of its process
/// group (a forking server such as nginx is one master plus workers).
///
/// Read from /proc, which needs no cooperation from the server, so reference
/// servers are measured exactly like ours. Differences of two samples give
/// the cost of the interval between them.
struct ProcessUsage: Sendable, Equatable {
    /// Context switches of one thread so far.
    struct Switches: Sendable, Equatable {
        var voluntary: Int
        var involuntary: Int
    }

    /// CPU time in user and kernel mode, seconds. /proc/PID/stat counts in
    /// clock ticks (usually 10 ms), and includes threads that have exited.
    var userSeconds: Double = 0
    var systemSeconds: Double = 0
    /// Per live thread (by thread id): the kernel keeps these per thread and
    /// forgets a thread's count when it exits, so intervals are computed
    /// thread by thread (see `since`).
    var switches: [Int32: Switches] = [:]
    /// Peak resident memory (VmHWM), summed over the group's processes.
    var peakRSSKiB: Int = 0
    /// How many processes were found; 0 means the group is gone.
    var processes: Int = 0

    /// Samples every process whose process group is `group`.
    static func sample(group: pid_t, procRoot: String = "/proc") -> ProcessUsage {
        var usage = ProcessUsage()
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        for pid in numericEntries(of: procRoot) {
            guard let stat = readSmallFile("\(procRoot)/\(pid)/stat"), let fields = StatFields(stat),
                  fields.processGroup == group else { continue }
            usage.processes += 1
            usage.userSeconds += Double(fields.userTicks) / ticks
            usage.systemSeconds += Double(fields.systemTicks) / ticks
            for task in numericEntries(of: "\(procRoot)/\(pid)/task") {
                guard let id = Int32(task),
                      let status = readSmallFile("\(procRoot)/\(pid)/task/\(task)/status") else { continue }
                // The memory lines are the process's; read them once, from its main thread.
                if task == pid { usage.peakRSSKiB += statusValue(status, key: "VmHWM:") ?? 0 }
                usage.switches[id] = Switches(
                    voluntary: statusValue(status, key: "voluntary_ctxt_switches:") ?? 0,
                    involuntary: statusValue(status, key: "nonvoluntary_ctxt_switches:") ?? 0)
            }
        }
        return usage
    }

    /// What the server spent between two samples.
    struct Interval: Sendable, Equatable {
        var userSeconds: Double
        var systemSeconds: Double
        /// nil when a thread alive at the first sample was gone at the
        /// second: its switches in between are unknown, and a sum without
        /// them would look plausible while being too low.
        var voluntarySwitches: Int?
        var involuntarySwitches: Int?
        /// The later sample's peak: VmHWM is a high-water mark, not a counter.
        var peakRSSKiB: Int
    }

    /// The cost of the interval from `earlier` to `self`. A thread born in
    /// between counts from zero.
    func since(_ earlier: ProcessUsage) -> Interval {
        var voluntary = 0
        var involuntary = 0
        for (thread, now) in switches {
            let before = earlier.switches[thread] ?? Switches(voluntary: 0, involuntary: 0)
            voluntary += now.voluntary - before.voluntary
            involuntary += now.involuntary - before.involuntary
        }
        let complete = earlier.switches.keys.allSatisfy { switches[$0] != nil }
        return Interval(
            userSeconds: max(0, userSeconds - earlier.userSeconds),
            systemSeconds: max(0, systemSeconds - earlier.systemSeconds),
            voluntarySwitches: complete ? voluntary : nil, involuntarySwitches: complete ? involuntary : nil,
            peakRSSKiB: peakRSSKiB)
    }

    /// A `Key:   123 kB` line of /proc/PID/status, as a number.
    static func statusValue(_ text: String, key: String) -> Int? {
        for line in text.split(separator: "\n") where line.hasPrefix(key) {
            let digits = line.dropFirst(key.count).drop { $0 == " " || $0 == "\t" }.prefix { $0.isNumber }
            return Int(digits)
        }
        return nil
    }
}

/// The fields of /proc/PID/stat a sweep needs. The command name (field 2)
/// is in parentheses and may itself hold spaces and parentheses, so fields
/// are counted from the last ')'.
struct StatFields: Equatable {
    var processGroup: pid_t
    var userTicks: Int
    var systemTicks: Int

    init?(_ text: String) {
        guard let close = text.lastIndex(of: ")") else { return nil }
        // After ")": state(3) ppid(4) pgrp(5) ... utime(14) stime(15).
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let group = Int32(fields[2]), let user = Int(fields[11]),
              let system = Int(fields[12]) else { return nil }
        processGroup = group
        userTicks = user
        systemTicks = system
    }
}

/// Names of a folder's entries that are numbers (pids, tids).
func numericEntries(of path: String) -> [String] {
    guard let folder = opendir(path) else { return [] }
    defer { closedir(folder) }
    var names: [String] = []
    while let entry = readdir(folder) {
        // safety: readdir's entry stays valid until the next readdir on this
        // folder; d_name is copied out here, before that.
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if let first = name.utf8.first, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9") { names.append(name) }
    }
    return names
}

/// A /proc file in one read (they are generated whole, and small).
func readSmallFile(_ path: String) -> String? {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        // safety: read writes at most chunk.count bytes into the chunk's own storage.
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        if count <= 0 { break }
        bytes.append(contentsOf: chunk[..<count])
    }
    return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
}

extension ProcessUsage {
    /// User plus system CPU seconds this process (the sweep: load generator
    /// threads and all) has used so far.
    static func ownCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}
