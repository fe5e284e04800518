import CSystem
import EngineCore
import EventLoopCore
import Glibc
import HTTP1
import Metrics

/// The reactor engine: N event loops, each with its own epoll instance,
/// non-blocking sockets and edge-triggered readiness. How connections reach
/// loops (`--accept`), the connection cap and the graceful stop come from
/// `LoopGroup` and `LoopCore` (module EventLoopCore), shared with the other
/// event-loop engines; this module holds only the readiness-driven I/O.
public final class EpollEngine: Engine, @unchecked Sendable {
    public static let descriptor = EngineDescriptor(
        name: "epoll",
        summary: "thread-per-core reactors, edge-triggered epoll, timer wheel",
        isReactor: true, hasThreadPool: true,
        availability: {
            let fd = epoll_create1(Int32(EPOLL_CLOEXEC))
            guard fd >= 0 else { return .unavailable(reason: "epoll_create1 failed: \(errnoText())") }
            close(fd)
            return .available
        },
        make: { EpollEngine(configuration: $0, responder: $1, metrics: $2) })

    // @unchecked Sendable: immutable after init; the group synchronizes itself.
    let configuration: EngineConfiguration
    let responder: any HTTPResponder
    private let group: LoopGroup

    public init(configuration: EngineConfiguration, responder: any HTTPResponder, metrics: MetricsRegistry = .shared) {
        self.configuration = configuration
        self.responder = responder
        group = LoopGroup(engineName: "epoll", configuration: configuration, metrics: metrics)
    }

    public var boundPort: Int { group.boundPort }

    public func start() throws(EngineError) {
        try group.start { [configuration, responder] (index, budget, onClose) throws(EngineError) in
            let core = try LoopCore(index: index, configuration: configuration, responder: responder,
                                    budget: budget, onClose: onClose)
            return try Reactor(core: core)
        }
    }

    public func stop() { group.stop() }

    public func waitUntilStopped() { group.waitUntilStopped() }
}
