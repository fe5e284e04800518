import Glibc

/// Runs `body(i)` on `count` threads at once and waits for all.
func concurrently(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    final class Job { let run: () -> Void; init(_ run: @escaping () -> Void) { self.run = run } }
    var threads: [pthread_t] = []
    for i in 0..<count {
        var thread = pthread_t()
        let job = Job { body(i) }
        pthread_attr_t().withUnsafeAttributes(stack: 256 * 1024) { attributes in
            _ = pthread_create(&thread, attributes, { Unmanaged<Job>.fromOpaque($0!).takeRetainedValue().run(); return nil },
                               Unmanaged.passRetained(job).toOpaque())
        }
        threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
}

extension pthread_attr_t {
    func withUnsafeAttributes(stack: Int, _ body: (UnsafePointer<pthread_attr_t>) -> Void) {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setstacksize(&attributes, stack)
        body(&attributes)
        pthread_attr_destroy(&attributes)
    }
}
