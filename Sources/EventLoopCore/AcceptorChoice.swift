import EngineCore
import Glibc

/// The acceptor thread's choice of a loop for each connection it accepts
/// (`--accept hash|p2c|round-robin|least-loaded`, or `acceptor` with
/// `--balance`). Owned by the acceptor thread: its state (the rotation, the
/// random generator) is never shared; it reads the loops' `load` atomics.
///
/// - round-robin: loops in turn; balanced counts of *accepted* connections,
///   blind to how long each stays.
/// - least-loaded: the loop with the fewest open connections (plus those
///   handed over and not yet taken in); O(loops) per connection.
/// - p2c: two distinct loops at random, the less loaded one; O(1), and the
///   maximum load stays within O(log log n) of the mean (balls into bins
///   with two choices) without looking at every loop.
/// - hash: the client address through a Maglev table; the same client lands
///   on the same loop every time, and a change of the number of loops moves
///   about 1/N of clients. Affinity, not balance: the spread is that of balls
///   into bins with one choice.
///
/// In process mode, `p2c` and `least-loaded` choose over every worker's
/// loops (`SharedLoads`): the answer may be another worker's loop.
struct AcceptorChoice {
    /// Where a connection goes: one of this worker's loops, or loop `loop`
    /// of worker `worker`.
    enum Target {
        case here(LoopCore)
        case worker(Int, loop: Int)
    }

    let rule: Balance
    let loops: [LoopCore]
    let table: MaglevTable?
    let hashPort: Bool
    /// Process mode, load-aware rules: every worker's loads.
    let shared: SharedLoads?
    private var next = 0
    private var random: UInt64

    init(rule: Balance, loops: [LoopCore], hashPort: Bool, shared: SharedLoads? = nil) {
        self.rule = rule
        self.loops = loops
        self.hashPort = hashPort
        self.shared = SharedLoadsPlan.applies(to: rule) ? shared : nil
        table = rule == .hash ? MaglevTable(loops: loops.count) : nil
        // Seeded per process and start, so two workers do not draw alike.
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        random = ClientKey.mix(UInt64(UInt32(bitPattern: getpid())) << 32 ^ UInt64(bitPattern: Int64(now.tv_nsec))) | 1
    }

    /// Whether `loop(for:)` needs the peer's address from accept.
    var needsAddress: Bool { rule == .hash }

    /// Where a connection accepted from `address` goes (`address` is read only by `hash`).
    mutating func target(for address: UnsafePointer<sockaddr_storage>) -> Target {
        guard let shared else { return .here(loop(for: address)) }
        // Over every worker's loops: this worker's own loads are read live
        // (they count hand-offs not yet taken in), the others' from the table.
        let count = shared.count
        let own = shared.plan.slot * shared.loops
        func load(_ index: Int) -> Int {
            index >= own && index < own + shared.loops ? loops[index - own].load : shared.load(index)
        }
        var chosen: Int
        if rule == .leastLoaded {
            chosen = own
            for index in 0..<count where load(index) < load(chosen) { chosen = index }
        } else {
            let first = Int(nextRandom() % UInt64(count))
            var second = Int(nextRandom() % UInt64(count - 1))
            if second >= first { second += 1 }
            chosen = load(second) < load(first) ? second : first
        }
        if chosen >= own && chosen < own + shared.loops { return .here(loops[chosen - own]) }
        return .worker(chosen / shared.loops, loop: chosen % shared.loops)
    }

    /// The loop of this worker for a connection accepted from `address`.
    mutating func loop(for address: UnsafePointer<sockaddr_storage>) -> LoopCore {
        switch rule {
        case .roundRobin:
            let chosen = loops[next]
            next = next + 1 == loops.count ? 0 : next + 1
            return chosen
        case .leastLoaded:
            return loops.min { $0.load < $1.load }!
        case .p2c:
            guard loops.count > 1 else { return loops[0] }
            let first = Int(nextRandom() % UInt64(loops.count))
            var second = Int(nextRandom() % UInt64(loops.count - 1))
            if second >= first { second += 1 }
            return loops[second].load < loops[first].load ? loops[second] : loops[first]
        case .hash:
            // A family without an address (none reaches a TCP listener) goes to loop 0.
            let key = ClientKey.of(address, withPort: hashPort) ?? 0
            return loops[table!.loop(for: key)]
        }
    }

    /// xorshift64*: enough for choosing loops, and no shared state.
    private mutating func nextRandom() -> UInt64 {
        random ^= random >> 12
        random ^= random << 25
        random ^= random >> 27
        return random &* 0x2545_F491_4F6C_DD1D
    }
}
