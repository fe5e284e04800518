import CSystem
import Glibc

/// Kernel steering of new connections across a SO_REUSEPORT group: a
/// classic BPF program, attached to the group (`SO_ATTACH_REUSEPORT_CBPF`),
/// returns for each new connection the index of the listener that gets it.
/// Indices are the order in which the listeners joined the group: loop order
/// in one process, `slot x loops + loop` in process mode (the supervisor
/// opens them all, in that order, and keeps them for the service's life, so
/// a restarted worker gets back its own listeners and the same clients).
/// Rendezvous scores are seeded by each listener's identity (`slot << 16 |
/// loop`, `identities`), not its index, so a service restarted with more
/// loops per worker or more workers keeps every client whose listener
/// still exists, unless the new listener outscores it.
///
/// What a classic program can do here (and why these two):
/// - It runs on the SYN, with the payload at offset 0 (nothing: the kernel
///   skipped the TCP header) and the IP header at `SKF_NET_OFF`; it can load
///   the CPU that is handling the packet (`SKF_AD_CPU`) and a random number.
/// - It has 32-bit arithmetic, 16 words of scratch memory, forward jumps only
///   (no loops) and at most 4,096 instructions; no maps, so it cannot read a
///   loop's load or a table larger than its own code.
/// - So `cpu` (a chain of comparisons) and `hash` as **rendezvous hashing**
///   (each listener scores the client, the highest score wins: unrolled, 18
///   instructions per listener) fit; a Maglev table (65,537 entries) and any
///   load-aware choice (p2c) do not. Those need an eBPF program of type
///   `SK_REUSEPORT` with a map (`bpf()`, CAP_BPF), which this project does not
///   load. Rendezvous hashing is as consistent as hashing gets (adding a
///   listener moves exactly the clients that now score highest on it, 1/N
///   of them in expectation, and no client between two old listeners) at
///   O(N) per connection, paid in the kernel.
public enum ReuseportSteering {
    public enum Kind: String, Sendable {
        case cpu
        case hash
    }

    /// Listeners a rendezvous program can score within the instruction limit.
    public static let maxHashedListeners = 200
    /// The kernel's limit on a classic program's length (BPF_MAXINSNS).
    static let maxInstructions = 4096

    /// The identity of each listener of a group of `slots` workers with
    /// `loops` listeners each, in joining order (one process: slot 0).
    public static func identities(slots: Int, loops: Int) -> [UInt32] {
        (0..<slots).flatMap { slot in (0..<loops).map { UInt32(slot) << 16 | UInt32($0) } }
    }

    public static let needsPinMessage =
        "--accept reuseport-cpu steers a connection to the loop pinned to the CPU that received it, so it needs --pin (compact, scatter or cpus:LIST)"

    /// The operator's message when the kernel refuses the program: an
    /// error, or with `fallback` the warning of serving without it.
    static func refusalMessage(policy: AcceptPolicy, _ refusal: String, fallback: Bool = false) -> String {
        let what = "--accept \(policy.rawValue): the kernel refused the reuseport BPF program (\(refusal))"
        return fallback
            ? "\(what); serving with the kernel's plain reuseport hash (--steering-fallback)"
            : "\(what); add --steering-fallback to serve with the kernel's plain reuseport hash instead, or choose another --accept (\(AcceptPolicy.allowedText))"
    }

    /// Attaches `kind`'s program, and says what a refusal means for the
    /// start: an error naming the cause and `--steering-fallback`, or with
    /// `fallback` the warning to log (serving on with the kernel's hash).
    /// Returns nil when the program is attached.
    public static func install(_ kind: Kind, to fd: Int32, identities: [UInt32], cpus: [Int], hashPort: Bool,
                               refuse: Bool, policy: AcceptPolicy, fallback: Bool) throws(EngineError) -> String? {
        guard let refusal = attach(kind, to: fd, identities: identities, cpus: cpus, hashPort: hashPort, refuse: refuse) else {
            return nil
        }
        guard fallback else { throw EngineError(refusalMessage(policy: policy, refusal)) }
        return refusalMessage(policy: policy, refusal, fallback: true)
    }

    /// Attaches `kind`'s program to the group `fd` belongs to.
    /// - Parameters:
    ///   - identities: each listener's identity, in index order (`identities(slots:loops:)`).
    ///   - cpus: `kind == .cpu`: the CPU of each listener's loop, in index order.
    ///   - hashPort: `kind == .hash`: hash the client's port too.
    ///   - refuse: tests only: attach an empty program, which the kernel refuses.
    /// - Returns: nil, or why the kernel refused (errno text).
    public static func attach(_ kind: Kind, to fd: Int32, identities: [UInt32], cpus: [Int], hashPort: Bool,
                              refuse: Bool = false) -> String? {
        var code = refuse ? [] : program(kind, identities: identities, cpus: cpus, hashPort: hashPort)
        guard code.count <= maxInstructions else {
            return "the program for \(identities.count) listeners needs \(code.count) instructions, over the kernel's \(maxInstructions); at most \(maxHashedListeners) listeners"
        }
        let status = code.withUnsafeMutableBufferPointer {
            // safety: the kernel copies the program during the call.
            switchyard_attach_reuseport_program(fd, $0.baseAddress, UInt16($0.count))
        }
        return status == 0 ? nil : "SO_ATTACH_REUSEPORT_CBPF: \(errnoText())"
    }

    /// The program for `kind` (public for tests, which run it in `CBPF`).
    public static func program(_ kind: Kind, identities: [UInt32], cpus: [Int], hashPort: Bool) -> [sock_filter] {
        switch kind {
        case .cpu: cpuProgram(cpus: cpus)
        case .hash: hashProgram(identities: identities, hashPort: hashPort)
        }
    }

    // MARK: cpu

    /// `ld cpu`, then per CPU a comparison that jumps to its listeners'
    /// block: one listener returns its index; several (loops sharing a CPU)
    /// are chosen among at random. Any other CPU returns an index past the
    /// group, so the kernel's own hash places the connection.
    static func cpuProgram(cpus: [Int]) -> [sock_filter] {
        var byCPU: [(cpu: Int, listeners: [Int])] = []
        for (index, cpu) in cpus.enumerated() {
            if let at = byCPU.firstIndex(where: { $0.cpu == cpu }) { byCPU[at].listeners.append(index) }
            else { byCPU.append((cpu, [index])) }
        }
        var code = [statement(Op.loadWord, UInt32(bitPattern: Op.ancillary + Op.ancillaryCPU))]
        for (cpu, listeners) in byCPU {
            var block: [sock_filter] = []
            if listeners.count == 1 {
                block.append(statement(Op.returnK, UInt32(listeners[0])))
            } else {
                block.append(statement(Op.loadWord, UInt32(bitPattern: Op.ancillary + Op.ancillaryRandom)))
                block.append(statement(Op.modK, UInt32(listeners.count)))
                for (k, listener) in listeners.enumerated().dropLast() {
                    block.append(jump(Op.jumpEqualK, UInt32(k), 0, 1))
                    block.append(statement(Op.returnK, UInt32(listener)))
                }
                block.append(statement(Op.returnK, UInt32(listeners.last!)))
            }
            code.append(jump(Op.jumpEqualK, UInt32(cpu), 0, UInt8(block.count)))
            code += block
        }
        code.append(statement(Op.returnK, UInt32.max))
        return code
    }

    // MARK: hash

    /// The client's key (its source address, folded to 32 bits, and with
    /// `hashPort` its port), mixed; then for each listener i the score
    /// `mix(key ^ seed(identity of i))`, keeping the highest index.
    /// `rendezvous` is the same computation in Swift.
    static func hashProgram(identities: [UInt32], hashPort: Bool) -> [sock_filter] {
        let net = UInt32(bitPattern: Op.network)
        var v4: [sock_filter] = [statement(Op.loadWord, net &+ 12)]          // source address
        if hashPort {
            v4 += [statement(Op.store, 0),
                   statement(Op.loadXHeaderLength, net),                       // X = 4 x IHL
                   statement(Op.loadHalfIndirect, net),                        // source port at [net + X]
                   statement(Op.mulK, portMultiplier),
                   statement(Op.loadXMemory, 0),
                   statement(Op.xorX, 0)]
        }
        var v6: [sock_filter] = [statement(Op.loadWord, net &+ 8), statement(Op.store, 0)]
        for word in 1..<4 {
            v6 += [statement(Op.loadWord, net &+ 8 &+ UInt32(4 * word)), statement(Op.loadXMemory, 0),
                   statement(Op.xorX, 0), statement(Op.store, 0)]
        }
        if hashPort {
            v6 += [statement(Op.loadHalf, net &+ 40), statement(Op.mulK, portMultiplier),
                   statement(Op.loadXMemory, 0), statement(Op.xorX, 0)]
        } else {
            v6.removeLast()  // the key stays in A
        }
        v4.append(jump(Op.jumpAlways, UInt32(v6.count), 0, 0))
        var code: [sock_filter] = [
            statement(Op.loadByte, net),                                       // version and IHL
            statement(Op.rightShiftK, 4),
            jump(Op.jumpEqualK, 6, UInt8(v4.count), 0),
        ]
        code += v4
        code += v6
        code += mix32()
        code.append(statement(Op.store, 0))                                    // M[0]: the client's hash
        for (listener, identity) in identities.enumerated() {
            code += [statement(Op.loadMemory, 0), statement(Op.xorK, seed(identity))]
            code += mix32()
            if listener == 0 {
                code += [statement(Op.store, 1), statement(Op.loadImmediate, 0), statement(Op.store, 2)]
            } else {
                code += [statement(Op.loadXMemory, 1),
                         jump(Op.jumpGreaterX, 0, 0, 3),
                         statement(Op.store, 1), statement(Op.loadImmediate, UInt32(listener)), statement(Op.store, 2)]
            }
        }
        code += [statement(Op.loadMemory, 2), statement(Op.returnA, 0)]
        return code
    }

    /// murmur3's 32-bit finaliser on A (X is clobbered).
    static func mix32() -> [sock_filter] {
        [statement(Op.moveAToX, 0), statement(Op.rightShiftK, 16), statement(Op.xorX, 0),
         statement(Op.mulK, 0x85EB_CA6B),
         statement(Op.moveAToX, 0), statement(Op.rightShiftK, 13), statement(Op.xorX, 0),
         statement(Op.mulK, 0xC2B2_AE35),
         statement(Op.moveAToX, 0), statement(Op.rightShiftK, 16), statement(Op.xorX, 0)]
    }

    static let portMultiplier: UInt32 = 0x9E37_79B1

    static func seed(_ identity: UInt32) -> UInt32 {
        mix32(identity &* 0x9E37_79B9 &+ 0x7F4A_7C15)
    }

    // MARK: the same computation in Swift

    public static func mix32(_ value: UInt32) -> UInt32 {
        var h = value
        h ^= h >> 16
        h &*= 0x85EB_CA6B
        h ^= h >> 13
        h &*= 0xC2B2_AE35
        h ^= h >> 16
        return h
    }

    /// The key the program computes for an IPv4 client (address and port in host order).
    public static func key(ipv4: UInt32, port: UInt16?) -> UInt32 {
        mix32(port.map { ipv4 ^ (UInt32($0) &* portMultiplier) } ?? ipv4)
    }

    /// The index of the listener rendezvous hashing gives a (mixed) key
    /// among listeners of these identities.
    public static func rendezvous(_ key: UInt32, identities: [UInt32]) -> Int {
        var best: UInt32 = 0
        var chosen = 0
        for (listener, identity) in identities.enumerated() {
            let score = mix32(key ^ seed(identity))
            if listener == 0 || score > best {
                best = score
                chosen = listener
            }
        }
        return chosen
    }

    // MARK: encoding

    static func statement(_ code: UInt16, _ k: UInt32) -> sock_filter { sock_filter(code: code, jt: 0, jf: 0, k: k) }
    static func jump(_ code: UInt16, _ k: UInt32, _ whenTrue: UInt8, _ whenFalse: UInt8) -> sock_filter {
        sock_filter(code: code, jt: whenTrue, jf: whenFalse, k: k)
    }

    /// Classic BPF opcodes (linux/filter.h, linux/bpf_common.h).
    enum Op {
        static let loadWord: UInt16 = 0x20            // BPF_LD | BPF_W | BPF_ABS
        static let loadHalf: UInt16 = 0x28            // BPF_LD | BPF_H | BPF_ABS
        static let loadByte: UInt16 = 0x30            // BPF_LD | BPF_B | BPF_ABS
        static let loadHalfIndirect: UInt16 = 0x48    // BPF_LD | BPF_H | BPF_IND
        static let loadImmediate: UInt16 = 0x00       // BPF_LD | BPF_IMM
        static let loadMemory: UInt16 = 0x60          // BPF_LD | BPF_MEM
        static let loadXMemory: UInt16 = 0x61         // BPF_LDX | BPF_MEM
        static let loadXHeaderLength: UInt16 = 0xB1   // BPF_LDX | BPF_B | BPF_MSH: X = 4 x (byte & 0xf)
        static let store: UInt16 = 0x02               // BPF_ST
        static let mulK: UInt16 = 0x24                // BPF_ALU | BPF_MUL | BPF_K
        static let modK: UInt16 = 0x94                // BPF_ALU | BPF_MOD | BPF_K
        static let xorK: UInt16 = 0xA4                // BPF_ALU | BPF_XOR | BPF_K
        static let xorX: UInt16 = 0xAC                // BPF_ALU | BPF_XOR | BPF_X
        static let rightShiftK: UInt16 = 0x74         // BPF_ALU | BPF_RSH | BPF_K
        static let jumpAlways: UInt16 = 0x05          // BPF_JMP | BPF_JA
        static let jumpEqualK: UInt16 = 0x15          // BPF_JMP | BPF_JEQ | BPF_K
        static let jumpGreaterX: UInt16 = 0x2D        // BPF_JMP | BPF_JGT | BPF_X
        static let returnK: UInt16 = 0x06             // BPF_RET | BPF_K
        static let returnA: UInt16 = 0x16             // BPF_RET | BPF_A
        static let moveAToX: UInt16 = 0x07            // BPF_MISC | BPF_TAX
        static let ancillary: Int32 = -0x1000         // SKF_AD_OFF
        static let ancillaryCPU: Int32 = 36           // SKF_AD_CPU
        static let ancillaryRandom: Int32 = 56        // SKF_AD_RANDOM
        static let network: Int32 = -0x100000         // SKF_NET_OFF
    }
}
