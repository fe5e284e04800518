import EngineCore
import EpollEngine
import ThreadsEngine
import StealingEngine
import UringEngine

/// Every engine this build knows, in the order `switchyard engines` lists them.
/// A new engine joins by adding its descriptor here; the end-to-end suite then
/// runs against it, and its variants, automatically. The only module that
/// imports the engine modules (the CLI and the harness go through it).
public enum EngineRegistry {
    public static let all: [EngineDescriptor] = [
        ThreadPerConnectionEngine.descriptor,
        EpollEngine.descriptor,
        UringEngine.descriptor,
        StealingEngine.descriptor,
    ]

    public static var names: [String] { all.map(\.name) }

    public static func named(_ name: String) -> EngineDescriptor? {
        all.first { $0.name == name }
    }

    /// The engines that can run here.
    public static var available: [EngineDescriptor] {
        all.filter { $0.availability().isAvailable }
    }

    /// Every engine variant the end-to-end suites run (`EngineVariant`),
    /// available here or not: the suites run the available ones, and the
    /// "Engine variants" suite reports each unavailable one, with the
    /// reason, as a known issue rather than leaving it out.
    public static var variants: [EngineVariant] { all.flatMap(\.variants) }

    public static func variant(named name: String) -> EngineVariant? {
        variants.first { $0.name == name }
    }

    /// What `serve` uses without `--engine` (`--engine auto`).
    public static let defaultName = "auto"

    /// What `--engine auto` runs with `configuration`: io_uring where this
    /// kernel allows it with these options, epoll otherwise; and why.
    public static func autoChoice(_ configuration: EngineConfiguration) -> (name: String, why: String) {
        if let problem = UringEngine.autoProblem(configuration.uring) {
            return (EpollEngine.descriptor.name, "--engine auto chose epoll: io_uring is not usable here: \(problem)")
        }
        return (UringEngine.descriptor.name, "--engine auto chose io_uring (usable on this kernel; --engine epoll for the readiness engine)")
    }

    /// Every engine's own checks of `configuration` (see `EngineDescriptor.validate`).
    public static func problem(with configuration: EngineConfiguration) -> String? {
        for engine in all { if let problem = engine.validate(configuration) { return problem } }
        return nil
    }
}
