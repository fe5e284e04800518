import CLiburing
import EngineCore
import Glibc

/// What this kernel's io_uring can do, found by trying it: a small ring with
/// each set-up flag, the opcodes the engine issues (`io_uring_get_probe_ring`),
/// the feature bits, a provided-buffer ring with and without incremental
/// consumption. Run at start-up and by `switchyard engines`.
///
/// io_uring can be off at run time (`kernel.io_uring_disabled`, a container's
/// seccomp profile, too little locked memory on old kernels): `refusal` then
/// names the cause and the remedy. The test-only environment variable
/// `SWITCHYARD_URING_PROBE_FAIL` (`eperm`, `enosys`, `enomem`, or
/// `opcode:NAME`) forces a refusal so those paths run where io_uring works.
public struct UringProbe: Sendable {
    /// -errno of the first ring set-up, or 0.
    public let setupError: Int32
    public let features: UInt32
    public let singleIssuer: Bool
    public let deferTaskrun: Bool
    public let coopTaskrun: Bool
    public let sqPoll: Bool
    /// Opcodes the engine issues, and whether the kernel has each.
    public let opcodes: [(name: String, supported: Bool)]
    public let bufferRing: Bool
    public let incrementalBuffers: Bool
    public let sendZeroCopy: Bool

    /// The running kernel's major and minor version (uname), for features
    /// no feature bit or opcode reveals (multishot receive: 6.0).
    public let kernel: (major: Int, minor: Int)

    public var multishotReceive: Bool { kernel >= (6, 0) }

    public var bundles: Bool { features & SWITCHYARD_IORING_FEAT_RECVSEND_BUNDLE != 0 }
    public var minTimeout: Bool { features & SWITCHYARD_IORING_FEAT_MIN_TIMEOUT != 0 }
    public var nodrop: Bool { features & UInt32(IORING_FEAT_NODROP) != 0 }
    public var extArg: Bool { features & UInt32(IORING_FEAT_EXT_ARG) != 0 }

    /// The opcodes every configuration needs.
    static let required: [(String, Int)] = [
        ("ACCEPT", Int(IORING_OP_ACCEPT.rawValue)), ("RECV", Int(IORING_OP_RECV.rawValue)),
        ("SEND", Int(IORING_OP_SEND.rawValue)), ("ASYNC_CANCEL", Int(IORING_OP_ASYNC_CANCEL.rawValue)),
        ("POLL_ADD", Int(IORING_OP_POLL_ADD.rawValue)),
    ]

    /// Probed once per process: the answer does not change while it runs.
    public static let shared = UringProbe.run()

    public static func run() -> UringProbe {
        let forced = getenv("SWITCHYARD_URING_PROBE_FAIL").map { String(cString: $0) }
        var ring = io_uring()
        var params = io_uring_params()
        let created = io_uring_queue_init_params(4, &ring, &params)
        var status = created
        switch forced {
        case "eperm"?: status = -EPERM
        case "enosys"?: status = -ENOSYS
        case "enomem"?: status = -ENOMEM
        default: break
        }
        guard status == 0 else {
            if created == 0 { io_uring_queue_exit(&ring) }
            return UringProbe(setupError: status, features: 0, singleIssuer: false, deferTaskrun: false, coopTaskrun: false,
                              sqPoll: false, opcodes: [], bufferRing: false, incrementalBuffers: false, sendZeroCopy: false, kernel: kernelVersion())
        }
        let features = params.features
        var opcodes: [(String, Bool)] = []
        var sendZC = false
        if let probe = io_uring_get_probe_ring(&ring) {
            for (name, op) in required {
                var supported = io_uring_opcode_supported(probe, Int32(op)) != 0
                if forced == "opcode:\(name)" { supported = false }
                opcodes.append((name, supported))
            }
            sendZC = io_uring_opcode_supported(probe, Int32(IORING_OP_SEND_ZC.rawValue)) != 0
            io_uring_free_probe(probe)
        } else {
            opcodes = required.map { ($0.0, false) }
        }
        let (bufferRing, incremental) = probeBufferRings(&ring)
        io_uring_queue_exit(&ring)
        func trySetup(_ flags: UInt32) -> Bool {
            var r = io_uring()
            var p = io_uring_params()
            p.flags = flags
            guard io_uring_queue_init_params(4, &r, &p) == 0 else { return false }
            io_uring_queue_exit(&r)
            return true
        }
        let single = trySetup(UInt32(IORING_SETUP_SINGLE_ISSUER))
        let deferred = trySetup(UInt32(IORING_SETUP_SINGLE_ISSUER) | UInt32(IORING_SETUP_DEFER_TASKRUN))
        let coop = trySetup(UInt32(IORING_SETUP_COOP_TASKRUN))
        let sqPoll = trySetup(UInt32(IORING_SETUP_SQPOLL))
        return UringProbe(setupError: 0, features: features, singleIssuer: single, deferTaskrun: deferred, coopTaskrun: coop,
                          sqPoll: sqPoll, opcodes: opcodes, bufferRing: bufferRing, incrementalBuffers: incremental,
                          sendZeroCopy: sendZC, kernel: kernelVersion())
    }

    /// "6.18.44-fc" → (6, 18); (0, 0) if unreadable.
    static func kernelVersion() -> (major: Int, minor: Int) {
        var name = utsname()
        guard uname(&name) == 0 else { return (0, 0) }
        let release = withUnsafeBytes(of: &name.release) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        let parts = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        return parts.count == 2 ? (parts[0], parts[1]) : (0, 0)
    }

    /// Registers a one-entry buffer ring, plain and incremental.
    private static func probeBufferRings(_ ring: inout io_uring) -> (Bool, Bool) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard let memory = mmap(nil, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              memory != MAP_FAILED else { return (false, false) }
        defer { munmap(memory, page) }
        let plain = switchyard_register_buffer_ring(&ring, memory, 1, 7, 0) == 0
        if plain { io_uring_unregister_buf_ring(&ring, 7) }
        let incremental = switchyard_register_buffer_ring(&ring, memory, 1, 8, UInt16(SWITCHYARD_IOU_PBUF_RING_INC)) == 0
        if incremental { io_uring_unregister_buf_ring(&ring, 8) }
        return (plain, incremental)
    }

    /// Why the engine cannot run here at all, with what to do about it; nil when it can.
    public var refusal: String? {
        if setupError != 0 {
            switch -setupError {
            case EPERM:
                let sysctl = readSysctl("/proc/sys/kernel/io_uring_disabled")
                if let sysctl, sysctl != "0" {
                    return "io_uring_setup: permission denied (kernel.io_uring_disabled = \(sysctl); set it to 0 with `sysctl kernel.io_uring_disabled=0`, or use --engine epoll)"
                }
                return "io_uring_setup: permission denied (a seccomp profile or container runtime blocks io_uring; allow the io_uring_* system calls, or use --engine epoll)"
            case ENOSYS:
                return "io_uring_setup: not implemented (the kernel was built without io_uring, or a sandbox hides it; use --engine epoll)"
            case ENOMEM:
                return "io_uring_setup: out of locked memory (raise `ulimit -l`, needed on kernels before 5.12, or use --engine epoll)"
            default:
                return "io_uring_setup failed: \(String(cString: strerror(-setupError))) (use --engine epoll)"
            }
        }
        if let missing = opcodes.first(where: { !$0.supported }) {
            return "this kernel's io_uring lacks IORING_OP_\(missing.name) (the engine needs Linux 5.19 or later; use --engine epoll)"
        }
        if !extArg { return "this kernel's io_uring lacks IORING_FEAT_EXT_ARG (needs Linux 5.11 or later; use --engine epoll)" }
        return nil
    }

    /// Checks the options against what the kernel has; the error names the flag.
    public func check(_ options: UringOptions) -> String? {
        if let refusal { return refusal }
        if options.receive == .multishot && (!bufferRing || !multishotReceive) {
            return "--uring-recv multishot needs multishot receive into provided buffers (Linux 6.0; this is \(kernel.major).\(kernel.minor)); use --uring-recv single"
        }
        if options.deferTaskrun && !deferTaskrun && !options.sqPoll {
            return "--uring-defer-taskrun needs Linux 6.1 (IORING_SETUP_DEFER_TASKRUN); pass --no-uring-defer-taskrun"
        }
        if !options.deferTaskrun && !coopTaskrun && !options.sqPoll {
            return "--no-uring-defer-taskrun needs IORING_SETUP_COOP_TASKRUN (Linux 5.19)"
        }
        if options.bundle && !bundles { return "--uring-bundle needs recv bundles (Linux 6.10, IORING_FEAT_RECVSEND_BUNDLE)" }
        if options.bundle && options.receive != .multishot { return "--uring-bundle needs --uring-recv multishot" }
        if options.incremental && !incrementalBuffers {
            return "--uring-incremental needs incremental buffer consumption (Linux 6.12, IOU_PBUF_RING_INC)"
        }
        if options.incremental && options.receive != .multishot { return "--uring-incremental needs --uring-recv multishot" }
        if options.incremental && options.bundle {
            return "--uring-incremental with --uring-bundle: this engine supports one or the other, not both (liburing#1320: bundles misbehave with incremental rings)"
        }
        if options.directDescriptors && kernel < (5, 19) {
            return "--uring-direct-descriptors needs IORING_FILE_INDEX_ALLOC (Linux 5.19; this is \(kernel.major).\(kernel.minor))"
        }
        if options.sqPoll && options.minWaitMicroseconds > 0 { return "--uring-min-wait-us cannot be combined with --uring-sqpoll" }
        if options.minWaitMicroseconds > 0 && !minTimeout {
            return "--uring-min-wait-us needs IORING_FEAT_MIN_TIMEOUT (Linux 6.12)"
        }
        if options.zeroCopyThreshold > 0 && !sendZeroCopy { return "--uring-zc-threshold needs IORING_OP_SEND_ZC (Linux 6.0)" }
        if options.sqPoll && !sqPoll { return "--uring-sqpoll: this kernel refuses IORING_SETUP_SQPOLL" }
        return nil
    }

    /// One line per feature for `switchyard engines`.
    public var findings: [String] {
        if let refusal, setupError != 0 { return ["unavailable: \(refusal)"] }
        func yes(_ b: Bool) -> String { b ? "yes" : "no" }
        var lines = [
            "feature bits: 0x\(String(features, radix: 16)) (NODROP \(yes(nodrop)), EXT_ARG \(yes(extArg)))",
            "opcodes: " + opcodes.map { "\($0.name) \(yes($0.supported))" }.joined(separator: ", ")
                + ", SEND_ZC \(yes(sendZeroCopy)) (--uring-zc-threshold)",
            "SINGLE_ISSUER|DEFER_TASKRUN: \(yes(deferTaskrun)) (--uring-defer-taskrun); COOP_TASKRUN: \(yes(coopTaskrun)); SQPOLL: \(yes(sqPoll)) (--uring-sqpoll)",
            "provided-buffer rings: \(yes(bufferRing)) (--uring-recv multishot); incremental consumption: \(yes(incrementalBuffers)) (--uring-incremental)",
            "recv bundles: \(yes(bundles)) (--uring-bundle); min-timeout batching: \(yes(minTimeout)) (--uring-min-wait-us)",
        ]
        if let refusal { lines.append("unavailable: \(refusal)") }
        return lines
    }

    private func readSysctl(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 16)
        guard fgets(&buffer, 16, file) != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).trimmingWhitespace
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        String(self.filter { !$0.isWhitespace })
    }
}
