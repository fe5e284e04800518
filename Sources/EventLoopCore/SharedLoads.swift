import Atomics
import CSystem
import EngineCore
import Glibc

/// Process mode with a load-aware acceptor choice (`--accept p2c` or
/// `least-loaded`): the choice is made over every worker's loops, not only
/// the accepting worker's.
///
/// ```
///   supervisor: memfd table [worker][loop] of live connections, one cell each
///                 ▲ each loop stores its count       ▲
///   worker 0 ─────┘ on admit and release           worker 1
///   acceptor: accept ─▶ choose over all cells ─┬─▶ own loop: inbox + eventfd
///                                              └─▶ other worker: sendmsg(SCM_RIGHTS, loop)
///                                                   to acceptor-1-G.sock ─▶ its loop's inbox
/// ```
///
/// Ownership: the table's cells are written only by their loop (relaxed
/// stores) and read by any worker's acceptor (relaxed loads): a choice may
/// see a count a hand-off old, which p2c tolerates. The datagram socket is
/// the acceptor thread's. Each worker binds a name of its own configuration
/// generation (`acceptor-SLOT-GEN.sock`), so a reload's new worker and the
/// old one draining beside it never take each other's name; a sender looks
/// up the newest name of a slot and looks again when a hand-off fails. A
/// hand-off to a worker that is gone (restarting, draining) fails at once
/// and the connection stays here. A draining worker removes its name first,
/// then takes what is already queued for it, so no handed-off socket is
/// dropped with its socket. Cost: a `sendmsg` here and a
/// `recvmsg` there for each connection placed in another worker, on the
/// accept path only.
final class SharedLoads: @unchecked Sendable {
    // @unchecked Sendable: immutable after init but for the atomics.
    let plan: SharedLoadsPlan
    let loops: Int
    // safety: `table` maps `processes x loops` Ints of the supervisor's
    // memfd, MAP_SHARED, for this object's lifetime (unmapped in deinit).
    private let table: UnsafeMutablePointer<Int>
    private let tableBytes: Int
    /// The acceptor's datagram socket, bound at `path(of: plan.slot)`.
    let socket: Int32
    let sent = ManagedAtomic(0)
    let received = ManagedAtomic(0)
    let failed = ManagedAtomic(0)

    init(plan: SharedLoadsPlan, loops: Int) throws(EngineError) {
        self.plan = plan
        self.loops = loops
        tableBytes = plan.processes * loops * MemoryLayout<Int>.stride
        var facts = stat()
        guard fstat(plan.tableFD, &facts) == 0, Int(facts.st_size) >= tableBytes else {
            throw EngineError("the shared table of loop loads holds fewer loops than --threads x --processes (\(plan.processes) x \(loops)): --threads changed without a restart of the supervisor")
        }
        guard let mapped = mmap(nil, tableBytes, PROT_READ | PROT_WRITE, MAP_SHARED, plan.tableFD, 0), mapped != MAP_FAILED else {
            throw EngineError("the shared table of loop loads (process mode, --accept p2c or least-loaded) cannot be mapped: \(errnoText())")
        }
        close(plan.tableFD)  // the mapping keeps it
        table = mapped.bindMemory(to: Int.self, capacity: plan.processes * loops)
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        let own = Self.path(plan.directory, plan.slot, plan.generation)
        // A crashed worker of this slot and generation left its name behind.
        unlink(own)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let fits = withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(own.utf8)
            guard bytes.count < raw.count else { return false }
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
            return true
        }
        let bound = fits && withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        } == 0
        guard fd >= 0, bound else {
            let text = errnoText()
            if fd >= 0 { close(fd) }
            munmap(mapped, tableBytes)
            throw EngineError("the acceptor's hand-off socket \(own) cannot be bound: \(text)")
        }
        socket = fd
        ownPath = own
        peers = [String?](repeating: nil, count: plan.processes)
        // A restarted worker's loops start empty, whatever its predecessor left.
        for loop in 0..<loops { publisher(forLoop: loop).store(0, ordering: .relaxed) }
    }

    /// This worker's name; the acceptor thread removes it when it stops.
    let ownPath: String
    /// The newest name of each other worker, as last found. Acceptor thread only.
    private var peers: [String?]

    /// The newest generation's name of worker `slot` in the directory.
    private func lookUp(_ slot: Int) -> String? {
        guard let handle = opendir(plan.directory) else { return nil }
        defer { closedir(handle) }
        let prefix = "acceptor-\(slot)-"
        var best: (generation: Int, name: String)?
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasPrefix(prefix), name.hasSuffix(".sock"),
                  let generation = Int(name.dropFirst(prefix.count).dropLast(5)) else { continue }
            if best == nil || generation > best!.generation { best = (generation, name) }
        }
        return best.map { "\(plan.directory)/\($0.name)" }
    }

    deinit {
        close(socket)
        munmap(table, tableBytes)
    }

    static func path(_ directory: String, _ slot: Int, _ generation: Int) -> String {
        "\(directory)/acceptor-\(slot)-\(generation).sock"
    }

    // safety: `index` is below processes x loops, the table's size.
    private func cell(_ index: Int) -> UnsafeMutablePointer<UnsafeAtomic<Int>.Storage> {
        UnsafeMutableRawPointer(table + index).assumingMemoryBound(to: UnsafeAtomic<Int>.Storage.self)
    }

    var count: Int { plan.processes * loops }

    /// Where loop `loop` of this worker stores its live connections.
    func publisher(forLoop loop: Int) -> UnsafeAtomic<Int> { UnsafeAtomic(at: cell(plan.slot * loops + loop)) }

    /// The published load of loop `index` (worker index / loops, loop index % loops).
    func load(_ index: Int) -> Int { UnsafeAtomic<Int>(at: cell(index)).load(ordering: .relaxed) }

    /// Hands `fd` to worker `slot` for its loop `loop`; false if it is not
    /// there (the caller keeps the socket). Acceptor thread only.
    func pass(_ fd: Int32, toWorker slot: Int, loop: Int) -> Bool {
        for attempt in 0..<2 {
            if peers[slot] == nil || attempt == 1 { peers[slot] = lookUp(slot) }
            guard let path = peers[slot] else { break }
            if switchyard_send_descriptor(socket, path, fd, UInt32(loop)) == 0 {
                sent.wrappingIncrement(ordering: .relaxed)
                return true
            }
        }
        failed.wrappingIncrement(ordering: .relaxed)
        return false
    }

    /// A socket another worker handed here, and the loop it chose; nil when none waits.
    func receive() -> (fd: Int32, loop: Int)? {
        var tag: UInt32 = 0
        while true {
            let fd = switchyard_receive_descriptor(socket, &tag)
            if fd >= 0 {
                received.wrappingIncrement(ordering: .relaxed)
                return (fd, Int(tag) % loops)
            }
            if errno == EINTR || errno == EBADMSG { continue }
            return nil
        }
    }
}
