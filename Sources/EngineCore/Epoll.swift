import CSystem
import Glibc

/// Thin names for the epoll and eventfd calls event loops make (the engine's
/// reactors and the load generator's threads share them).
public enum Epoll {
    public static let readable = EPOLLIN.rawValue
    public static let writable = EPOLLOUT.rawValue
    public static let peerHangUp = EPOLLRDHUP.rawValue
    public static let hangUp = EPOLLHUP.rawValue
    public static let error = EPOLLERR.rawValue
    public static let edgeTriggered = EPOLLET.rawValue

    public static func create() -> Int32 { epoll_create1(Int32(EPOLL_CLOEXEC)) }

    /// Whether this process can make an epoll instance: the availability of
    /// the engines built on readiness (epoll, stealing).
    public static func availability() -> Availability {
        let fd = create()
        guard fd >= 0 else { return .unavailable(reason: "epoll_create1 failed: \(errnoText())") }
        close(fd)
        return .available
    }

    @discardableResult
    public static func add(_ epfd: Int32, _ fd: Int32, events: UInt32, tag: UInt64) -> Bool {
        var event = epoll_event(events: events, data: epoll_data_t(u64: tag))
        return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event) == 0
    }

    @discardableResult
    public static func modify(_ epfd: Int32, _ fd: Int32, events: UInt32, tag: UInt64) -> Bool {
        var event = epoll_event(events: events, data: epoll_data_t(u64: tag))
        return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &event) == 0
    }

    public static func remove(_ epfd: Int32, _ fd: Int32) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, fd, nil)
    }

    /// Waits up to `nanoseconds`. Open-loop arrivals are often less than a
    /// millisecond apart, finer than epoll_wait's timeout, which would force
    /// a busy poll; epoll_pwait2 (Linux 5.11) takes a timespec. If the kernel
    /// or a seccomp filter refuses it, `precise` turns off and the
    /// millisecond call is used from then on.
    public static func wait(_ epfd: Int32, _ events: UnsafeMutablePointer<epoll_event>, capacity: Int32,
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

/// A non-blocking eventfd: other threads write to it to wake a loop (its
/// epoll registration, a poll on a ring, a connection thread's poll).
public enum EventFD {
    public static func make() -> Int32 { eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC)) }

    public static func signal(_ fd: Int32) {
        var one: UInt64 = 1
        _ = write(fd, &one, 8)
    }

    public static func drain(_ fd: Int32) {
        var value: UInt64 = 0
        _ = read(fd, &value, 8)
    }
}
