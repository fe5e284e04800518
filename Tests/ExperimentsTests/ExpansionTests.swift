import Testing
@testable import Experiments

@Suite struct ExpansionTests {
    let spec: ExperimentSpec

    init() throws {
        spec = try parse("""
            name = "t"
            repetitions = 3
            [matrix]
            engines = ["threads", "epoll", "nginx"]
            threads = [1, 2]
            pin = ["none", "compact"]
            accept = ["reuseport", "acceptor"]
            connections = [16, 64, 256]
            pipeline = [1, 16]
            rate = []
            [[reference]]
            name = "nginx"
            command = "nginx"
            port = 18081
            """)
    }

    @Test func countsCollapseDimensionsThatDoNotApply() {
        let points = spec.points
        // epoll: every dimension (2*2*2*3*2 = 48); threads: no pool, no accept
        // policy (2 pin * 3 * 2 = 12); nginx: only connections and pipeline (6).
        #expect(points.filter { $0.engine == "epoll" }.count == 48)
        #expect(points.filter { $0.engine == "threads" }.count == 12)
        #expect(points.filter { $0.engine == "nginx" }.count == 6)
        #expect(Set(points.map(\.id)).count == points.count, "ids are unique")
    }

    @Test func idsAreBuiltFromParameters() {
        let ids = Set(spec.points.map(\.id))
        #expect(ids.contains(
            "engine=epoll,threads=2,pin=compact,accept=reuseport,connections=64,pipeline=1,rate=closed"))
        #expect(ids.contains("engine=threads,threads=-,pin=none,accept=-,connections=16,pipeline=16,rate=closed"))
        #expect(ids.contains("engine=nginx,threads=-,pin=-,accept=-,connections=256,pipeline=1,rate=closed"))
    }

    @Test func flagVariantsMultiplyOurEnginesOnly() throws {
        let spec = try parse("""
            name = "t"
            [matrix]
            engines = ["epoll", "nginx"]
            flags = [{}, { shed-above = 512, read-ahead-limit = 65536 }]
            [[reference]]
            name = "nginx"
            command = "x"
            port = 1
            """)
        #expect(spec.points.map(\.id) == [
            "engine=epoll,threads=1,pin=none,accept=reuseport,connections=64,pipeline=1,rate=closed",
            "engine=nginx,threads=-,pin=-,accept=-,connections=64,pipeline=1,rate=closed",
            "engine=epoll,threads=1,pin=none,accept=reuseport,connections=64,pipeline=1,rate=closed"
                + ",flags=read-ahead-limit=65536;shed-above=512",
        ], "no flags keeps the id unchanged; the reference runs once")
        let row = ResultRow(experiment: "t", run: ScheduledRun(point: spec.points[2], repetition: 1),
                            arrivals: .constant, startedAt: "x")
        #expect(row.flags == "read-ahead-limit=65536;shed-above=512")
        let line = ResultsCSV.line(for: row)
        #expect(try ResultsCSV.parse(ResultsCSV.headerLine + line) == [row], "the flags column round-trips")
    }

    @Test func openLoopRatesAndReferenceThreads() throws {
        let spec = try parse("""
            name = "t"
            [matrix]
            engines = ["epoll", "nginx"]
            threads = [1, 2]
            rate = [1000, 2500.5]
            [[reference]]
            name = "nginx"
            command = "run {threads}"
            port = 1
            """)
        let ids = spec.points.map(\.id)
        #expect(ids.count == 8)
        #expect(ids.first == "engine=epoll,threads=1,pin=none,accept=reuseport,connections=64,pipeline=1,rate=1000")
        #expect(ids.contains("engine=nginx,threads=2,pin=-,accept=-,connections=64,pipeline=1,rate=2500.5"))
    }

    @Test func skewIsADimensionAndUniformKeepsItsId() throws {
        let spec = try parse("""
            name = "t"
            [load]
            source-addresses = 1000
            [matrix]
            engines = ["epoll"]
            accept = ["hash", "p2c"]
            rate = [1000]
            skew = ["none", "0.05:0.9"]
            """)
        let ids = spec.points.map(\.id)
        #expect(ids.count == 4)
        #expect(ids.contains("engine=epoll,threads=1,pin=none,accept=hash,connections=64,pipeline=1,rate=1000"))
        #expect(ids.contains("engine=epoll,threads=1,pin=none,accept=p2c,connections=64,pipeline=1,rate=1000,skew=0.05:0.9"))
        #expect(spec.load.sourceAddresses == 1000)
    }

    @Test func enginesAreInnermostSoComparisonsRunBackToBack() {
        let points = spec.points
        #expect(points.prefix(3).map(\.engine) == ["threads", "epoll", "nginx"])
        #expect(points[0].connections == points[1].connections && points[1].pipeline == points[0].pipeline)
    }

    @Test func runOrderInterleavesRepetitions() {
        let points = spec.points
        let order = spec.runOrder
        #expect(order.count == points.count * 3)
        for (index, run) in order.enumerated() {
            #expect(run.point == points[index % points.count])
            #expect(run.repetition == index / points.count + 1)
        }
    }
}

@Suite("Engine-specific flags")
struct EngineFlagTests {
    @Test("uring-* variants apply to io_uring only; other engines run once per point")
    func uringFlagsCollapseForOtherEngines() throws {
        let spec = try ExperimentSpec(parsing: """
            name = "t"
            [matrix]
            engines = ["epoll", "io_uring"]
            flags = [{}, { uring-recv = "single" }, { no-uring-defer-taskrun = true }, { shed-above = 8 }]
            """, source: "t.toml", knownEngines: engines)
        let ids = spec.points.map { "\($0.engine) \($0.flagsText)" }
        #expect(ids == ["epoll ", "io_uring ", "io_uring uring-recv=single", "io_uring no-uring-defer-taskrun=true",
                        "epoll shed-above=8", "io_uring shed-above=8"])
    }
}
