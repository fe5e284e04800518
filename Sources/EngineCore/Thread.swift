import CSystem
import Glibc

/// Minimal POSIX threads: the engines need named threads with a chosen stack
/// size and joinable handles, which Foundation's Thread does not give cheaply.
public struct Thread: Sendable {
    // safety: a pthread_t is an opaque handle; joining happens once.
    let handle: pthread_t

    /// Starts `body` on a new joinable thread; crashes if the system refuses.
    public static func spawn(name: String, stackSize: Int = 512 * 1024, _ body: @escaping @Sendable () -> Void) -> Thread {
        guard let thread = trySpawn(name: name, stackSize: stackSize, body) else {
            fatalError("cannot start thread \(name): \(errnoText())")
        }
        return thread
    }

    /// Starts `body` on a new joinable thread; nil (errno set) if the system
    /// refuses, for example at its thread limit.
    public static func trySpawn(name: String, stackSize: Int = 512 * 1024, _ body: @escaping @Sendable () -> Void) -> Thread? {
        let box = Unmanaged.passRetained(ThreadBody(name: name, body: body))
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setstacksize(&attributes, stackSize)
        defer { pthread_attr_destroy(&attributes) }
        var handle = pthread_t()
        let status = pthread_create(&handle, &attributes, { context in
            let body = Unmanaged<ThreadBody>.fromOpaque(context!).takeRetainedValue()
            pthread_setname_np(pthread_self(), String(body.name.prefix(15)))
            body.body()
            return nil
        }, box.toOpaque())
        guard status == 0 else {
            box.release()
            errno = status
            return nil
        }
        return Thread(handle: handle)
    }

    /// Starts a thread nobody joins.
    public static func detach(name: String, _ body: @escaping @Sendable () -> Void) {
        spawn(name: name, body).detach()
    }

    /// Lets the thread end without anyone joining it.
    public func detach() {
        pthread_detach(handle)
    }

    public func join() {
        pthread_join(handle, nil)
    }
}

private final class ThreadBody {
    let name: String
    let body: @Sendable () -> Void
    init(name: String, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
    }
}
