import EngineCore
import Glibc
import Metrics
import Synchronization

/// SIGHUP in a serving process: read the settings again (flags, environment,
/// file), apply what can change live to the running engine, and report what
/// needs a restart. An invalid file keeps everything as it was. Control
/// plane only: the engine sees plain values through `reconfigure`.
final class Reloader: Sendable {
    private let started: Serve
    private let cli: [String]
    private let server: any Engine
    private let inProcessMode: Bool
    /// The settings last applied, and their generation. The signal thread only.
    private let state: Mutex<(applied: Serve, generation: Int)>

    init(running: Serve, cli: [String], server: any Engine, inProcessMode: Bool) {
        started = running
        self.cli = cli
        self.server = server
        self.inProcessMode = inProcessMode
        state = Mutex((running, running.configGeneration))
    }

    func reload() {
        let (applied, generation) = state.withLock { ($0.applied, $0.generation) }
        let next: Serve
        do {
            (next, _) = try Serve.resolve(cli: cli)
        } catch {
            log("reload rejected, keeping configuration generation \(generation): \(error.description)", .error)
            publish(generation: generation, outcome: 0)
            return
        }
        var changed: [String] = []
        var needRestart: [String] = []
        for setting in ServeSetting.all {
            if setting.live {
                let old = setting.render(applied), new = setting.render(next)
                if old != new { changed.append("\(setting.key) \(old) -> \(new)") }
            } else {
                let old = setting.render(started), new = setting.render(next)
                if old != new { needRestart.append("\(setting.key) \(old) -> \(new)") }
            }
        }
        if let configuration = try? next.engineConfiguration() {
            server.reconfigure(LiveSettings(configuration))
        }
        OperatorLog.setLevel(next.logLevel)
        state.withLock { $0 = (next, generation + 1) }
        publish(generation: generation + 1, outcome: 1)
        log("reloaded, configuration generation \(generation + 1): "
            + (changed.isEmpty ? "no live setting changed" : "applied " + changed.joined(separator: ", ")))
        if !needRestart.isEmpty {
            let how = inProcessMode ? "" : " (or --workers processes, whose reload starts new workers)"
            log("warning: needs a restart to take effect\(how): " + needRestart.joined(separator: ", "), .warning)
        }
    }

    /// `/metrics`: which configuration is in force, and how the last reload went.
    func publish(generation: Int, outcome: Int) {
        let metrics = MetricsRegistry.shared
        metrics.setProcessValue("switchyard_config_generation", help: "Configuration generation in force (1 at start, +1 per accepted reload).", Double(generation))
        metrics.setProcessValue("switchyard_config_last_reload_timestamp_seconds", help: "When the configuration was last loaded or reloaded (Unix time).", Double(unixSeconds()))
        metrics.setProcessValue("switchyard_config_last_reload_success", help: "1 if the last load or reload was accepted, 0 if it was rejected.", Double(outcome))
    }
}

/// Seconds since the Unix epoch, for "when did the last reload happen".
func unixSeconds() -> Int {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return now.tv_sec
}
