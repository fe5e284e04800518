internal import CHwloc
import Glibc

// Binding uses sched_setaffinity directly rather than hwloc_set_cpubind.
// hwloc would need a loaded topology object kept alive for the whole process:
// a lazily initialised global shared by every engine thread, and a teardown
// question with no good answer. The kernel call needs nothing but a small
// bit mask, and the kernel itself rejects CPUs that are offline, do not exist
// or lie outside the cgroup cpuset. hwloc is used where nothing replaces it:
// describing the machine (`CPUTopology.discover()`).

/// Binds the calling thread to one processing unit, so its cache and its
/// first-touched memory stay on that CPU. Call it first thing on the engine
/// thread, before that thread allocates its buffers.
public func bindCurrentThread(toCPU cpu: Int) throws(TopologyError) {
    guard cpu >= 0 else {
        throw TopologyError("cannot bind thread to CPU \(cpu): CPU numbers start at 0")
    }
    // The mask needs a bit for `cpu`; the bound keeps a typo such as
    // 1000000000 from allocating a 125 MB mask.
    guard cpu < maxCPUNumber else {
        throw TopologyError("cannot bind thread to CPU \(cpu): no machine has that many CPUs")
    }
    var mask = CPUMask(capacity: cpu + 1)
    mask.insert(cpu)
    let result = mask.withUnsafePointer { pointer, bytes in
        // pid 0 means the calling thread (Linux affinity is per thread).
        sched_setaffinity(0, bytes, pointer)
    }
    if result != 0 {
        let code = errno
        let hint = code == EINVAL ? " (no such CPU online, or outside this process's cgroup cpuset)" : ""
        throw TopologyError("cannot bind thread to CPU \(cpu): \(errnoText(code))\(hint)")
    }
}

/// Restricts the calling thread to a set of processing units. Processes it
/// starts inherit the mask, which is how a sweep places a server child on
/// its CPU set without the child's cooperation.
public func bindCurrentThread(toCPUs cpus: [Int]) throws(TopologyError) {
    guard let highest = cpus.max(), let lowest = cpus.min() else {
        throw TopologyError("cannot bind thread to an empty CPU set")
    }
    guard lowest >= 0, highest < maxCPUNumber else {
        throw TopologyError("cannot bind thread to CPUs \(cpuRangeList(cpus)): no such CPU numbers")
    }
    var mask = CPUMask(capacity: highest + 1)
    for cpu in cpus { mask.insert(cpu) }
    let result = mask.withUnsafePointer { pointer, bytes in sched_setaffinity(0, bytes, pointer) }
    if result != 0 {
        let code = errno
        throw TopologyError("cannot bind thread to CPUs \(cpuRangeList(cpus)): \(errnoText(code))")
    }
}

/// The CPU the calling thread is running on at this instant, or -1 if the
/// kernel cannot say. Unpinned threads migrate, so this is only meaningful
/// after `bindCurrentThread(toCPU:)`.
public func currentCPU() -> Int {
    Int(sched_getcpu())
}

/// The calling thread's affinity mask, ascending. At start-up that is the
/// process's allowed set (threads inherit it); call it before pinning.
public func allowedCPUsOfCurrentThread() throws(TopologyError) -> [Int] {
    // The kernel refuses masks smaller than its own CPU count (EINVAL), so
    // start at glibc's 1024 CPUs and grow.
    var capacity = 1024
    while true {
        var mask = CPUMask(capacity: capacity)
        let result = mask.withUnsafeMutablePointer { pointer, bytes in
            sched_getaffinity(0, bytes, pointer)
        }
        if result == 0 { return mask.members() }
        let code = errno
        guard code == EINVAL, capacity < maxCPUNumber else {
            throw TopologyError("cannot read this process's CPU affinity (sched_getaffinity): \(errnoText(code))")
        }
        capacity *= 2
    }
}

/// Far above any Linux NR_CPUS (8192 today); only here to bound allocations.
let maxCPUNumber = 1 << 16

/// A variable-size `cpu_set_t` (glibc's `CPU_ALLOC`, whose macros Swift cannot
/// import): whole `cpu_set_t` values, so the pointer handed to the kernel has
/// the declared type, with bits set word by word as the kernel reads them.
struct CPUMask {
    private var storage: [cpu_set_t]

    private static let bitsPerWord = UInt.bitWidth
    private static let bitsPerSet = MemoryLayout<cpu_set_t>.size * 8

    init(capacity: Int) {
        let sets = (capacity + Self.bitsPerSet - 1) / Self.bitsPerSet
        storage = Array(repeating: cpu_set_t(), count: max(1, sets))
    }

    /// `cpu` must be below the capacity given to `init`.
    mutating func insert(_ cpu: Int) {
        let offset = (cpu / Self.bitsPerWord) * MemoryLayout<UInt>.size
        let bit = UInt(1) << UInt(cpu % Self.bitsPerWord)
        storage.withUnsafeMutableBytes { bytes in
            // safety: `cpu` < capacity (the caller's contract), so the word lies inside the
            // buffer; cpu_set_t is an array of unsigned long, so the offset is
            // word-aligned and a word-sized load/store is exactly its layout.
            let word = bytes.load(fromByteOffset: offset, as: UInt.self)
            bytes.storeBytes(of: word | bit, toByteOffset: offset, as: UInt.self)
        }
    }

    func members() -> [Int] {
        var cpus: [Int] = []
        storage.withUnsafeBytes { bytes in
            let words = bytes.count / MemoryLayout<UInt>.size
            for index in 0..<words {
                // safety: index < words keeps the load inside the buffer, at a
                // word-aligned offset (see insert).
                var word = bytes.load(fromByteOffset: index * MemoryLayout<UInt>.size, as: UInt.self)
                while word != 0 {
                    cpus.append(index * Self.bitsPerWord + word.trailingZeroBitCount)
                    word &= word - 1
                }
            }
        }
        return cpus
    }

    func withUnsafePointer<R>(_ body: (UnsafePointer<cpu_set_t>, Int) -> R) -> R {
        storage.withUnsafeBufferPointer { buffer in
            // safety: the array is never empty (init keeps at least one set),
            // and the pointer does not escape `body`.
            body(buffer.baseAddress!, buffer.count * MemoryLayout<cpu_set_t>.size)
        }
    }

    mutating func withUnsafeMutablePointer<R>(_ body: (UnsafeMutablePointer<cpu_set_t>, Int) -> R) -> R {
        storage.withUnsafeMutableBufferPointer { buffer in
            // safety: as in withUnsafePointer.
            body(buffer.baseAddress!, buffer.count * MemoryLayout<cpu_set_t>.size)
        }
    }
}

func errnoText(_ code: Int32) -> String {
    "\(String(cString: strerror(code))) (errno \(code))"
}
