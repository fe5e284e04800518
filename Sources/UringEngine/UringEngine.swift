import CLiburing
import EngineCore
import EventLoopCore
import Glibc
import HTTP1
import Metrics

/// The completion engine: N io_uring event loops, one ring per pinned
/// thread, multishot accept and receive into provided buffers, one send in
/// flight per connection, every kernel feature a `--uring-*` flag
/// (`UringOptions`). Loops, accept policy, budget, deadlines, shedding and
/// the drain come from EventLoopCore, as for epoll; this module holds only
/// how I/O is issued and completed.
public enum UringEngine {
    public static let descriptor = EngineDescriptor.eventLoops(
        name: "io_uring",
        summary: "thread-per-core rings, multishot accept and receive into provided buffers, timer wheel",
        availability: {
            if let refusal = UringProbe.shared.refusal { return .unavailable(reason: refusal) }
            return .available
        },
        variants: [EngineVariant(engine: "io_uring", suffix: "single", arguments: ["--uring-recv", "single"]) { $0.uring.receive = .single }],
        validate: { validate($0.uring) },
        details: {
            let defaults = UringOptions()
            return ["io_uring on this kernel (probed now; each feature is a `serve --uring-*` flag):"] + UringProbe.shared.findings.map { "  " + $0 }
                + ["  provided-buffer ring (multishot receive): \(defaults.buffers) x \(defaults.bufferSize) B = \(ringBytes(defaults) / 1024) KiB per loop, a fixed cost resident from start-up (--uring-buffers, --uring-buffer-size)"]
        },
        prepare: prepare,
        makeLoop: { configuration in { core in RingLoop(core: core, options: effectiveOptions(configuration)) } })

    /// The ring's options as this configuration runs them. Overload control
    /// turns DEFER_TASKRUN off: with it the kernel completes at most a small
    /// batch of deferred work per wait and keeps the rest in a list the loop
    /// can neither see nor time, so requests waited there for over a second
    /// while every turn looked short (measured at 5x capacity: /health p99
    /// 2.2 s, no goodput); without it completions reach the ring as they
    /// happen and each full batch ends a turn (/health p99 5.4 ms, goodput
    /// 2.1x capacity).
    static func effectiveOptions(_ configuration: EngineConfiguration) -> UringOptions {
        var options = configuration.uring
        if configuration.overload.enabled { options.deferTaskrun = false }
        return options
    }

    /// Checks the `--uring-*` switches against this kernel and each other,
    /// before any ring exists, and records them for `/metrics`.
    static func prepare(_ configuration: EngineConfiguration, _ metrics: MetricsRegistry) throws(EngineError) {
        let options = effectiveOptions(configuration)
        if let problem = UringProbe.shared.check(options) { throw EngineError(problem) }
        if let problem = validate(options) { throw EngineError(problem) }
        if options.directDescriptors && configuration.acceptPolicy.usesAcceptorThread {
            throw EngineError("--uring-direct-descriptors needs one of the kernel's policies, --accept reuseport, reuseport-cpu or reuseport-hash (an acceptor thread hands over real descriptors; got --accept \(configuration.acceptPolicy.rawValue))")
        }
        metrics.setInfo("uring", options.summary)
        if options.receive == .multishot {
            metrics.setProcessValue("switchyard_uring_buffer_ring_bytes",
                                    help: "Memory of the io_uring provided-buffer rings (buffers x size, per loop, summed): a fixed cost, resident from start-up.",
                                    Double(ringBytes(options) * configuration.threads))
        }
    }

    /// One loop's provided-buffer ring (multishot receive): a fixed cost
    /// per loop, whatever the number of connections.
    public static func ringBytes(_ options: UringOptions) -> Int { options.buffers * options.bufferSize }

    /// Sizes the kernel accepts, checked before any ring exists.
    public static func validate(_ options: UringOptions) -> String? {
        if let problem = sizeProblem(options) { return problem }
        return nil
    }

    /// Whether `--engine auto` may choose io_uring with these options: the
    /// probe and the sizes agree; else why not.
    public static func autoProblem(_ options: UringOptions) -> String? {
        UringProbe.shared.check(options) ?? validate(options)
    }

    private static func sizeProblem(_ options: UringOptions) -> String? {
        func isPowerOfTwo(_ n: Int) -> Bool { n > 0 && n & (n - 1) == 0 }
        if !isPowerOfTwo(options.sqEntries) || options.sqEntries > 32768 {
            return "--uring-sq-entries \(options.sqEntries): must be a power of two from 1 to 32768"
        }
        if !(1...16).contains(options.cqFactor) { return "--uring-cq-factor \(options.cqFactor): must be from 1 to 16" }
        if !isPowerOfTwo(options.buffers) || options.buffers > 32768 {
            return "--uring-buffers \(options.buffers): must be a power of two from 1 to 32768"
        }
        if options.bufferSize < 64 || options.bufferSize > 1 << 20 {
            return "--uring-buffer-size \(options.bufferSize): must be from 64 to 1048576 bytes"
        }
        if options.minWaitMicroseconds < 0 { return "--uring-min-wait-us \(options.minWaitMicroseconds): must be 0 or more" }
        if options.zeroCopyThreshold < 0 { return "--uring-zc-threshold \(options.zeroCopyThreshold): must be 0 (off) or more" }
        return nil
    }
}
