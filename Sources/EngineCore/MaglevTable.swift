/// Maglev consistent hashing (Eisenbud et al., NSDI 2016): a lookup table of
/// M entries (M prime), each naming a loop, filled by letting the loops take
/// turns claiming the next free entry of their own permutation of 0..<M.
///
/// Why this algorithm for the acceptor (the research note's table, B2):
/// - lookup is one hash and one load, O(1), whatever the number of loops;
/// - with M > 100 x N each loop owns within about 1% of M / N entries, so the
///   hash space is split evenly (balance of *clients* still follows balls
///   into bins: hashing gives affinity, not balance);
/// - when N changes, a loop's permutation is unchanged, so most entries keep
///   their owner: about 1/N of keys move (near-minimal, not exactly minimal).
///
/// The table is built once at start-up (O(M log M)); M = 65,537 (Envoy's
/// default) for up to 655 loops, so going from N to N+1 loops keeps M.
/// Immutable after `init`; shared read-only by the acceptor thread.
public struct MaglevTable: Sendable {
    /// Entry i: the loop that owns hash values h with h % size == i.
    public let entries: [UInt16]
    public var size: Int { entries.count }

    /// - Parameter loops: 1 to 65,535 loops.
    public init(loops: Int) {
        precondition(loops >= 1 && loops <= Int(UInt16.max), "loops out of range")
        let size = Self.tableSize(loops: loops)
        // Each loop's permutation: offset + j x skip (mod size); skip in
        // 1..<size is a generator because size is prime.
        var offset = [Int](repeating: 0, count: loops)
        var skip = [Int](repeating: 0, count: loops)
        for loop in 0..<loops {
            let name = UInt64(loop)
            offset[loop] = Int(ClientKey.mix(name &* 2 &+ 0x6D61676C6576) % UInt64(size))
            skip[loop] = Int(ClientKey.mix(name &* 2 &+ 1 &+ 0x6D61676C6576) % UInt64(size - 1)) + 1
        }
        var table = [UInt16](repeating: UInt16.max, count: size)
        var next = [Int](repeating: 0, count: loops)
        var filled = 0
        fill: while true {
            for loop in 0..<loops {
                var candidate = (offset[loop] + next[loop] * skip[loop]) % size
                while table[candidate] != UInt16.max {
                    next[loop] += 1
                    candidate = (offset[loop] + next[loop] * skip[loop]) % size
                }
                table[candidate] = UInt16(loop)
                next[loop] += 1
                filled += 1
                if filled == size { break fill }
            }
        }
        entries = table
    }

    /// The loop for a key (a `ClientKey`).
    @inline(__always)
    public func loop(for key: UInt64) -> Int { Int(entries[Int(key % UInt64(entries.count))]) }

    /// The smallest prime at least 65,537 and at least 100 x loops.
    static func tableSize(loops: Int) -> Int {
        var candidate = max(65_537, 100 * loops)
        while !isPrime(candidate) { candidate += 1 }
        return candidate
    }

    static func isPrime(_ n: Int) -> Bool {
        guard n >= 2 else { return false }
        var d = 2
        while d * d <= n {
            if n % d == 0 { return false }
            d += 1
        }
        return true
    }
}
