import CSystem
import Glibc

/// Thin names for the epoll and eventfd calls the reactor makes.
enum Epoll {
    static let readable = EPOLLIN.rawValue
    static let writable = EPOLLOUT.rawValue
    static let peerHangUp = EPOLLRDHUP.rawValue
    static let hangUp = EPOLLHUP.rawValue
    static let error = EPOLLERR.rawValue
    static let edgeTriggered = EPOLLET.rawValue

    static func create() -> Int32 { epoll_create1(Int32(EPOLL_CLOEXEC)) }

    @discardableResult
    static func add(_ epfd: Int32, _ fd: Int32, events: UInt32, tag: UInt64) -> Bool {
        var event = epoll_event(events: events, data: epoll_data_t(u64: tag))
        return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event) == 0
    }

    @discardableResult
    static func modify(_ epfd: Int32, _ fd: Int32, events: UInt32, tag: UInt64) -> Bool {
        var event = epoll_event(events: events, data: epoll_data_t(u64: tag))
        return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &event) == 0
    }

    static func remove(_ epfd: Int32, _ fd: Int32) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, fd, nil)
    }

    /// A non-blocking eventfd: other threads write to it to wake a loop.
    static func makeEventFD() -> Int32 { eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC)) }

    static func signal(_ fd: Int32) {
        var one: UInt64 = 1
        _ = write(fd, &one, 8)
    }

    static func drain(_ fd: Int32) {
        var value: UInt64 = 0
        _ = read(fd, &value, 8)
    }
}

/// Milliseconds on a coarse monotonic clock (vDSO, no system call): timers
/// need only tick precision.
@inline(__always)
func monotonicMilliseconds() -> Int {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC_COARSE, &t)
    return t.tv_sec * 1000 + t.tv_nsec / 1_000_000
}
