import Glibc
import Logging
import Synchronization

/// What the server says to its operator (start-up, engine and placement,
/// configuration loaded or rejected, worker deaths and restarts, drain
/// progress), through swift-log with a standard-error handler. The request
/// path never logs. The level is `--log-level`, and a reload may change it.
enum OperatorLog {
    private static let logger = Mutex(Logger(label: "switchyard"))
    private static let bootstrapped = Atomic(false)

    /// Once per process: swift-log allows a single bootstrap.
    static func bootstrap(level: Logger.Level) {
        if !bootstrapped.exchange(true, ordering: .acquiringAndReleasing) {
            LoggingSystem.bootstrap { _ in OperatorLogHandler() }
            logger.withLock { $0 = Logger(label: "switchyard") }
        }
        setLevel(level)
    }

    static func setLevel(_ level: Logger.Level) {
        logger.withLock { $0.logLevel = level }
    }

    static func log(_ message: String, _ level: Logger.Level) {
        // Every command's messages go through this handler, not only serve's
        // (which sets its level from --log-level): without a bootstrap,
        // swift-log's default handler prints its own format.
        if !bootstrapped.load(ordering: .acquiring) { bootstrap(level: .info) }
        let logger = logger.withLock { $0 }
        logger.log(level: level, "\(message)")
    }
}

/// One operator message (info unless said otherwise).
func log(_ message: String, _ level: Logger.Level = .info) {
    OperatorLog.log(message, level)
}

/// swift-log handler for the operator: one line per message on standard
/// error, `switchyard: message`, written with one write(2) so lines from a
/// supervisor and its workers never interleave mid-line. Messages carry
/// their own "error:" or "warning:" word, as they always have.
struct OperatorLogHandler: LogHandler {
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var line = "switchyard: \(event.message)"
        if let extra = event.metadata, !extra.isEmpty {
            line += " " + extra.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
        let bytes = Array((line + "\n").utf8)
        bytes.withUnsafeBytes { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}
