import Glibc

/// Turns SIGINT, SIGTERM and SIGHUP into a call on a thread of our own.
///
/// The signals are blocked in every thread (the mask is inherited, so call
/// `install` before starting any thread) and one thread waits for them with
/// `sigwait`: the handler is then ordinary code, free to take locks, instead
/// of an async-signal context. SIGPIPE is ignored so a client that hangs up
/// mid-write gives EPIPE rather than killing the server.
public enum ShutdownSignals {
    public static func install(_ onSignal: @escaping @Sendable (Int32) -> Void) {
        signal(SIGPIPE, SIG_IGN)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGHUP)  // reload: the handler decides; never the default (terminate)
        // SETMASK, not BLOCK: a mask inherited from whoever started us (a
        // test runner, a supervisor) must not leave other signals blocked.
        pthread_sigmask(SIG_SETMASK, &set, nil)
        let waitSet = set
        Thread.detach(name: "signals") {
            var mask = waitSet
            while true {
                var received: Int32 = 0
                if sigwait(&mask, &received) == 0 { onSignal(received) }
            }
        }
    }
}
