// Micro-benchmark of the shared HTTP path without sockets: parse, route,
// run middleware and handler, serialize, for the requests experiments use.
// Prints nanoseconds and heap allocations per request; allocations are
// counted by CMallocCounter, which interposes malloc in this executable.
//
//   swift run -c release SwitchyardBench [iterations] [--parser-simd auto|avx2|sse42|scalar|all] [--only PREFIX]
//
// With `all` (the default) every scenario runs once with each parser
// variant this CPU has, side by side, so their figures compare directly.
//
// For stable instruction counts on a noisy machine, run the release binary
// under `valgrind --tool=callgrind` (see README, "Measuring").
import Application
import CMallocCounter
import Glibc
import HTTP1
import LoopRuntime
import Metrics

var arguments = Array(CommandLine.arguments.dropFirst())
var variants = ParserSIMD.supported
if let flag = arguments.firstIndex(of: "--parser-simd") {
    let word = flag + 1 < arguments.count ? arguments[flag + 1] : ""
    if word != "all" {
        guard let simd = ParserSIMD(choice: word), simd.isSupported else {
            print("--parser-simd \(word): allowed values are all, \(ParserSIMD.choices.joined(separator: ", ")) (this CPU runs: \(ParserSIMD.supported.map(\.description).joined(separator: ", ")))")
            exit(2)
        }
        variants = [simd]
    }
    arguments.removeSubrange(flag...min(flag + 1, arguments.count - 1))
}
/// `--only PREFIX`: the scenarios whose name starts with it (for callgrind runs per scenario).
var only = ""
if let flag = arguments.firstIndex(of: "--only") {
    only = flag + 1 < arguments.count ? arguments[flag + 1] : ""
    arguments.removeSubrange(flag...min(flag + 1, arguments.count - 1))
}
let iterations = arguments.first.flatMap { Int($0) } ?? 1_000_000

struct Scenario {
    let name: String
    let request: [UInt8]
    let requestsPerFeed: Int
}

func requests(_ path: String, _ count: Int) -> [UInt8] {
    let one = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"
    return Array(String(repeating: one, count: count).utf8)
}

let scenarios = [
    Scenario(name: "plaintext keep-alive", request: requests("/plaintext", 1), requestsPerFeed: 1),
    Scenario(name: "plaintext pipelined x16", request: requests("/plaintext", 16), requestsPerFeed: 16),
    Scenario(name: "json keep-alive", request: requests("/json", 1), requestsPerFeed: 1),
    Scenario(name: "users/:id keep-alive", request: requests("/users/12345", 1), requestsPerFeed: 1),
    Scenario(name: "browser-like headers", request: Array(("GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
        + "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
        + "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: en-GB,en;q=0.5\r\n"
        + "Accept-Encoding: gzip, deflate, br\r\nConnection: keep-alive\r\n"
        + "Cookie: session=8f2b6c1e0d9a4b7c8e3f1a2b3c4d5e6f; theme=dark; consent=yes; tracking=0123456789abcdef\r\n\r\n").utf8), requestsPerFeed: 1),
    Scenario(name: "POST /echo 64 B body", request: Array(("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 64\r\n\r\n" + String(repeating: "x", count: 64)).utf8), requestsPerFeed: 1),
]

func now() -> Int {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return t.tv_sec * 1_000_000_000 + t.tv_nsec
}

let application = try Application.demo(metrics: MetricsRegistry())
let loop = LoopContext(counters: WorkerCounters())

/// What an engine does per read: bytes in, process, write everything out.
@inline(never)
func serve(_ session: HTTPSession, _ request: UnsafeRawBufferPointer) -> Int {
    let space = session.readSpace()
    space.baseAddress!.copyMemory(from: request.baseAddress!, byteCount: request.count)
    session.didRead(request.count)
    var written = 0
    while session.process() == .write {
        let n = session.pendingOutput.count
        written += n
        session.didWrite(n)
    }
    return written
}

print("Switchyard micro-benchmark: parse + route + middleware + handler + serialize, no sockets")
print("iterations per scenario: \(iterations) feeds; parser variants: \(variants.map(\.description).joined(separator: ", "))")
print("scenario                    parser   ns/request   allocations/request   response bytes")
for scenario in scenarios where scenario.name.hasPrefix(only) {
  for simd in variants {
    let session = HTTPSession(responder: application, loop: loop, limits: HTTPLimits(parserSIMD: simd))
    scenario.request.withUnsafeBytes { request in
        var bytes = 0
        for _ in 0..<10_000 { bytes = serve(session, request) }  // warm-up: buffers, caches, lazy statics
        let mallocsBefore = switchyard_malloc_count()
        let start = now()
        for _ in 0..<iterations { bytes &+= serve(session, request) }
        let elapsed = now() - start
        let mallocs = switchyard_malloc_count() - mallocsBefore
        let requests = Double(iterations * scenario.requestsPerFeed)
        let name = scenario.name.padding(toLength: 26)
        let ns = String(format2: Double(elapsed) / requests)
        let allocations = String(format2: Double(mallocs) / requests)
        print("\(name)  \(simd.description.padding(toLength: 6))   \(ns.leftPadded(10))   \(allocations.leftPadded(19))   \(bytes / (iterations + 10_000) / scenario.requestsPerFeed)")
    }
  }
}

extension String {
    init(format2 value: Double) {
        let scaled = Int((value * 100).rounded())
        let fraction = scaled % 100
        self = "\(scaled / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
    func padding(toLength n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
