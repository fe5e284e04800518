/// The overload controller's settings (`--overload-control` and friends),
/// plain values read at start-up. Times in microseconds.
public struct OverloadSettings: Sendable, Equatable {
    /// Off by default: shedding changes what clients see, so it is asked for,
    /// as Envoy's overload manager and nginx's limit_req are.
    public var enabled = false
    /// The queueing delay a loop may sustain (CoDel's target): 5 ms.
    public var targetMicros = 5_000
    /// How long the delay must stay above (or, to recover, below) the
    /// target before the state changes (CoDel's interval): 100 ms.
    public var intervalMicros = 100_000
    /// While overloaded, normal requests are shed only once the delay
    /// exceeds this (low ones as soon as it exceeds `targetMicros`): 50 ms.
    public var normalTargetMicros = 50_000

    public init() {}
}
