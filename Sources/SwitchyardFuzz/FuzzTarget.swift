// The libFuzzer target over HTTPSession with the demo application (`make
// fuzz`). Built with `-sanitize=fuzzer,address -DFUZZING`,
// the program's entry point hands over to libFuzzer's driver, which calls
// `fuzzOneInput` once per input. (SwiftPM links an executable's entry point
// as `<module>_main`, so libFuzzer's own `main` cannot be used as is.) In an
// ordinary build the program only says how to build it.
//
// Each input is four bytes that choose where reads end, then the bytes a
// client sent (`SessionReplay.pieces(fromFuzzInput:)`). Every input is run
// twice, split as chosen and whole, and any broken invariant traps, which
// libFuzzer reports with the input that did it.

import Application
import HTTP1
import HTTPReplay
import LoopRuntime
import Metrics

/// Made once: the application is read-only once built, and a fresh loop
/// per input would make each run allocate its pools anew.
// safety: libFuzzer calls the entry point from one thread.
nonisolated(unsafe) let application: Application = {
    var demo = DemoConfiguration()
    demo.maxWorkMicroseconds = 50  // an input may ask /work for a long burn
    return try! Application.demo(demo, metrics: MetricsRegistry())
}()
nonisolated(unsafe) let loop = LoopContext(counters: WorkerCounters())

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let pieces = SessionReplay.pieces(fromFuzzInput: input)
    let split = SessionReplay.run(pieces: pieces, responder: application, loop: loop)
    var problems = ReplayInvariants.violations(split)
    if pieces.count > 1 {
        let whole = SessionReplay.run(pieces: [Array(pieces.joined())], responder: application, loop: loop)
        problems += ReplayInvariants.splitViolations(whole: whole, split: split)
    }
    if !problems.isEmpty { fatalError("invariant broken: \(problems.joined(separator: "; "))") }
    return 0
}

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

@_cdecl("SwitchyardFuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments) { data, size in fuzzOneInput(data, size) }
}
#else
@main
enum FuzzPlaceholder {
    static func main() {
        print("SwitchyardFuzz: build it with `make fuzz` (libFuzzer and AddressSanitizer); this build has no fuzzer in it.")
    }
}
#endif
