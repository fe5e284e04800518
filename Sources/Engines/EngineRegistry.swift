import EngineCore
import EpollEngine
import ThreadsEngine
import StealingEngine
import UringEngine

/// Every engine this build knows, in the order `switchyard engines` lists them.
/// A new engine joins by adding its descriptor here; the end-to-end suite then
/// runs against it automatically.
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

    /// What `serve` uses without `--engine`.
    public static let defaultName = "epoll"
}
