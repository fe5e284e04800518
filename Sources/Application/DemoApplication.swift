import Glibc
import HTTP1
import Metrics
import Pools
import Router

/// Settings of the built-in application.
public struct DemoConfiguration: Sendable {
    /// Directory served under `/static/`; nil disables the route's files (404).
    public var staticDirectory: String?
    /// Upper bound for `/work?us=N`, so one request cannot occupy a thread forever.
    public var maxWorkMicroseconds = 1_000_000
    /// Upper bound for `/delay?ms=N`.
    public var maxDelayMilliseconds = 60_000

    /// Adds `GET /crash`, whose handler traps: a test aid for watching a
    /// supervisor contain a crash (`--enable-crash-route`). Off by default.
    public var crashRoute = false
    /// What `/metrics` shows; nil: this process's registry. Process mode
    /// sets it to the merged view of every worker.
    public var metricsText: (@Sendable () -> String)?
    /// Route classes for the overload controller (`--priority`).
    public var priorities = PriorityRules.defaults

    public init(staticDirectory: String? = nil, crashRoute: Bool = false) {
        self.staticDirectory = staticDirectory
        self.crashRoute = crashRoute
    }
}

extension Application {
    /// The application every experiment measures:
    ///
    /// | route | answer |
    /// |---|---|
    /// | `GET /plaintext` | "Hello, World!" (text/plain, a static body) |
    /// | `GET /json` | `{"message":"Hello, World!"}` (serialized per request) |
    /// | `POST /echo` | the request body, with its Content-Type |
    /// | `GET /work?us=N` | burns N µs of CPU: service-time experiments |
    /// | `GET /delay?ms=N[&id=X]` | answered N ms later from a timer thread (`respondLater`): the loop serves others meanwhile |
    /// | `GET /users/:id` | shows the captured parameter |
    /// | `GET /static/*path` | files under the static directory |
    /// | `GET /health` | "ok" |
    /// | `GET /metrics` | Prometheus text format |
    public static func demo(_ configuration: DemoConfiguration = DemoConfiguration(),
                            metrics: MetricsRegistry = .shared) throws -> Application {
        let app = Application(priorities: configuration.priorities, fixedHeaders: [("Server", "switchyard")])

        // Made once here and captured: a static read inside the handler
        // would pay a lazy-initialization check per request.
        let hello = StaticResponse(contentType: .textPlain, body: "Hello, World!")
        try app.route(.get, "/plaintext") { _, _, writer in
            writer.respond(.ok, hello)
        }
        try app.route(.get, "/json") { _, _, writer in
            writer.respond(.ok, contentType: .json) { body in
                body.write("{\"message\":\"")
                body.writeJSONStringContents(Bodies.helloWorld.buffer)
                body.write("\"}")
            }
        }
        try app.route(.post, "/echo") { request, _, writer in
            writer.head(.ok)
            if let type = request.headers.first("content-type") {
                writer.header("Content-Type", type)
                writer.body(contentType: nil, request.body)
            } else {
                writer.body(contentType: .octetStream, request.body)
            }
        }
        let maxWork = configuration.maxWorkMicroseconds
        try app.route(.get, "/work") { request, _, writer in
            guard let us = boundedQuery(request, "us", upTo: maxWork, &writer) else { return }
            burnCPU(microseconds: us)
            writer.respond(.ok, contentType: .textPlain) { body in
                body.write("worked ")
                body.write(decimal: us)
                body.write(" us\n")
            }
        }
        let maxDelay = configuration.maxDelayMilliseconds
        try app.route(.get, "/delay") { request, _, writer in
            guard let ms = boundedQuery(request, "ms", upTo: maxDelay, &writer) else { return }
            // Copied now: the request's view is not valid after this call.
            let id = Array(request.queryValue("id") ?? UnsafeRawBufferPointer(start: nil, count: 0))
            let pending = writer.respondLater()
            LateTimer.shared.after(milliseconds: ms) {
                pending.respond { _, writer in
                    writer.respond(.ok, contentType: .textPlain) { body in
                        body.write("delayed ")
                        body.write(decimal: ms)
                        body.write(" ms")
                        if !id.isEmpty {
                            body.write(" ")
                            id.withUnsafeBytes { body.write($0) }
                        }
                        body.write("\n")
                    }
                }
            }
        }
        try app.route(.get, "/users/:id") { _, parameters, writer in
            writer.respond(.ok, contentType: .textPlain) { body in
                body.write("user ")
                body.write(parameters[0])
                body.write("\n")
            }
        }
        let files = try configuration.staticDirectory.map { try StaticFiles(root: $0) }
        try app.route(.get, "/static/*path") { request, parameters, writer in
            guard let files else {
                writer.respond(.notFound, contentType: .textPlain, body: StaticFiles.notConfigured)
                return
            }
            files.serve(parameters["path"] ?? UnsafeRawBufferPointer(start: nil, count: 0), headers: request.headers,
                        arena: request.loop.arena, &writer)
        }
        let ok = StaticResponse(contentType: .textPlain, body: "ok\n")
        try app.route(.get, "/health") { _, _, writer in
            writer.respond(.ok, ok)
        }
        if configuration.crashRoute {
            try app.route(.get, "/crash") { _, _, _ in
                fatalError("GET /crash: --enable-crash-route asked for this trap")
            }
        }
        let metricsText = configuration.metricsText
        try app.route(.get, "/metrics") { _, _, writer in
            let text = metricsText?() ?? metrics.prometheusText()
            writer.respond(.ok, contentType: Bodies.prometheusType) { body in body.write(text) }
        }
        return app
    }
}

extension Bodies {
    static let prometheusType = StaticHeader(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
}

/// The integer query parameter `name`, from 0 to `limit`; otherwise the
/// request is answered 400 with what is allowed, and nil returned.
func boundedQuery(_ request: HTTPRequest, _ name: StaticString, upTo limit: Int, _ writer: inout ResponseWriter) -> Int? {
    if let value = request.queryValue(name)?.decimalValue, value <= limit { return value }
    writer.respond(.badRequest, contentType: .textPlain) { body in
        body.write("query parameter ")
        body.write(name)
        body.write(" must be an integer from 0 to ")
        body.write(decimal: limit)
        body.write("\n")
    }
    return nil
}

/// Spins on the CPU (not sleeping) for the given time, as a handler doing
/// real work would: the thread stays busy and unavailable.
func burnCPU(microseconds: Int) {
    guard microseconds > 0 else { return }
    var start = timespec()
    clock_gettime(CLOCK_MONOTONIC, &start)
    let deadline = Int64(start.tv_sec) * 1_000_000_000 + Int64(start.tv_nsec) + Int64(microseconds) * 1000
    var now = start
    var sink: UInt64 = 0
    repeat {
        for i in 0..<64 { sink = sink &* 6364136223846793005 &+ UInt64(i) }
        clock_gettime(CLOCK_MONOTONIC, &now)
    } while Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec) < deadline
    withExtendedLifetime(sink) {}
}
