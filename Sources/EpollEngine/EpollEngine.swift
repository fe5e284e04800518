import CSystem
import EngineCore
import EventLoopCore
import Glibc

/// The reactor engine: N event loops, each with its own epoll instance,
/// non-blocking sockets and edge-triggered readiness. How connections reach
/// loops (`--accept`), the connection cap and the graceful stop come from
/// `LoopGroup` and `LoopCore` (module EventLoopCore), shared with the other
/// event-loop engines; this module holds only the readiness-driven I/O
/// (`Reactor`).
public enum EpollEngine {
    public static let descriptor = EngineDescriptor.eventLoops(
        name: "epoll", summary: "thread-per-core reactors, edge-triggered epoll, timer wheel",
        availability: Epoll.availability,
        makeLoop: { _ in { core throws(EngineError) in try Reactor(core: core) } })
}
