import Glibc

/// Starting a child process the way both the sweep runner (servers under
/// test) and the process-mode supervisor (workers) need it: chosen
/// descriptors, an empty signal mask and default dispositions whatever the
/// parent blocked for its own signal handling, optionally a process group
/// of its own.
public enum ChildProcess {
    /// What the child's descriptor table gets before it runs.
    public enum FileAction {
        /// `open(path, flags, mode)` as descriptor `fd`.
        case open(fd: Int32, path: String, flags: Int32, mode: mode_t)
        /// Our descriptor `source` as the child's `target` (close-on-exec cleared).
        case duplicate(source: Int32, target: Int32)
    }

    /// Signals whose disposition the child gets back as default: a parent
    /// may ignore or catch them, and dispositions other than default survive exec.
    static let resetSignals = [SIGINT, SIGTERM, SIGPIPE, SIGHUP, SIGQUIT, SIGCHLD]

    /// Starts `arguments[0]` (a path, or a name looked up on PATH) with the
    /// rest as its arguments and this process's environment. Returns the
    /// pid, or the `posix_spawn` error number.
    public static func spawn(_ arguments: [String], files: [FileAction], ownProcessGroup: Bool) -> Result<pid_t, SpawnError> {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for file in files {
            switch file {
            case .open(let fd, let path, let flags, let mode): posix_spawn_file_actions_addopen(&actions, fd, path, flags, mode)
            case .duplicate(let source, let target): posix_spawn_file_actions_adddup2(&actions, source, target)
            }
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in resetSignals { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if ownProcessGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        var pid: pid_t = 0
        // safety: the strdup copies outlive posix_spawnp (freed by the defer);
        // the array ends with the nil that argv needs; environ is the
        // process's own NUL-terminated environment.
        let cArguments = arguments.map { strdup($0) } + [nil]
        defer { for argument in cArguments { free(argument) } }
        let status = posix_spawnp(&pid, arguments[0], &actions, &attributes, cArguments, environ)
        return status == 0 ? .success(pid) : .failure(SpawnError(code: status))
    }

    public struct SpawnError: Error, CustomStringConvertible {
        public let code: Int32
        public var description: String { String(cString: strerror(code)) }
    }
}
