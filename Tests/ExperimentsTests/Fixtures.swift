@testable import Experiments

/// The engines the project has today: threads (one thread per connection,
/// no accept policy), epoll, io_uring and stealing (event loops with a thread pool).
let engines = [
    KnownEngine(name: "threads", isReactor: false, hasThreadPool: false),
    KnownEngine(name: "epoll", isReactor: true),
    KnownEngine(name: "io_uring", isReactor: true),
    KnownEngine(name: "stealing", isReactor: true),
]

let minimalSpec = """
    name = "t"
    [matrix]
    engines = ["epoll"]
    """

func parse(_ text: String) throws(SpecError) -> ExperimentSpec {
    try ExperimentSpec(parsing: text, source: "experiments/x.toml", knownEngines: engines)
}

/// The messages a spec is refused with, or nil if it parses.
func errors(_ text: String) -> String? {
    do {
        _ = try parse(text)
        return nil
    } catch {
        return error.description
    }
}
