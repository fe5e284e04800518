import Glibc

/// A counting semaphore over the connections an acceptor may hand out.
///
/// The acceptor waits for a slot *before* calling `accept`, so at the cap new
/// clients wait in the kernel's listen backlog instead of costing a thread or
/// a loop's attention; closing a connection returns its slot. Used by the
/// engines that accept on a dedicated thread (`threads`, `epoll --accept
/// acceptor`); reuseport loops use `ConnectionBudget`, which never blocks.
public final class ConnectionSlots: @unchecked Sendable {
    // @unchecked Sendable: a POSIX semaphore is made to be shared by threads.
    // safety: initialized in init, destroyed in deinit, never moved.
    private let semaphore: UnsafeMutablePointer<sem_t>

    public init(count: Int) {
        semaphore = .allocate(capacity: 1)
        sem_init(semaphore, 0, UInt32(max(1, count)))
    }

    deinit {
        sem_destroy(semaphore)
        semaphore.deallocate()
    }

    /// Blocks until a slot is free.
    public func acquire() {
        while sem_wait(semaphore) != 0 && errno == EINTR {}
    }

    /// Takes a slot if one is free, without waiting.
    public func tryAcquire() -> Bool {
        while sem_trywait(semaphore) != 0 {
            if errno != EINTR { return false }
        }
        return true
    }

    /// Returns a slot (also used to wake an acceptor blocked in `acquire`).
    public func release() {
        sem_post(semaphore)
    }
}
