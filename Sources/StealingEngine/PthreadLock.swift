import Glibc

/// A value behind a pthread mutex: the inject queue, the sleeper list and the
/// mailboxes use it instead of Synchronization's `Mutex`, because
/// ThreadSanitizer intercepts pthread's lock calls but does not see the
/// futex under `Mutex` on Linux (it reported every access inside those
/// critical sections as a race, which hid any real one). Uncontended, both
/// are one atomic instruction to lock and one to unlock.
///
/// Ownership: any thread, one at a time inside `withLock`.
final class PthreadLock<Value>: @unchecked Sendable {
    // @unchecked Sendable: `value` is only touched with `mutex` held.
    // safety: allocated and initialized in init, destroyed and freed in deinit.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inline(__always)
    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
