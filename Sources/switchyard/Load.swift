import ArgumentParser
import LoadGen
import Topology

struct Load: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate HTTP/1.1 load: closed loop (like wrk) or open loop at a fixed rate, with HDR latency percentiles.",
        discussion: """
            Closed loop keeps --pipeline requests in flight on each connection. Open loop (--rate) sends at \
            intended times and measures latency from them, so a stalled server shows in the percentiles \
            (no coordinated omission). Exits non-zero when no request succeeded.
            """)

    @Argument(help: "Target URL, e.g. http://127.0.0.1:8080/plaintext")
    var url: String

    @Option(help: "Connections, spread over the I/O threads.")
    var connections = 64

    @Option(help: "Requests in flight per connection (closed loop).")
    var pipeline = 1

    @Option(help: "How long to measure: 4s, 500ms, 2m, or seconds.")
    var duration = Seconds(10)

    @Option(help: "How long to run before measuring (2s, 500ms, or seconds).")
    var warmup = Seconds(0)

    @Option(help: "Open loop: total requests per second (omit for closed loop).")
    var rate: Double?

    @Option(help: "Open loop arrivals: constant or poisson.")
    var arrivals: Arrivals = .constant

    @Option(name: .customLong("mix"), help: "Weighted path PATH:WEIGHT, repeatable (e.g. --mix '/work?us=2:99' --mix '/work?us=500:1'); default: the URL's path.")
    var mixEntries: [String] = []

    @Option(help: "I/O threads, one epoll loop each (default: one per CPU of --cpus, else 1).")
    var threads: Int?

    @Option(help: "CPUs for the I/O threads, e.g. 1 or 1,3 (thread i on the i-th).")
    var cpus: String?

    @Option(help: "Per-request timeout (5s, 500ms, or seconds).")
    var timeout = Seconds(5)

    @Option(help: "Open loop: a send later than its intended time by more than this counts as off schedule (1ms, 200us, or seconds).")
    var scheduleSlack = Seconds(0.001)

    @Option(help: "A latency objective (50ms, 1s, or seconds): count each class's 2xx responses within it and report goodput.")
    var slo: Seconds?

    @Flag(help: "Run the I/O threads under SCHED_FIFO, so they send on time on a CPU they share with the server (needs CAP_SYS_NICE).")
    var realtime = false

    @Option(help: "Connect from this many loopback addresses (127.0.0.1 upwards, connection i from the i-th), so one machine is many clients to a server that places clients by address; 0: the kernel chooses. Needs a 127.x.y.z target.")
    var sourceAddresses = 0

    @Option(help: "Open loop: HOT:SHARE, a fraction of the connections that send a share of the requests (e.g. 0.05:0.9: 5% of connections send 90%).")
    var skew: String?

    @Flag(help: "Print the report as JSON (with a per-second timeline).")
    var json = false

    func validate() throws {
        _ = try target()
        _ = try mix(defaultPath: "/")
        guard connections >= 1 else { throw ValidationError("--connections \(connections): must be at least 1") }
        guard pipeline >= 1 else { throw ValidationError("--pipeline \(pipeline): must be at least 1") }
        guard duration.value > 0 else { throw ValidationError("--duration \(duration.text): must be more than 0 seconds") }
        guard warmup.value >= 0 else { throw ValidationError("--warmup \(warmup.text): must be 0 or more seconds") }
        guard scheduleSlack.value >= 0 else { throw ValidationError("--schedule-slack \(scheduleSlack.text): must be 0 or more") }
        if let rate, rate <= 0 { throw ValidationError("--rate \(rate): must be more than 0 requests per second") }
        if let threads, threads < 1 { throw ValidationError("--threads \(threads): must be at least 1") }
        guard timeout.value > 0 else { throw ValidationError("--timeout \(timeout.text): must be more than 0 seconds") }
        _ = try cpuList()
        guard sourceAddresses >= 0 else { throw ValidationError("--source-addresses \(sourceAddresses): must be 0 (the kernel chooses) or more") }
        if let skew {
            guard Skew(parsing: skew) != nil else {
                throw ValidationError("--skew \(skew): expected HOT:SHARE, two fractions between 0 and 1 (e.g. 0.05:0.9)")
            }
            guard rate != nil else { throw ValidationError("--skew needs --rate (an open loop): a closed loop keeps every connection equally busy") }
        }
    }

    /// host, port and path from an http:// URL.
    func target() throws -> (host: String, port: Int, path: String) {
        guard url.hasPrefix("http://") else {
            throw ValidationError("URL \(url): only http:// URLs are supported")
        }
        let rest = url.dropFirst(7)
        let authority = rest.prefix { $0 != "/" }
        let path = rest.dropFirst(authority.count)
        // An IPv6 literal is bracketed: http://[::1]:8080/.
        let host: Substring
        let portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw ValidationError("URL \(url): an IPv6 address needs its closing ]")
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            guard after.isEmpty || after.hasPrefix(":") else { throw ValidationError("URL \(url): expected http://[IPv6]:PORT/PATH") }
            portText = after.isEmpty ? nil : after.dropFirst()
        } else {
            let parts = authority.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { throw ValidationError("URL \(url): expected http://HOST[:PORT]/PATH (IPv6 in brackets)") }
            host = parts[0]
            portText = parts.count == 2 ? parts[1] : nil
        }
        guard !host.isEmpty else { throw ValidationError("URL \(url): expected http://HOST[:PORT]/PATH") }
        let port = portText.map { Int($0) } ?? 80
        guard let port, (1...65535).contains(port) else { throw ValidationError("URL \(url): the port must be from 1 to 65535") }
        return (String(host), port, path.isEmpty ? "/" : String(path))
    }

    func mix(defaultPath: String) throws -> [(path: String, weight: Double)] {
        guard !mixEntries.isEmpty else { return [(defaultPath, 1)] }
        return try mixEntries.map { entry in
            guard let colon = entry.lastIndex(of: ":"), entry.first == "/",
                  let weight = Double(entry[entry.index(after: colon)...]), weight > 0
            else { throw ValidationError("--mix \(entry): expected /PATH:WEIGHT with a positive weight") }
            return (String(entry[..<colon]), weight)
        }
    }

    func cpuList() throws -> [Int] {
        guard let cpus else { return [] }
        do {
            guard case .cpus(let list) = try PinPolicy(parsing: "cpus:" + cpus) else { return [] }
            return list
        } catch {
            throw ValidationError("--cpus \(cpus): expected a list like 1 or 0,2 or 0-3")
        }
    }

    func run() throws {
        let (host, port, path) = try target()
        var configuration = LoadConfiguration(host: host, port: port, mix: try mix(defaultPath: path))
        configuration.connections = connections
        configuration.pipeline = pipeline
        configuration.duration = duration.value
        configuration.warmup = warmup.value
        configuration.scheduleSlack = scheduleSlack.value
        configuration.slo = slo?.value
        configuration.rate = rate
        configuration.arrivals = arrivals
        let cpus = try cpuList()
        configuration.threads = threads ?? max(1, cpus.count)
        configuration.cpus = cpus
        configuration.timeout = timeout.value
        configuration.realtime = realtime
        configuration.sourceAddresses = sourceAddresses
        configuration.skew = skew.flatMap(Skew.init(parsing:))
        do {
            let report = try LoadGenerator.run(configuration)
            print(json ? report.json() : report.text())
        } catch {
            log("error: \(error)", .error)
            throw ExitCode(1)
        }
    }
}

extension Arrivals: ExpressibleByArgument {}
