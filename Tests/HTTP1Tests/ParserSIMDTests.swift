// The parser's byte scanners (CSwitchyardSIMD through ParserSIMD): each SIMD
// variant must agree with the scalar one on every input. The parser suites
// check whole requests with every variant through `run` (Harness.swift);
// these check the scanners themselves, byte by byte and lane by lane, and
// near the end of a page, where a vector load must not fault.

import CSwitchyardSIMD
import Glibc
import Testing
@testable import HTTP1

@Suite("Parser SIMD scanners")
struct ParserSIMDTests {
    typealias Scanner = @Sendable (ParserSIMD) -> (UnsafeRawBufferPointer) -> Int
    static let scanners: [(String, Scanner)] = [
        ("token", { simd in { simd.tokenRun($0) } }),
        ("target", { simd in { simd.targetRun($0) } }),
        ("value", { simd in { simd.valueRun($0) } }),
        ("find LF", { simd in { simd.findLF($0) } }),
    ]

    /// The table built from the RFC's character lists, not the C one the
    /// scanners read, so a wrong entry there cannot hide.
    static let definitions = ByteClasses.fromDefinitions()

    @Test("The C byte table the parser reads matches the one built from the definitions")
    func tableMatchesDefinitions() {
        let c = ByteClasses.shared
        for b in 0...255 { #expect(c.flags[b] == Self.definitions.flags[b], "byte \(b)") }
    }

    /// The classes as the byte table defines them, the reference for all.
    static func expected(_ scanner: String, _ bytes: [UInt8]) -> Int {
        let classes = Self.definitions
        let inRun: (UInt8) -> Bool = switch scanner {
        case "token": classes.isToken
        case "target": classes.isTarget
        case "value": classes.isFieldValue
        default: { $0 != 0x0A }
        }
        return bytes.firstIndex { !inRun($0) } ?? bytes.count
    }

    /// Checks `simd` on every byte value placed at every position of a
    /// 70-byte run (so each lane of a 16- and 32-byte block and the tail
    /// after the last whole block), against the byte table.
    func everyByteAtEveryPosition(_ simd: ParserSIMD) {
        for (name, scanner) in Self.scanners {
            // A filler inside every class: 'a' is a token, target and value byte (not LF).
            var failures = 0
            for position in 0..<70 {
                for value in 0...255 {
                    var bytes = [UInt8](repeating: 0x61, count: 70)
                    bytes[position] = UInt8(value)
                    let got = bytes.withUnsafeBytes { scanner(simd)($0) }
                    let want = Self.expected(name, bytes)
                    if got != want {
                        failures += 1
                        if failures < 5 { Issue.record("\(simd) \(name): byte \(value) at \(position): \(got), want \(want)") }
                    }
                }
            }
            #expect(failures == 0, "\(simd) \(name): \(failures) mismatches")
        }
    }

    /// Random lines ending at, or crossing, the end of a page followed by an
    /// unmapped one: a load past the page end would crash the test process.
    func pageEnds(_ simd: ParserSIMD) throws {
        try Self.withGuardedPage { base, page in try pageEnds(simd, base, page) }
    }

    /// Calls `body` with a readable page whose next page is unmapped
    /// (PROT_NONE), so a read past its end faults.
    static func withGuardedPage(_ body: (UnsafeMutableRawPointer, Int) throws -> Void) throws {
        let page = 4096
        let raw = mmap(nil, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        let base = try #require(raw == MAP_FAILED ? nil : raw)
        defer { munmap(base, 2 * page) }
        #expect(mprotect(base + page, page, PROT_NONE) == 0)
        try body(base, page)
    }

    private func pageEnds(_ simd: ParserSIMD, _ base: UnsafeMutableRawPointer, _ page: Int) throws {
        let alphabet = Array("abcXYZ019-._~|!:/?%=&;,() \t\"<>\\^`{}@[]".utf8) + [0x00, 0x0A, 0x0D, 0x7F, 0x80, 0xFF]
        var rng = SplitMix64(seed: 7)
        for _ in 0..<20_000 {
            let count = Int.random(in: 0...80, using: &rng)
            let offset = Bool.random(using: &rng) ? page - count : Int.random(in: 0...(page - count), using: &rng)
            let p = base + offset
            var bytes: [UInt8] = []
            for i in 0..<count {
                let b = Int.random(in: 0..<10, using: &rng) < 9 ? alphabet[Int.random(in: 0..<20, using: &rng)]
                    : alphabet[Int.random(in: 0..<alphabet.count, using: &rng)]
                p.storeBytes(of: b, toByteOffset: i, as: UInt8.self)
                bytes.append(b)
            }
            for (name, scanner) in Self.scanners {
                let got = scanner(simd)(UnsafeRawBufferPointer(start: p, count: count))
                let want = Self.expected(name, bytes)
                if got != want {
                    Issue.record("\(simd) \(name) at page offset \(offset): \(got), want \(want) for \(escaped(bytes))")
                    return
                }
            }
        }
    }

    @Test("Scalar scanners match the byte table for every byte at every position")
    func scalarBytes() { everyByteAtEveryPosition(.scalar) }

    @Test("SSE4.2 scanners match the byte table for every byte at every position",
          .enabled(if: ParserSIMD.sse42.isSupported, "this CPU has no SSE4.2"))
    func sse42Bytes() { everyByteAtEveryPosition(.sse42) }

    @Test("AVX2 scanners match the byte table for every byte at every position",
          .enabled(if: ParserSIMD.avx2.isSupported, "this CPU has no AVX2 (or the OS does not save YMM registers)"))
    func avx2Bytes() { everyByteAtEveryPosition(.avx2) }

    @Test("Scalar scanners stop at the end of the input at a page's end")
    func scalarPageEnds() throws { try pageEnds(.scalar) }

    @Test("SSE4.2 scanners never read into the next page", .enabled(if: ParserSIMD.sse42.isSupported, "this CPU has no SSE4.2"))
    func sse42PageEnds() throws { try pageEnds(.sse42) }

    @Test("AVX2 scanners never read into the next page",
          .enabled(if: ParserSIMD.avx2.isSupported, "this CPU has no AVX2 (or the OS does not save YMM registers)"))
    func avx2PageEnds() throws { try pageEnds(.avx2) }

    /// A random head: field names and values of many lengths (around the
    /// 16- and 32-byte blocks), whitespace around values, now and then a
    /// byte the fast path refuses.
    static func randomHead(_ rng: inout SplitMix64) -> [UInt8] {
        let nameBytes = Array("abcdefXYZ-_0123456789!#$%&'*+.^`|~".utf8)
        let valueBytes = Array("abc XYZ 019-._~|!:/?%=&;,()\t\"<>@[]{}".utf8) + [0x80, 0xFF]
        var head = Array("GET /p\(Int.random(in: 0...99999, using: &rng))?q=\(Int.random(in: 0...9, using: &rng)) HTTP/1.1\r\nHost: h\r\n".utf8)
        for _ in 0..<Int.random(in: 0...6, using: &rng) {
            for _ in 0..<Int.random(in: 1...40, using: &rng) { head.append(nameBytes.randomElement(using: &rng)!) }
            head.append(0x3A)
            for _ in 0..<Int.random(in: 0...2, using: &rng) { head.append(Bool.random(using: &rng) ? 0x20 : 0x09) }
            for _ in 0..<Int.random(in: 0...70, using: &rng) { head.append(valueBytes.randomElement(using: &rng)!) }
            if Int.random(in: 0..<20, using: &rng) == 0 { head.append([0x00, 0x0A, 0x7F, 0x0D].randomElement(using: &rng)!) }
            head += [0x0D, 0x0A]
        }
        return head + [0x0D, 0x0A]
    }

    @Test("The whole-head fast path agrees with the scalar one at page ends, for every variant")
    func wholeHeadAtPageEnds() throws {
        try Self.withGuardedPage { base, page in wholeHeadAtPageEnds(base, page) }
    }

    private func wholeHeadAtPageEnds(_ base: UnsafeMutableRawPointer, _ page: Int) {
        let fields = UnsafeMutablePointer<FieldSlot>.allocate(capacity: 100)
        let reference = UnsafeMutablePointer<FieldSlot>.allocate(capacity: 100)
        defer { fields.deallocate(); reference.deallocate() }
        var rng = SplitMix64(seed: 11)
        var accepted = 0
        for _ in 0..<5_000 {
            let head = Self.randomHead(&rng)
            let cut = Bool.random(using: &rng) ? head.count : Int.random(in: 0...head.count, using: &rng)  // complete or not
            let bytes = Array(head[0..<cut])
            let offset = Bool.random(using: &rng) ? page - bytes.count : Int.random(in: 0...(page - bytes.count), using: &rng)
            let p = base + offset
            bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
            var want = cswitchyard_head()
            let limits = HTTPLimits()
            let scalar = ParserSIMD.scalar.parseHead(p, bytes.count, limits, reference, &want)
            if scalar { accepted += 1 }
            for simd in ParserSIMD.supported where simd != .scalar {
                var got = cswitchyard_head()
                let ok = simd.parseHead(p, bytes.count, limits, fields, &got)
                #expect(ok == scalar, "\(simd) accepts \(ok), scalar \(scalar): \(escaped(bytes))")
                guard ok && scalar else { continue }
                #expect(got.head_length == want.head_length && got.field_count == want.field_count
                        && got.method_length == want.method_length && got.target_length == want.target_length
                        && got.query_offset == want.query_offset && got.minor == want.minor && got.host_count == want.host_count
                        && got.host_invalid == want.host_invalid && got.special == want.special, "\(simd): \(escaped(bytes))")
                for i in 0..<Int(want.field_count) {
                    let a = fields[i], b = reference[i]
                    #expect(a.nameStart == b.nameStart && a.nameLength == b.nameLength && a.valueStart == b.valueStart
                            && a.valueLength == b.valueLength, "\(simd) field \(i): \(escaped(bytes))")
                }
            }
        }
        #expect(accepted > 500, "the fast path accepted only \(accepted) of 5,000 heads")
    }

    @Test("Random heads parse the same whole (fast path) as byte by byte (line parser)")
    func wholeHeadMatchesLineParser() {
        var rng = SplitMix64(seed: 12)
        for _ in 0..<300 {
            let head = Self.randomHead(&rng)
            let whole = run(pieces: [head])
            let bytewise = run(pieces: bytewise(head))
            #expect(whole.comparableOutput == bytewise.comparableOutput && whole.closed == bytewise.closed
                    && whole.requests == bytewise.requests, "\(escaped(head))")
        }
    }

    @Test("Framing and connection fields after the 64th field still count (the fast path's overflow)")
    func framingFieldsPastSixtyFour() {
        let filler = (0..<70).map { "X-Filler-\($0): \($0)" }
        let post = run(request("POST /a HTTP/1.1", ["Host: h"] + filler + ["Content-Length: 3"], body: "abc"))
        #expect(post.requests.first?.body == Array("abc".utf8))
        let close = run(request("GET /b HTTP/1.1", ["Host: h"] + filler + ["Connection: close"]) + request("GET /c HTTP/1.1"))
        #expect(close.requests.count == 1 && close.closed)
        let twoHosts = run(request("GET /d HTTP/1.1", ["Host: h"] + filler + ["HOST: h"]))
        #expect(twoHosts.statuses == [400])
    }

    @Test("A long field value is scanned past several vector blocks by every variant")
    func longValues() {
        // 300 value bytes then a control at each offset near the end.
        for simd in ParserSIMD.supported {
            for stop in [0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255, 299] {
                var bytes = [UInt8](repeating: 0x7A, count: 300)
                bytes[stop] = 0x01
                #expect(bytes.withUnsafeBytes { simd.valueRun($0) } == stop, "\(simd) stop \(stop)")
            }
        }
    }

    @Test("The --parser-simd words", arguments: ParserSIMD.choices)
    func choices(word: String) throws {
        let simd = try #require(ParserSIMD(choice: word))
        #expect(word == "auto" ? simd == ParserSIMD.best : simd.description == word)
    }

    @Test("An unknown --parser-simd word is refused")
    func badChoice() {
        #expect(ParserSIMD(choice: "neon") == nil)
        #expect(ParserSIMD(choice: "AVX2") == nil)
    }

    @Test("auto picks a variant this CPU runs, and scalar always runs")
    func best() {
        #expect(ParserSIMD.best.isSupported)
        #expect(ParserSIMD.supported.first == .scalar)
        #expect(ParserSIMD.best == ParserSIMD.supported.last)
    }
}
