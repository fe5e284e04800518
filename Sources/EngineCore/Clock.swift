import Glibc

/// Milliseconds on a coarse monotonic clock (vDSO, no system call): timers
/// need only tick precision.
@inline(__always)
public func monotonicMilliseconds() -> Int {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC_COARSE, &t)
    return t.tv_sec * 1000 + t.tv_nsec / 1_000_000
}

