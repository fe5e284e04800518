// swift-tools-version: 6.1
import PackageDescription

// Module graph (see README.md): HTTP1 and Metrics know nothing about sockets;
// Router and Application build on them; engines depend on EngineCore; the
// `switchyard` executable wires everything together.

// The hot-path modules trade dynamic exclusivity checks for speed in release
// builds (the checks cost ~6% of the request path's instructions); debug
// builds and tests keep them. Cross-module optimization lets the router's
// generic lookup specialize into the application.
let hotPath: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked", "-cross-module-optimization"], .when(configuration: .release)),
]

let package = Package(
    name: "Switchyard",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "switchyard", targets: ["switchyard"]),
        .executable(name: "switchyard-bench", targets: ["SwitchyardBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-atomics", from: "1.2.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
    ],
    targets: [
        .target(
            name: "Metrics",
            dependencies: [.product(name: "Atomics", package: "swift-atomics")],
            exclude: ["README.md"], swiftSettings: hotPath),
        .target(name: "Pools", dependencies: ["Metrics"], exclude: ["README.md"], swiftSettings: hotPath),
        // What one loop thread owns on the hot path: clock, date cache, pool, arena, overload gate.
        .target(name: "LoopRuntime", dependencies: ["Metrics", "Pools"], exclude: ["README.md"], swiftSettings: hotPath),
        // The parser's byte scanners: scalar, SSE4.2 and AVX2, chosen at run time.
        .target(name: "CSwitchyardSIMD", exclude: ["README.md"], cSettings: [.unsafeFlags(["-O2"])]),
        .target(name: "HTTP1", dependencies: ["LoopRuntime", "Metrics", "Pools", "CSwitchyardSIMD"], exclude: ["README.md"], swiftSettings: hotPath),
        .target(name: "Router", dependencies: ["HTTP1"], exclude: ["README.md"], swiftSettings: hotPath),
        .target(
            name: "Application", dependencies: ["LoopRuntime", "HTTP1", "Router", "Metrics", "Pools"],
            exclude: ["README.md"], swiftSettings: hotPath),
        // Drives a session without a socket and reads its output strictly:
        // the fuzzer, the corpus tests and `switchyard http-replay`.
        .target(name: "HTTPReplay", dependencies: ["LoopRuntime", "HTTP1", "Metrics"], exclude: ["README.md"]),
        // The libFuzzer target (`make fuzz` builds it with -sanitize=fuzzer).
        .executableTarget(name: "SwitchyardFuzz", dependencies: ["LoopRuntime", "HTTPReplay", "Application", "HTTP1", "Metrics"], exclude: ["README.md"]),
        // Linux interfaces missing from `import Glibc` (GNU extensions, epoll).
        .systemLibrary(name: "CSystem"),
        // CPU topology and thread placement over hwloc (Debian's libhwloc-dev).
        .systemLibrary(name: "CHwloc", pkgConfig: "hwloc", providers: [.apt(["libhwloc-dev"])]),
        .target(name: "Topology", dependencies: ["CHwloc"], exclude: ["README.md"]),
        .target(name: "EngineCore", dependencies: ["LoopRuntime", "HTTP1", "Metrics", "CSystem", "Topology"], exclude: ["README.md"]),
        // What every event-loop engine shares: slots, deadlines, budget, shedding, drain.
        .target(
            name: "EventLoopCore",
            dependencies: ["LoopRuntime", "EngineCore", "HTTP1", "Metrics", "CSystem", .product(name: "Atomics", package: "swift-atomics")],
            exclude: ["README.md"], swiftSettings: hotPath),
        .target(name: "ThreadsEngine", dependencies: ["LoopRuntime", "EngineCore", "HTTP1", "Metrics"], exclude: ["README.md"]),
        .target(
            name: "EpollEngine", dependencies: ["EngineCore", "EventLoopCore", "HTTP1", "Metrics", "CSystem"],
            exclude: ["README.md"], swiftSettings: hotPath),
        // liburing 2.3 (Debian's liburing-dev) and the constants of newer kernels.
        .systemLibrary(name: "CLiburing", pkgConfig: "liburing", providers: [.apt(["liburing-dev"])]),
        .target(
            name: "UringEngine", dependencies: ["LoopRuntime", "EngineCore", "EventLoopCore", "HTTP1", "Metrics", "Pools", "CSystem", "CLiburing"],
            exclude: ["README.md"], swiftSettings: hotPath),
        .target(
            name: "StealingEngine", dependencies: ["LoopRuntime", "EngineCore", "EventLoopCore", "HTTP1", "Metrics", "CSystem"],
            exclude: ["README.md"], swiftSettings: hotPath),
        .target(
            name: "Engines", dependencies: ["EngineCore", "ThreadsEngine", "EpollEngine", "UringEngine", "StealingEngine"],
            exclude: ["README.md"]),
        // The research harness: load generator and experiment specifications.
        .target(
            name: "LoadGen",
            dependencies: ["CSystem", "EngineCore", "HTTP1", "Topology", .product(name: "Histogram", package: "hdrhistogram-swift")],
            exclude: ["README.md"], swiftSettings: hotPath),
        .target(name: "Experiments", dependencies: [.product(name: "TOMLKit", package: "TOMLKit")], exclude: ["README.md"]),
        // The sweep runner: servers as child processes, load, /proc and /metrics samples.
        .target(
            name: "Sweep", dependencies: ["EngineCore", "HTTP1", "Experiments", "LoadGen", "Topology", "CSystem"],
            exclude: ["README.md"]),
        .executableTarget(
            name: "switchyard",
            dependencies: [
                "EngineCore", "Engines", "Application", "HTTP1", "LoopRuntime", "Metrics", "Topology", "LoadGen", "Experiments", "Sweep",
                "CSystem", "HTTPReplay",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["README.md"]
        ),
        // Counts malloc calls in-process; linked only into the benchmark.
        .target(name: "CMallocCounter", exclude: ["README.md"]),
        .executableTarget(
            name: "SwitchyardBench",
            dependencies: ["CMallocCounter", "LoopRuntime", "HTTP1", "Router", "Application", "Metrics", "Pools"],
            exclude: ["README.md"],
            swiftSettings: hotPath
        ),
        .testTarget(name: "HTTP1Tests", dependencies: ["LoopRuntime", "HTTP1", "HTTPReplay", "Application", "Metrics", "Pools", "CSwitchyardSIMD"]),
        .testTarget(name: "RouterTests", dependencies: ["Router", "HTTP1"]),
        .testTarget(name: "TopologyTests", dependencies: ["Topology"]),
        .testTarget(name: "PoolsTests", dependencies: ["Pools", "Metrics"]),
        .testTarget(name: "MetricsTests", dependencies: ["Metrics"]),
        .testTarget(name: "LoadGenTests", dependencies: ["LoadGen", "HTTP1", "EngineCore", "CSystem"]),
        .testTarget(name: "ExperimentsTests", dependencies: ["Experiments"]),
        .testTarget(name: "SweepTests", dependencies: ["Sweep", "Experiments", "Topology", "Engines"]),
        .testTarget(name: "StealingEngineTests", dependencies: ["StealingEngine"]),
        .testTarget(name: "EventLoopCoreTests", dependencies: ["EventLoopCore", "EngineCore", "LoopRuntime", "Metrics"]),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["LoopRuntime", "EngineCore", "EventLoopCore", "Engines", "UringEngine", "Application", "HTTP1", "LoadGen", "Metrics", "Topology"]
        ),
    ]
)
