/// The io_uring engine's feature switches, each a `--uring-*` flag, so an
/// experiment can turn one feature off (or on) and measure what it is worth.
/// Plain values, read once at start-up. Features the kernel lacks are
/// refused at start with the flag's name (see `UringProbe`).
public struct UringOptions: Sendable, Equatable {
    /// How connections receive.
    public enum ReceiveMode: String, Sendable, CaseIterable {
        /// One multishot receive per connection into the ring's provided
        /// buffers; the session parses in place from the kernel's buffer.
        case multishot
        /// One single-shot receive at a time into the session's own buffer
        /// (the epoll engine's memory model), for comparison.
        case single
    }

    public var receive = ReceiveMode.multishot
    /// Submission queue entries per ring (a power of two).
    public var sqEntries = 256
    /// Completion queue size as a multiple of the submission queue (4 to 8
    /// keeps overflow away with one multishot receive per connection).
    public var cqFactor = 8
    /// Provided buffers per ring (multishot receive; a power of two, at most 32768).
    public var buffers = 512
    /// Bytes per provided buffer.
    public var bufferSize = 4096
    /// IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN (6.1): completions run only
    /// when the loop asks for them. Off: COOP_TASKRUN (5.19).
    public var deferTaskrun = true
    /// io_uring_register_ring_fd (5.18): no fd lookup per io_uring_enter.
    public var registerRingFD = true
    /// Multishot accept (5.19); off: one accept at a time, re-armed after each.
    public var multishotAccept = true
    /// Accepted connections go straight into the ring's registered file
    /// table (IORING_FILE_INDEX_ALLOC, 5.19): no descriptor in the process,
    /// no file lookup and reference count per operation. The reuseport
    /// policy only (an acceptor thread hands over real descriptors).
    public var directDescriptors = false
    /// Recv bundles (6.10): one completion may carry several buffers.
    public var bundle = false
    /// Incremental buffer consumption (IOU_PBUF_RING_INC, 6.12).
    public var incremental = false
    /// Microseconds the kernel may wait gathering completions once one is
    /// ready (submit_and_wait_min_timeout, 6.12); 0 wakes on the first.
    public var minWaitMicroseconds = 0
    /// Each turn waits for one completion more than the sends it submits, so
    /// the sends that complete at once do not end the wait: one
    /// io_uring_enter per turn instead of two. Off by default: measured here,
    /// the smaller batches it leads to cost more (server and client) than the
    /// system call it saves, except with very few connections.
    public var waitForSends = false
    /// Responses at least this long go out with zero-copy send (SEND_ZC,
    /// 6.0); 0 turns it off. Loopback copies anyway, so it does not pay here.
    public var zeroCopyThreshold = 0
    /// A kernel thread polls the submission queue (SQPOLL): no system call
    /// to submit, at the cost of a core spinning; not for one-core servers.
    public var sqPoll = false

    public init() {}

    /// The settings as `flag=value` words, for logs and results.
    public var summary: String {
        "recv=\(receive.rawValue) sq=\(sqEntries) cq=\(sqEntries * cqFactor) buffers=\(buffers)x\(bufferSize)"
            + " defer-taskrun=\(deferTaskrun) ring-fd=\(registerRingFD) multishot-accept=\(multishotAccept)"
            + " wait-for-sends=\(waitForSends) direct=\(directDescriptors) bundle=\(bundle) incremental=\(incremental) min-wait-us=\(minWaitMicroseconds)"
            + " zc-threshold=\(zeroCopyThreshold) sqpoll=\(sqPoll)"
    }
}
