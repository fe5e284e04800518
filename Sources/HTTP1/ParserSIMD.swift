import CSwitchyardSIMD

/// Which byte scanners the request parser runs (`--parser-simd`).
///
/// The parser's inner loops (finding a line's end, the run of token bytes
/// in a method or field name, of target bytes in a request-target, of
/// field-value bytes in a value) are C functions in three variants (see
/// `CSwitchyardSIMD`): a byte loop over a class table, SSE4.2 range
/// compares (16 bytes per instruction) and AVX2 nibble lookups (32 bytes).
/// Every variant gives the same answers; they differ only in speed. The
/// choice is made once, when the limits are read, and kept by each parser
/// as one byte, so a call costs a switch and a direct call.
public enum ParserSIMD: UInt8, CaseIterable, Sendable, CustomStringConvertible {
    case scalar
    case sse42
    case avx2

    /// The fastest variant this CPU runs: what `auto` means.
    public static let best: ParserSIMD = supported.last ?? .scalar

    /// The variants this CPU runs, slowest first (scalar always).
    public static var supported: [ParserSIMD] { allCases.filter(\.isSupported) }

    public var isSupported: Bool {
        let features = cswitchyard_cpu_features()
        switch self {
        case .scalar: return true
        case .sse42: return features & CSWITCHYARD_CPU_SSE42 != 0
        case .avx2: return features & CSWITCHYARD_CPU_AVX2 != 0
        }
    }

    public var description: String {
        switch self {
        case .scalar: "scalar"
        case .sse42: "sse42"
        case .avx2: "avx2"
        }
    }

    /// The words `--parser-simd` accepts.
    public static let choices = ["auto", "avx2", "sse42", "scalar"]

    /// Reads a `--parser-simd` word; nil for a word not in `choices`.
    /// `auto` is `best`; an explicit variant this CPU lacks is the caller's
    /// error to report (check `isSupported`).
    public init?(choice: String) {
        switch choice {
        case "auto": self = .best
        case "avx2": self = .avx2
        case "sse42": self = .sse42
        case "scalar": self = .scalar
        default: return nil
        }
    }

    // The scanners. Each takes `n` bytes at `p`.

    /// Length of the leading run of tchar bytes.
    @inline(__always) func tokenRun(_ p: UnsafeRawPointer, _ n: Int) -> Int {
        let q = p.assumingMemoryBound(to: UInt8.self)
        switch self {
        case .avx2: return cswitchyard_token_run_avx2(q, n)
        case .sse42: return cswitchyard_token_run_sse42(q, n)
        case .scalar: return cswitchyard_token_run_scalar(q, n)
        }
    }

    /// Length of the leading run of request-target bytes.
    @inline(__always) func targetRun(_ p: UnsafeRawPointer, _ n: Int) -> Int {
        let q = p.assumingMemoryBound(to: UInt8.self)
        switch self {
        case .avx2: return cswitchyard_target_run_avx2(q, n)
        case .sse42: return cswitchyard_target_run_sse42(q, n)
        case .scalar: return cswitchyard_target_run_scalar(q, n)
        }
    }

    /// Length of the leading run of field-value bytes.
    @inline(__always) func valueRun(_ p: UnsafeRawPointer, _ n: Int) -> Int {
        let q = p.assumingMemoryBound(to: UInt8.self)
        switch self {
        case .avx2: return cswitchyard_value_run_avx2(q, n)
        case .sse42: return cswitchyard_value_run_sse42(q, n)
        case .scalar: return cswitchyard_value_run_scalar(q, n)
        }
    }

    /// Offset of the first LF, or `n`.
    @inline(__always) func findLF(_ p: UnsafeRawPointer, _ n: Int) -> Int {
        let q = p.assumingMemoryBound(to: UInt8.self)
        switch self {
        case .avx2: return cswitchyard_find_lf_avx2(q, n)
        case .sse42: return cswitchyard_find_lf_sse42(q, n)
        case .scalar: return cswitchyard_find_lf_scalar(q, n)
        }
    }
}

extension ParserSIMD {
    /// The whole-head fast path (`cswitchyard_parse_head_*`): true when
    /// `p[0..<n]` starts with a complete head of the common shape within
    /// `limits`; `fields` then holds its field lines and `head` the rest.
    @inline(__always)
    func parseHead(_ p: UnsafeRawPointer, _ n: Int, _ limits: borrowing HTTPLimits,
                   _ fields: UnsafeMutablePointer<FieldSlot>, _ head: inout cswitchyard_head) -> Bool {
        let q = p.assumingMemoryBound(to: UInt8.self)
        let maxFields = max(limits.maxFieldCount, 0)
        let line = limits.maxRequestLineBytes, field = limits.maxFieldBytes, section = limits.maxHeaderBytes
        // FieldSlot is four UInt32s, as cswitchyard_field is.
        return fields.withMemoryRebound(to: cswitchyard_field.self, capacity: max(maxFields, 1)) { slots in
            switch self {
            case .avx2:
                cswitchyard_parse_head_avx2(q, n, line, field, section,
                                            maxFields, slots, &head) != 0
            case .sse42:
                cswitchyard_parse_head_sse42(q, n, line, field, section,
                                             maxFields, slots, &head) != 0
            case .scalar:
                cswitchyard_parse_head_scalar(q, n, line, field, section,
                                              maxFields, slots, &head) != 0
            }
        }
    }
}

extension ParserSIMD {
    /// The scanners, for tests and the micro-benchmark.
    public func tokenRun(_ bytes: UnsafeRawBufferPointer) -> Int { bytes.isEmpty ? 0 : tokenRun(bytes.baseAddress!, bytes.count) }
    public func targetRun(_ bytes: UnsafeRawBufferPointer) -> Int { bytes.isEmpty ? 0 : targetRun(bytes.baseAddress!, bytes.count) }
    public func valueRun(_ bytes: UnsafeRawBufferPointer) -> Int { bytes.isEmpty ? 0 : valueRun(bytes.baseAddress!, bytes.count) }
    public func findLF(_ bytes: UnsafeRawBufferPointer) -> Int { bytes.isEmpty ? 0 : findLF(bytes.baseAddress!, bytes.count) }
}
