import Glibc

/// Milliseconds on a coarse monotonic clock (vDSO, no system call): timers
/// need only tick precision.
@inline(__always)
public func monotonicMilliseconds() -> Int {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC_COARSE, &t)
    return t.tv_sec * 1000 + t.tv_nsec / 1_000_000
}

/// Microseconds on the fine monotonic clock (vDSO, no system call), for
/// what a loop measures of itself once per turn (queueing delay, busy time):
/// the coarse clock's 4 ms steps are as long as the delays it must see.
@inline(__always)
public func monotonicMicroseconds() -> Int {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return t.tv_sec * 1_000_000 + t.tv_nsec / 1000
}
