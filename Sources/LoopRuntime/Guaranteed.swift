extension Unmanaged {
    /// Calls `body` with the instance without a retain and release around
    /// the call: the hot path's calls on a connection's session, a loop's
    /// context or a ring reached through a stored reference (a table entry,
    /// an optional, an implicitly unwrapped property) were each retained and
    /// released by the compiler, about 10 instructions a pair, several pairs
    /// per request. Written `Unmanaged.passUnretained(x).guaranteed { ... }`
    /// at the call: a helper that took `x` itself as a parameter was
    /// retained again (measured: 220 instructions per keep-alive request).
    ///
    /// The one argument for every caller:
    // safety: the caller holds the instance through a strong reference it
    // does not give up, nor let anything reassign, until `body` returns: a
    // `let` of an object that outlives the call (the loop's table keeps its
    // records and their sessions for the loop's lifetime; a session keeps
    // its context), or a `var` that only `body`'s own thread writes and
    // `body` does not. Under that rule the instance cannot be freed during
    // the call, which is all the guarantee needs. A caller whose reference
    // does not meet it must not use this.
    @inlinable @inline(__always)
    public func guaranteed<Result>(_ body: (Instance) throws -> Result) rethrows -> Result {
        try _withUnsafeGuaranteedRef(body)
    }
}
