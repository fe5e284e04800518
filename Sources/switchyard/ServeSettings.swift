/// Every setting `serve` takes, by the name it has everywhere: the flag
/// (`--read-timeout`), the configuration file key (`read-timeout`), the
/// environment variable (`SWITCHYARD_READ_TIMEOUT`). One table, so the three
/// can never drift apart, and `config check` can print what each one is.
struct ServeSetting: Sendable {
    enum Kind: Sendable {
        /// `--key value`.
        case value
        /// `--key` only (off by default).
        case flag
        /// `--key` / `--no-key`.
        case invertible
    }

    let key: String
    let kind: Kind
    /// A single-process reload applies it to the running engine; otherwise
    /// a change is reported as needing a restart. (In process mode every
    /// setting but the listening sockets' takes effect through new workers.)
    let live: Bool
    /// The effective value, as `config check` prints it.
    let render: @Sendable (Serve) -> String

    init(_ key: String, _ kind: Kind = .value, live: Bool = false, _ render: @escaping @Sendable (Serve) -> String) {
        self.key = key
        self.kind = kind
        self.live = live
        self.render = render
    }

    /// The environment variable that sets it.
    var environmentName: String { "SWITCHYARD_" + key.uppercased().replacingDashes() }

    static let all: [ServeSetting] = [
        ServeSetting("engine") { $0.engine },
        ServeSetting("host") { $0.host },
        ServeSetting("port") { String($0.port) },
        ServeSetting("threads") { String($0.threads) },
        ServeSetting("workers") { $0.workers.rawValue },
        ServeSetting("processes") { String($0.processes) },
        ServeSetting("restart-limit") { String($0.restartLimit) },
        ServeSetting("enable-crash-route", .flag) { String($0.enableCrashRoute) },
        ServeSetting("log-level", live: true) { $0.logLevel.rawValue },
        ServeSetting("max-connections") { String($0.maxConnections) },
        ServeSetting("backlog") { String($0.backlog) },
        ServeSetting("read-timeout", live: true) { $0.readTimeout.text },
        ServeSetting("drain-timeout", live: true) { $0.drainTimeout.text },
        ServeSetting("drain-idle-grace", live: true) { $0.drainIdleGrace.text },
        ServeSetting("max-request-line", live: true) { String($0.maxRequestLine) },
        ServeSetting("max-header-bytes", live: true) { String($0.maxHeaderBytes) },
        ServeSetting("max-field-bytes", live: true) { String($0.maxFieldBytes) },
        ServeSetting("max-fields", live: true) { String($0.maxFields) },
        ServeSetting("max-body", live: true) { String($0.maxBody) },
        ServeSetting("max-requests-per-connection", live: true) { String($0.maxRequestsPerConnection) },
        ServeSetting("parser-simd", live: true) { $0.parserSIMD },
        ServeSetting("static-dir") { $0.staticDir ?? "" },
        ServeSetting("pin") { $0.pin },
        ServeSetting("accept") { $0.accept.rawValue },
        ServeSetting("balance") { $0.balance.rawValue },
        ServeSetting("hash-port", .invertible) { String($0.hashPort) },
        ServeSetting("steering-fallback", .flag) { String($0.steeringFallback) },
        ServeSetting("head-timeout", live: true) { $0.headTimeout.text },
        ServeSetting("keep-alive-timeout", live: true) { $0.keepAliveTimeout.text },
        ServeSetting("body-timeout", live: true) { $0.bodyTimeout.text },
        ServeSetting("send-timeout", live: true) { $0.sendTimeout.text },
        ServeSetting("response-timeout", live: true) { $0.responseTimeout.text },
        ServeSetting("read-ahead-limit", live: true) { String($0.readAheadLimit) },
        ServeSetting("pool-decay") { $0.poolDecay.text },
        ServeSetting("pool-keep") { String($0.poolKeep) },
        ServeSetting("shed-above", live: true) { String($0.shedAbove) },
        ServeSetting("max-connections-per-address") { String($0.maxConnectionsPerAddress) },
        ServeSetting("overload-control", .invertible) { String($0.overloadControl) },
        ServeSetting("overload-target") { $0.overloadTarget.text },
        ServeSetting("overload-interval") { $0.overloadInterval.text },
        ServeSetting("overload-normal-target") { $0.overloadNormalTarget.text },
        ServeSetting("priority") { $0.priority },
        ServeSetting("uring-recv") { $0.uringRecv.rawValue },
        ServeSetting("uring-sq-entries") { String($0.uringSqEntries) },
        ServeSetting("uring-cq-factor") { String($0.uringCqFactor) },
        ServeSetting("uring-buffers") { String($0.uringBuffers) },
        ServeSetting("uring-buffer-size") { String($0.uringBufferSize) },
        ServeSetting("uring-defer-taskrun", .invertible) { String($0.uringDeferTaskrun) },
        ServeSetting("uring-register-ring-fd", .invertible) { String($0.uringRegisterRingFd) },
        ServeSetting("uring-multishot-accept", .invertible) { String($0.uringMultishotAccept) },
        ServeSetting("uring-wait-for-sends", .flag) { String($0.uringWaitForSends) },
        ServeSetting("uring-direct-descriptors", .flag) { String($0.uringDirectDescriptors) },
        ServeSetting("uring-bundle", .flag) { String($0.uringBundle) },
        ServeSetting("uring-incremental", .flag) { String($0.uringIncremental) },
        ServeSetting("uring-min-wait-us") { String($0.uringMinWaitUs) },
        ServeSetting("uring-zc-threshold") { String($0.uringZcThreshold) },
        ServeSetting("uring-sqpoll", .flag) { String($0.uringSqpoll) },
        ServeSetting("steal-readiness") { $0.stealReadiness.rawValue },
        ServeSetting("steal-queue") { String($0.stealQueue) },
        ServeSetting("steal-lifo-polls") { String($0.stealLifoPolls) },
        ServeSetting("steal-searchers") { String($0.stealSearchers) },
        ServeSetting("steal-inject-interval") { String($0.stealInjectInterval) },
        ServeSetting("steal-harvest-batch") { String($0.stealHarvestBatch) },
        ServeSetting("steal-first", .invertible) { String($0.stealFirst) },
    ]

    static let byKey: [String: ServeSetting] = Dictionary(uniqueKeysWithValues: all.map { ($0.key, $0) })

    /// The known key nearest to a misspelt one, for "did you mean".
    static func nearest(to key: String) -> String? {
        let scored = all.map { ($0.key, editDistance($0.key, key)) }.min { $0.1 < $1.1 }
        guard let (best, distance) = scored, distance <= max(2, key.count / 4) else { return nil }
        return best
    }
}

extension String {
    func replacingDashes() -> String { String(map { $0 == "-" ? "_" : $0 }) }
}

/// Levenshtein distance over characters (short keys only).
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    var row = Array(0...b.count)
    for i in 1...max(1, a.count) where !a.isEmpty {
        var previous = row[0]
        row[0] = i
        for j in 1...max(1, b.count) where !b.isEmpty {
            let saved = row[j]
            row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
            previous = saved
        }
    }
    return a.isEmpty ? b.count : row[b.count]
}
