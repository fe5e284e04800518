import EngineCore
import Glibc
import LoadGen
import Topology

/// A server under test, running as a child process in a process group of
/// its own, so that a server which forks (nginx's master and workers) is
/// measured and stopped as one.
///
/// Owned by the runner thread; not Sendable on purpose.
final class ServerProcess {
    /// Also the process group id.
    let pid: pid_t
    /// Where its stdout and stderr go; the last lines explain a failed start.
    let logPath: String
    private(set) var exitStatus: ExitStatus?

    enum ExitStatus: Equatable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        var description: String {
            switch self {
            case .exited(let code): "exited with status \(code)"
            case .signalled(let signal): "was killed by signal \(signal) (\(String(cString: strsignal(signal))))"
            }
        }
    }

    /// Starts `arguments[0]` (a path, or a name looked up on PATH) with the
    /// rest as its arguments, restricted to `cpus`.
    ///
    /// The calling thread binds itself to `cpus`, spawns the child (which
    /// inherits the mask), and returns to its own mask: so reference servers
    /// are placed without their cooperation. Spawning from the runner's own
    /// long-lived thread matters too: Linux sends a parent-death signal
    /// (`serve --exit-with-parent`) when the *thread* that started the child
    /// exits. The child starts with an empty signal mask and default
    /// handlers, whatever the runner blocked for its own SIGINT handling.
    init(arguments: [String], cpus: [Int], logPath: String) throws(SweepError) {
        self.logPath = logPath
        let own: [Int]
        do {
            own = try allowedCPUsOfCurrentThread()
            try bindCurrentThread(toCPUs: cpus)
        } catch {
            throw SweepError("cannot place the server on CPUs \(cpuRangeList(cpus)): \(error)")
        }
        defer { try? bindCurrentThread(toCPUs: own) }
        pid = try Self.spawn(arguments: arguments, logPath: logPath)
    }

    deinit {
        if exitStatus == nil {
            kill(-pid, SIGKILL)
            _ = reap(blocking: true)
        }
    }

    /// Whether the child is still running; records its status once it is not.
    var isRunning: Bool {
        if exitStatus != nil { return false }
        return !reap(blocking: false)
    }

    /// Stops the whole group: `signal` (SIGTERM asks our servers and nginx
    /// to stop gracefully), then SIGKILL if it is still there after `grace`
    /// seconds. Returns false if it had to be killed.
    @discardableResult
    func stop(signal: Int32 = SIGTERM, grace: Double) -> Bool {
        guard isRunning else {
            // The leader is gone, but workers it forked (nginx's) or left
            // behind (a shell that backgrounded the server) may not be.
            kill(-pid, SIGKILL)
            return true
        }
        kill(-pid, signal)
        let deadline = LoadClockSeconds.now() + grace
        while LoadClockSeconds.now() < deadline {
            if !isRunning {
                // The leader is gone; make sure no worker outlives it.
                kill(-pid, SIGKILL)
                return true
            }
            usleep(10_000)
        }
        kill(-pid, SIGKILL)
        _ = reap(blocking: true)
        return false
    }

    /// The last `count` lines of the child's output, for error messages.
    func logTail(lines count: Int = 5) -> String {
        guard let file = fopen(logPath, "r") else { return "" }
        defer { fclose(file) }
        var lines: [String] = []
        var buffer = [CChar](repeating: 0, count: 4096)
        // safety: fgets writes at most buffer.count bytes, NUL included, into the array.
        while fgets(&buffer, Int32(buffer.count), file) != nil {
            let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            lines.append(line.droppingLineEnds)
            if lines.count > count { lines.removeFirst() }
        }
        return lines.filter { !$0.isEmpty }.joined(separator: " | ")
    }

    /// Returns true when the child has exited (and records how).
    private func reap(blocking: Bool) -> Bool {
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, blocking ? 0 : WNOHANG)
            if result == 0 { return false }
            if result < 0 {
                if errno == EINTR { continue }
                // ECHILD: already reaped elsewhere; treat as gone.
                if exitStatus == nil { exitStatus = .exited(-1) }
                return true
            }
            // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift cannot import.
            let signal = status & 0x7f
            exitStatus = signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
            return true
        }
    }

    private static func spawn(arguments: [String], logPath: String) throws(SweepError) -> pid_t {
        let files: [ChildProcess.FileAction] = [
            .open(fd: 0, path: "/dev/null", flags: O_RDONLY, mode: 0),
            .open(fd: 1, path: logPath, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644),
            .duplicate(source: 1, target: 2),
        ]
        switch ChildProcess.spawn(arguments, files: files, ownProcessGroup: true) {
        case .success(let pid): return pid
        case .failure(let error): throw SweepError("cannot start \(arguments[0]): \(error)")
        }
    }
}

/// The load generator's monotonic clock in seconds, for the runner's deadlines.
enum LoadClockSeconds {
    static func now() -> Double { Double(LoadClock.now()) / 1e9 }
}

extension String {
    /// Without trailing line breaks (a command's output, a log line).
    var droppingLineEnds: String {
        var text = Substring(self)
        while let last = text.last, last.isNewline { text.removeLast() }  // "\r\n" is one Character
        return String(text)
    }
}

/// Why a sweep or one of its points could not go on, in the runner's words.
public struct SweepError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
