import HTTP1

/// The protocol machine every engine drives, through the members of
/// `ConnectionMachine` (module LoopRuntime) only. A concrete type, not an
/// existential, so the engines' calls on the hot path are direct and
/// inlinable. Today the HTTP/1.1 session; when a second protocol arrives
/// this becomes the type that holds either machine.
public typealias ServerConnection = HTTPSession
