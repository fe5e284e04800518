import EngineCore
import HTTP1
import LoopRuntime
import Metrics

/// What a loop learns from the two clock reads each turn already pays for
/// (one before it waits, one after): how long it works and waits, how long
/// the requests it is about to serve may have waited for it, and from
/// that, through the `OverloadController`, whether to shed.
///
/// The queueing delay. A loop's queue is in the kernel: sockets with bytes
/// it has not read yet. If the wait before this turn blocked (the loop
/// found nothing to do), everything it serves now arrived during that wait
/// and has waited about nothing. If it returned at once, the work was
/// already there, and a request may have arrived just after the previous
/// turn read its socket: it has waited up to the previous turn's length.
/// So the estimate is "time since the previous turn began" after a busy
/// wait and 0 after an idle one, an upper bound that grows with the turn
/// length, which is what a standing queue makes long.
///
/// Latency samples. Requests answered in a turn are counted per class by
/// the application (`OverloadGate.answered`), not timed one by one (that
/// would be a clock read per request). At the turn's end they are recorded
/// as if spread evenly over the turn's work, each with the turn's queueing
/// delay added: `request_duration` = delay + its share of the turn,
/// `queue_delay` = the delay. A request whose bytes arrived over several
/// turns is timed from the turn that completed it.
///
/// Ownership: the loop thread (a `LoopCore` holds it).
/// Its arithmetic on clock readings wraps (`&+`, `&-`): they are µs of
/// CLOCK_MONOTONIC, far from overflowing, and an overflow check per
/// operation was a tenth of its cost per turn.
struct TurnClock {
    /// A wait found nothing to do if it lasted at least this long (µs) and
    /// longer than the work before it. A wait for epoll events already
    /// pending returns within a few µs; io_uring's wait also submits the
    /// turn's sends, which the kernel may perform right there, so its length
    /// is judged against the work that queued them.
    static let idleWaitMicros = 50
    /// Latency samples per class per turn at most: a turn of many requests
    /// is recorded as this many evenly spaced groups.
    static let samplesPerTurn = 4

    var controller: OverloadController
    /// When the current turn began (µs).
    private var turnStart = 0
    /// When the loop began its wait; -1: it has not waited since the turn began.
    private var waitBegan = -1
    /// The last turn's work (µs).
    private var lastBusy = 0
    /// Whether a turn is open (begun, not yet ended).
    private var inTurn = false
    /// The current turn's queueing-delay estimate (µs), and the moment it
    /// is counted from: the earliest a request served in this turn may
    /// have arrived.
    private var queueDelay = 0
    private var origin = 0
    /// The engine found a full batch of ready work this turn (`noteFullBatch`):
    /// more was waiting than it took, so what the next turn serves may have
    /// waited since this turn's origin, not only since this turn began.
    var fullBatch = false
    private var utilizationWindowStart = 0
    private var busyInWindow = 0

    init(settings: OverloadSettings, now: Int) {
        controller = OverloadController(settings: settings)
        turnStart = now
        utilizationWindowStart = now
    }

    /// The loop is about to wait: the turn's work is over.
    mutating func willWait(at now: Int, loop: LoopContext) {
        end(at: now, loop: loop)
        waitBegan = now
    }

    /// The loop read its clock at the top of a turn (after a wait, or
    /// between tasks without one): the previous turn ends if no wait ended
    /// it, and a new one begins.
    mutating func tick(at now: Int, loop: LoopContext) {
        let idle: Bool
        if waitBegan >= 0 {
            let waited = now &- waitBegan
            idle = waited >= Self.idleWaitMicros && waited >= lastBusy
            waitBegan = -1
        } else {
            end(at: now, loop: loop)
            idle = false
        }
        origin = idle ? now : (fullBatch ? origin : turnStart)
        fullBatch = false
        queueDelay = now &- origin
        turnStart = now
        inTurn = true
        loop.counters.setQueueDelay(micros: queueDelay)
        loop.overload.queueDelay = queueDelay
        // Off (the default): the gate stays open and costs nothing here.
        guard controller.settings.enabled else { return }
        loop.overload.overloaded = controller.overloaded
        loop.overload.lowDeadline = origin + controller.settings.targetMicros
        loop.overload.normalDeadline = origin + controller.settings.normalTargetMicros
    }

    private mutating func end(at now: Int, loop: LoopContext) {
        guard inTurn else { return }
        inTurn = false
        let busy = now &- turnStart
        lastBusy = busy
        let counters = loop.counters
        // The controller's signal: how long the oldest request of this turn
        // may have waited by its end. A turn that shed anything ran past
        // the target, so shedding alone never looks like recovery.
        if controller.settings.enabled {
            if controller.observe(queueDelay: now &- origin, at: now) { counters.recordOverloadEpisode() }
            counters.setOverloaded(controller.overloaded)
        }
        counters.recordBusy(micros: busy)
        busyInWindow &+= busy
        if now &- utilizationWindowStart >= 1_000_000 {
            counters.setUtilization(perMille: busyInWindow * 1000 / (now - utilizationWindowStart))
            utilizationWindowStart = now
            busyInWindow = 0
        }
        record(&loop.overload.answeredCritical, priority: 0, busy: busy, into: counters.latency)
        record(&loop.overload.answeredNormal, priority: 1, busy: busy, into: counters.latency)
        record(&loop.overload.answeredLow, priority: 2, busy: busy, into: counters.latency)
    }

    /// Takes one class's tally (`count` requests, reset to 0), spread over
    /// the turn's `busy` µs.
    @inline(__always)
    private func record(_ tally: inout Int, priority: Int, busy: Int, into latency: LatencyHistograms) {
        let count = tally
        guard count > 0 else { return }
        tally = 0
        if count == 1 {  // a keep-alive turn's usual one request: both samples in one call
            latency.record(priority: priority, queueDelay: queueDelay, duration: queueDelay &+ busy)
            return
        }
        latency.record(.queueDelay, priority: priority, micros: queueDelay, count: count)
        let groups = min(count, Self.samplesPerTurn)
        var recorded = 0
        var group = 1
        while group <= groups {
            let upTo = count * group / groups
            latency.record(.requestDuration, priority: priority, micros: queueDelay + busy * group / groups,
                           count: upTo - recorded)
            recorded = upTo
            group += 1
        }
    }
}
