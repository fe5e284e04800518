import Dispatch

/// Runs work after a delay on a thread of its own, away from every loop:
/// what `/delay` uses to answer a deferred response later, as a downstream
/// service or a timer would. Dispatch's timer queue; each call allocates,
/// which is fine for a demonstration route (the zero-allocation path is the
/// synchronous one).
final class LateTimer: Sendable {
    static let shared = LateTimer()
    private let queue = DispatchQueue(label: "switchyard.late-timer")

    func after(milliseconds: Int, _ work: @escaping @Sendable () -> Void) {
        queue.asyncAfter(deadline: .now() + .milliseconds(milliseconds), execute: work)
    }
}
