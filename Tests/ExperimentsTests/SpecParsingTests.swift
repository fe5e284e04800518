import Foundation
import Testing
@testable import Experiments

@Suite struct SpecParsingTests {
    @Test func fullSpecParses() throws {
        let spec = try parse("""
            name = "quick"
            description = "d"
            duration = 5
            warmup = 0.5
            repetitions = 2
            [matrix]
            engines = ["threads", "epoll", "nginx"]
            threads = [1, 2]
            pin = ["none", "cpus:0-1"]
            accept = ["reuseport", "acceptor"]
            connections = [16, 64]
            pipeline = [1, 16]
            rate = [1000, 2500.5]
            arrivals = "poisson"
            mix = [{ path = "/a", weight = 3 }, { path = "/b" }]
            [server]
            backlog = 4096
            idle-timeout = 1.5
            static-dir = "/tmp"
            verbose = true
            [[reference]]
            name = "nginx"
            command = "nginx -p {dir} -g 'worker_processes {threads};'"
            port = 18081
            requires = ["nginx"]
            health = "/"
            """)
        #expect(spec.name == "quick")
        #expect(spec.duration == 5)
        #expect(spec.warmup == 0.5)
        #expect(spec.repetitions == 2)
        #expect(spec.matrix.rate == [1000, 2500.5])
        #expect(spec.matrix.arrivals == .poisson)
        #expect(spec.matrix.mix == [MixEntry(path: "/a", weight: 3), MixEntry(path: "/b", weight: 1)])
        #expect(spec.server.map(\.key) == ["backlog", "idle-timeout", "static-dir", "verbose"])
        #expect(spec.server.map(\.renderedValue) == ["4096", "1.5", "/tmp", "true"])
        #expect(spec.references == [ReferenceServer(
            name: "nginx", command: "nginx -p {dir} -g 'worker_processes {threads};'", port: 18081,
            requires: ["nginx"], health: "/")])
        #expect(spec.references[0].command(dir: "/d", threads: 2) == "nginx -p /d -g 'worker_processes 2;'")
        #expect(spec.reactorEngines == ["epoll"])
    }

    @Test func defaultsApply() throws {
        let spec = try parse(minimalSpec)
        #expect(spec.duration == ExperimentSpec.defaultDuration)
        #expect(spec.repetitions == ExperimentSpec.defaultRepetitions)
        #expect(spec.matrix.threads == [1])
        #expect(spec.matrix.rate.isEmpty)
        #expect(spec.matrix.mix == ExperimentSpec.defaultMix)
        #expect(spec.server.isEmpty && spec.references.isEmpty)
    }

    /// Every spec shipped in experiments/ must parse with today's engines.
    @Test func shippedSpecsParse() throws {
        let folder = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("experiments")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { $0.hasSuffix(".toml") }.sorted()
        #expect(files.count >= 5)
        for file in files {
            let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            let spec: ExperimentSpec
            do {
                spec = try ExperimentSpec(parsing: text, source: "experiments/\(file)", knownEngines: engines)
            } catch {
                Issue.record("\(error)")
                continue
            }
            #expect(spec.name + ".toml" == file, "name should match the file name")
            #expect(!spec.points.isEmpty)
        }
    }

    @Test func quickSpecIsQuick() throws {
        let folder = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: folder.appendingPathComponent("experiments/quick.toml"), encoding: .utf8)
        let spec = try ExperimentSpec(parsing: text, source: "quick.toml", knownEngines: engines)
        let seconds = Double(spec.runOrder.count) * (spec.duration + spec.warmup)
        #expect(seconds < 90, "leave room for server start-up within 2 minutes")
        #expect(Set(spec.points.map(\.engine)) == ["threads", "epoll", "io_uring", "stealing", "nginx"])
    }

    @Test(arguments: [
        // (spec text, expected fragment of the message)
        ("[matrix]\nengines = [\"epoll\"]", "experiments/x.toml: name: missing"),
        ("name = 3\n[matrix]\nengines = [\"epoll\"]", "name: expected a string, got integer"),
        ("name = \"a b\"\n[matrix]\nengines = [\"epoll\"]", "name: \"a b\" is not a valid name"),
        ("name = \"t\"\nduration = \"5 parsecs\"\n[matrix]\nengines = [\"epoll\"]", "duration: \"5 parsecs\" is not a duration"),
        ("name = \"t\"\nduration = -1.0\n[matrix]\nengines = [\"epoll\"]",
         "duration: -1 is out of range; allowed: greater than 0 seconds"),
        ("name = \"t\"\nrepetitions = 1.5\n[matrix]\nengines = [\"epoll\"]",
         "repetitions: expected an integer, got float"),
        ("name = \"t\"\n[matrix]\nengines = [\"threads\", \"epol\"]",
         "experiments/x.toml: matrix.engines[1]: unknown engine \"epol\"; known: threads, epoll"),
        ("name = \"t\"\n[matrix]\nengines = []", "matrix.engines: must not be empty"),
        ("name = \"t\"\n[matrix]\nthreads = [1]", "matrix.engines: missing"),
        ("name = \"t\"", "matrix: missing"),
        ("name = \"t\"\n[matrix]\nengines = [\"epoll\"]\narrivals = \"burst\"",
         "matrix.arrivals: unknown arrivals \"burst\"; allowed: constant, poisson"),
        ("name = \"t\"\n[matrix]\nengines = [\"epoll\"]\nmix = [{ path = \"/a\", weight = 0 }]",
         "matrix.mix[0].weight: 0 is out of range; allowed: greater than 0"),
        ("name = \"t\"\n[matrix]\nengines = [\"epoll\"]\nmix = [{ path = \"/a\", weight = \"x\" }]",
         "matrix.mix[0].weight: expected a number, got string"),
        ("name = \"t\"\n[matrix]\nengines = [\"epoll\"]\nmix = [{ path = \"a\" }]",
         "matrix.mix[0].path: \"a\" must start with \"/\""),
        ("name = \"t\"\n[matrix]\nengines = [\"epoll\"]\nthreads = [0]",
         "matrix.threads[0]: 0 is out of range; allowed: 1 or more"),
        ("name = \"t\"\n[matrix]\nengines = [\"epoll\"]\nconnections = [16, 16]",
         "matrix.connections[1]: duplicate value 16"),
        ("name = \"t\"\n[matrix]\nengines = [\"epoll\"]\npin = [\"tight\"]",
         "matrix.pin[0]: unknown pin policy \"tight\"; allowed: none, compact, scatter, cpus:LIST"),
        ("name = \"t\"\n[matrix]\nengines = [\"epoll\"]\naccept = [\"shared\"]",
         "matrix.accept[0]: unknown accept policy \"shared\"; allowed: reuseport, reuseport-cpu, reuseport-hash, acceptor, hash, p2c"),
        ("name = \"t\"\n[matrix]\nengines = [\"epoll\"]\nrate = [-5]", "matrix.rate[0]: -5 is out of range"),
        ("name = \"t\"\n[matrix]\nengines = [\"epoll\"]\nconections = [1]",
         "matrix.conections: unknown key; allowed: engines, threads"),
        ("name = \"t\"\n[matrix]\nengines = [\"epoll\"]\n[server]\nx = [1]",
         "server.x: expected string, integer, float or boolean, got array"),
        ("name = \"t\"\n[matrix]\nengines = [\"epoll\"]\nflags = [{ x = [1] }]",
         "matrix.flags[0].x: expected string, integer, float or boolean, got array"),
        ("name = \"t\"\n[matrix]\nengines = [\"epoll\"]\nflags = [{}, {}]",
         "matrix.flags[1]: the same flags as an earlier entry"),
        ("name = \"t\"\n[matrix]\nengines = [\"epoll\"]\nflags = \"shed-above=1\"",
         "matrix.flags: expected an array of tables like [{}, { shed-above = 512 }], got string"),
        ("name = \"t\"\n[matrix]\nengines = [\"epoll\"]\nflags = []",
         "matrix.flags: must not be empty"),
        ("name = \"t\"\n[matrix]\nengines = [\"epoll\"]\nflags = [{ threads = 4 }]",
         "matrix.flags[0].threads: set by the runner for each point from matrix.threads"),
        ("name = \"t\"\n[matrix]\nengines = [\"epoll\"]\n[server]\nport = 9000",
         "server.port: set by the runner for each point from a free loopback port it picks"),
        ("name = \"t\"\n[matrix]\nengines = [\"epoll\"]\n[[reference]]\nname = \"nginx\"\nport = 70000",
         "reference[0].command: missing"),
        ("name = \"t\"\n[matrix]\nengines = [\"epoll\"]\n[[reference]]\nname = \"nginx\"\ncommand = \"x\"\nport = 70000",
         "reference[0].port: 70000 is out of range; allowed: 1 to 65535"),
        ("name = \"t\"\n[matrix]\nengines = [\"nginx\"]\n[[reference]]\nname = \"nginx\"\ncommand = \"x\"\nport = 1\nrequires = [\"/usr/sbin/nginx\"]",
         "reference[0].requires[0]: \"/usr/sbin/nginx\" is not a program name"),
        ("name = \"t\"\n[matrix]\nengines = [\"nginx\"]\n[[reference]]\nname = \"nginx\"\ncommand = \"x\"\nport = 1\nrequires = \"nginx\"",
         "reference[0].requires: expected an array, got string"),
        ("name = \"t\"\n[matrix]\nengines = [\"nginx\"]\n[[reference]]\nname = \"nginx\"\ncommand = \"x\"\nport = 1\nhealth = \"up\"",
         "reference[0].health: \"up\" must be a path starting with \"/\""),
        ("name = \"t\"\n[matrix]\nengines = [\"epoll\"]\n[[reference]]\nname = \"nginx\"\ncommand = \"x\"\nport = 1",
         "reference[0].name: \"nginx\" is not listed in matrix.engines"),
        ("name = \"t\"\n[matrix\nengines = [\"epoll\"]", "experiments/x.toml:2:"),
        ("name = \"t\"\n[matrix]\nengines = [\"epoll\"]\nrate = [100]\nskew = [\"0.05\"]",
         "matrix.skew[0]: expected \"none\" or HOT:SHARE, two fractions between 0 and 1 (e.g. \"0.05:0.9\"), got \"0.05\""),
        ("name = \"t\"\n[matrix]\nengines = [\"epoll\"]\nskew = [\"0.05:0.9\"]",
         "matrix.skew: needs matrix.rate (an open loop)"),
        ("name = \"t\"\n[load]\nsource-addresses = -1\n[matrix]\nengines = [\"epoll\"]",
         "load.source-addresses: -1 is out of range; allowed: 0 (the kernel chooses) to 16000000"),
    ])
    func invalidSpecsNameTheKey(text: String, expected: String) {
        let message = errors(text)
        #expect(message?.contains(expected) == true, "got: \(message ?? "no error")")
    }

    /// All problems at once, one per line, so one edit fixes a whole spec.
    @Test func everyProblemIsReported() {
        let message = errors("duration = -1\n[matrix]\nengines = [\"x\"]\narrivals = \"y\"") ?? ""
        let lines = message.split(separator: "\n")
        #expect(lines.count == 4, "\(message)")
        #expect(lines.allSatisfy { $0.hasPrefix("experiments/x.toml: ") })
    }
}

@Suite("Durations with units")
struct DurationTextTests {
    @Test("wrk-style durations", arguments: [
        ("4s", 4.0), ("500ms", 0.5), ("2m", 120.0), ("250us", 0.00025), ("1.5s", 1.5), ("3", 3.0), ("0.25", 0.25), ("1h", 3600.0),
    ])
    func parses(text: String, seconds: Double) {
        #expect(DurationText.seconds(text) == seconds)
    }

    @Test("not durations", arguments: ["", "s", "4 seconds", "ms500", "4x", "nan", "inf"])
    func rejects(text: String) {
        #expect(DurationText.seconds(text) == nil)
    }

    @Test("shortest form", arguments: [(0.5, "500ms"), (120.0, "2m"), (4.0, "4s"), (0.00025, "250us"), (1.5, "1.5s")])
    func formats(seconds: Double, text: String) {
        #expect(DurationText.format(seconds) == text)
        #expect(DurationText.seconds(text) == seconds)
    }
}

@Suite struct SpecDurationTests {
    @Test func durationsTakeUnits() throws {
        let spec = try parse("""
            name = "t"
            duration = "1500ms"
            warmup = "2s"
            [matrix]
            engines = ["epoll"]
            """)
        #expect(spec.duration == 1.5)
        #expect(spec.warmup == 2)
    }

    @Test func aBadDurationNamesTheKeyAndTheForms() {
        let message = errors("""
            name = "t"
            duration = "four seconds"
            [matrix]
            engines = ["epoll"]
            """)
        #expect(message?.contains("duration") == true)
        #expect(message?.contains("500ms") == true)
        #expect(errors("name = \"t\"\nwarmup = \"-1s\"\n[matrix]\nengines = [\"epoll\"]")?.contains("warmup") == true)
    }
}
