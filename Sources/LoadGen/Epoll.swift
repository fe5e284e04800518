import CSystem
import Glibc

/// The few epoll calls a load thread makes, with readable names. (The
/// EpollEngine has its own, internal to that module: the two modules share
/// no code so each can be read alone.)
enum Epoll {
    static let readable = EPOLLIN.rawValue
    static let writable = EPOLLOUT.rawValue
    static let hangUp = EPOLLHUP.rawValue
    static let error = EPOLLERR.rawValue

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

    /// Waits up to `nanoseconds`. Open-loop arrivals are often less than a
    /// millisecond apart, finer than epoll_wait's timeout, which would force
    /// a busy poll; epoll_pwait2 (Linux 5.11) takes a timespec. If the kernel
    /// or a seccomp filter refuses it, `precise` turns off and the
    /// millisecond call is used from then on.
    static func wait(_ epfd: Int32, _ events: UnsafeMutablePointer<epoll_event>, capacity: Int32,
                     nanoseconds: Int64, precise: inout Bool) -> Int32 {
        if precise {
            var timeout = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
            let count = epoll_pwait2(epfd, events, capacity, &timeout, nil)
            if count >= 0 || errno != ENOSYS { return count }
            precise = false
        }
        return epoll_wait(epfd, events, capacity, Int32(nanoseconds / 1_000_000))
    }
}
