// The parser's byte scanners (see include/CSwitchyardSIMD.h).
//
// Two SIMD techniques, so experiments can compare them:
// - SSE4.2: PCMPESTRI in range mode, as picohttpparser does. A string
//   holds up to eight [low, high] ranges of the bytes a run may hold; one
//   instruction finds the first of 16 bytes outside all of them. Tokens
//   need nine ranges, so '~' is left out and a byte that stops the scan
//   is confirmed against the byte table before it ends the run. (Negative
//   polarity, imm8 0x14, rather than picohttpparser's ranges of stopping
//   bytes, 0x04: valgrind decodes the former only, and callgrind is how
//   the variants are compared.)
// - AVX2: a nibble lookup. A byte belongs to the class when
//   lo[b & 15] & hi[b >> 4] is not zero; two byte shuffles classify 32
//   bytes exactly, with no confirming step. The tables are derived from
//   the class definitions (one bit per distinct row of the 16 x 16 byte
//   grid) and checked byte for byte by the tests.
//
// Reading past the end: a 16- or 32-byte load may cover bytes after
// [p, p + n), which the result ignores. Such a load never crosses into the
// next page (each load is checked), so it touches only memory in a page
// that holds part of the input, the same rule glibc's memchr follows.
#include "CSwitchyardSIMD.h"

#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

// Bit 1: tchar, 2: field-value byte, 4: request-target byte, 8: Host value byte (as ByteClasses).
const uint8_t cswitchyard_byte_class[256] = {
    0,0,0,0,0,0,0,0,0,2,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    2,15,2,3,15,15,15,15,14,14,15,15,14,15,15,6,15,15,15,15,15,15,15,15,15,15,14,14,2,14,2,6,
    6,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,14,2,14,3,15,
    3,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,2,3,2,15,0,
    2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,
    2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,
    2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,
    2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,
};
#define byte_class cswitchyard_byte_class
enum { TOKEN = 1, VALUE = 2, TARGET = 4, HOST = 8 };

static inline size_t scalar_run(const uint8_t *p, size_t n, uint8_t bit) {
    size_t i = 0;
    while (i < n && (byte_class[p[i]] & bit)) i++;
    return i;
}

static inline size_t scalar_lf(const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n && p[i] != '\n') i++;
    return i;
}

/// Whether the k-byte token at p is `lower` (lowercase) in any case: OR 0x20
/// lowercases letters and maps no other tchar onto a letter or '-'.
static inline __attribute__((always_inline)) int is_name(const uint8_t *p, const char *lower, size_t k) {
    size_t i = 0;
    for (; i + 8 <= k; i += 8) {
        uint64_t a, b;
        memcpy(&a, p + i, 8);
        memcpy(&b, lower + i, 8);
        if ((a | 0x2020202020202020ull) != b) return 0;
    }
    for (; i < k; i++) if ((p[i] | 0x20) != (uint8_t)lower[i]) return 0;
    return 1;
}

/// Whether every byte is a Host value byte (scalar).
static inline int host_valid_scalar(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) if (!(byte_class[p[i]] & HOST)) return 0;
    return 1;
}

/// Records what the caller needs of field `index` (see cswitchyard_head),
/// checking a Host value with HOST_VALID (the variant's).
#define NOTE_FIELD(FN, ATTR, HOST_VALID)                                                            \
static inline ATTR __attribute__((always_inline)) void FN(const uint8_t *p, size_t name,   size_t k, size_t start, \
                                                             size_t length, cswitchyard_head *head, size_t index) { \
    const uint8_t *q = p + name;                                                                    \
    int special = 0;                                                                                \
    switch (k) {                                                                                    \
    case 4: {                                                                                       \
        uint32_t word; /* "host" in any case, as one word */                                        \
        memcpy(&word, q, 4);                                                                        \
        if ((word | 0x20202020u) != 0x74736f68u) return;                                            \
        }                                                                                           \
        head->host_count++;                                                                         \
        if (!HOST_VALID(p + start, length)) head->host_invalid = 1;                                 \
        return;                                                                                     \
    case 6: special = is_name(q, "expect", 6); break;                                               \
    case 10: special = is_name(q, "connection", 10); break;                                         \
    case 14: special = is_name(q, "content-length", 14); break;                                     \
    case 17: special = is_name(q, "transfer-encoding", 17); break;                                  \
    default: return;                                                                                \
    }                                                                                               \
    if (!special) return;                                                                           \
    if (index < 64) head->special |= 1ull << index;                                                 \
    else head->special_overflow = 1;                                                                \
}

NOTE_FIELD(note_field_scalar, , host_valid_scalar)

// The whole-head fast path (see the header): one pass over a complete head
// of the common shape, with the variant's scanners inlined. Anything else
// returns 0 and the incremental parser takes the bytes instead, so this only
// needs to accept a subset of what that parser accepts and to record what it
// would record: the limits are checked as it checks them, per line.
//
// One body (PARSE_HEAD) for every variant, over two line readers: the
// request line's method and target, and one field line. SCANNER_LINES
// builds them from a variant's scanners; the AVX2 variant puts one-load
// readers in front of its scanner-built ones.
#define SCANNER_LINES(SUFFIX, ATTR, TOKEN_RUN, TARGET_RUN, VALUE_RUN)                                   \
    /* Request line up to the version: token SP "/"target; the method and                               \
       target lengths and the '?' offset in the target (its length if none). */                         \
    static inline ATTR __attribute__((always_inline)) int request_line_##SUFFIX(                        \
        const uint8_t *p, size_t n, size_t *method, size_t *target, size_t *query) {                    \
        size_t m = TOKEN_RUN(p, n);                                                                     \
        if (m == 0 || m + 1 >= n || p[m] != ' ' || p[m + 1] != '/') return 0;                           \
        size_t t = TARGET_RUN(p + m + 1, n - m - 1);                                                    \
        size_t q = 0;                                                                                   \
        while (q < t && p[m + 1 + q] != '?') q++;                                                       \
        *method = m;                                                                                    \
        *target = t;                                                                                    \
        *query = q;                                                                                     \
        return 1;                                                                                       \
    }                                                                                                   \
    /* Field line at `line`: token ":" OWS value CRLF; absolute offsets of the                          \
       value's start, its end before trailing whitespace, and the CR. */                                \
    static inline ATTR __attribute__((always_inline)) int field_line_##SUFFIX(                          \
        const uint8_t *p, size_t n, size_t line, size_t *name_length, size_t *value_start, size_t *value_end, \
        size_t *cr) {                                                                                   \
        size_t k = TOKEN_RUN(p + line, n - line);                                                       \
        if (k == 0 || line + k >= n || p[line + k] != ':') return 0;                                    \
        size_t start = line + k + 1;                                                                    \
        while (start < n && (p[start] == ' ' || p[start] == '\t')) start++;                             \
        size_t end = start + VALUE_RUN(p + start, n - start); /* stops at the CR */                     \
        if (end + 1 >= n || p[end] != '\r' || p[end + 1] != '\n') return 0;                             \
        size_t trimmed = end;                                                                           \
        while (trimmed > start && (p[trimmed - 1] == ' ' || p[trimmed - 1] == '\t')) trimmed--;         \
        *name_length = k;                                                                               \
        *value_start = start;                                                                           \
        *value_end = trimmed;                                                                           \
        *cr = end;                                                                                      \
        return 1;                                                                                       \
    }

// The field section of PARSE_HEAD from `section` on; CHECKED says whether
// the per-line limits must be checked (see there).
#define FIELD_LINES(FIELD_LINE, NOTE, CHECKED)                                                          \
        size_t line = section, count = 0;                                                               \
        for (;;) {                                                                                      \
            if (line + 1 < n && p[line] == '\r' && p[line + 1] == '\n') {                               \
                if (CHECKED && line + 2 - section > max_header_bytes + 2) return 0;                     \
                head->field_count = (uint32_t)count;                                                    \
                head->head_length = (uint32_t)(line + 2);                                               \
                return 1;                                                                               \
            }                                                                                           \
            if (line >= n) return 0;                                                                    \
            size_t k, start, trimmed, end;                                                              \
            if (!FIELD_LINE(p, n, line, &k, &start, &trimmed, &end)) return 0;                          \
            if (CHECKED && (end - line > max_field_bytes || end + 2 - section > max_header_bytes + 2))  \
                return 0;                                                                               \
            if (count >= max_fields) return 0;                                                          \
            fields[count].name_start = (uint32_t)line;                                                  \
            fields[count].name_length = (uint32_t)k;                                                    \
            fields[count].value_start = (uint32_t)start;                                                \
            fields[count].value_length = (uint32_t)(trimmed - start);                                   \
            NOTE(p, line, k, start, trimmed - start, head, count);                                      \
            count++;                                                                                    \
            line = end + 2;                                                                             \
        }

#define PARSE_HEAD(name, ATTR, REQUEST_LINE, FIELD_LINE, NOTE)                                          \
    ATTR int name(const uint8_t *p, size_t n, size_t max_request_line, size_t max_field_bytes,          \
                  size_t max_header_bytes, size_t max_fields, cswitchyard_field *fields,                \
                  cswitchyard_head *head) {                                                             \
        if (n == 0) return 0; /* and no load: p may start a page that holds no input */                 \
        size_t m, t, q;                                                                                 \
        if (!REQUEST_LINE(p, n, &m, &t, &q)) return 0;                                                  \
        size_t v = m + 1 + t; /* the SP before the version */                                           \
        if (v + 11 > n || p[v] != ' ') return 0;                                                        \
        uint64_t version; /* "HTTP/1." as one word, the minor digit apart */                            \
        memcpy(&version, p + v + 1, 8);                                                                 \
        if ((version & 0x00ffffffffffffffull) != 0x002e312f50545448ull) return 0;                       \
        if ((p[v + 8] != '0' && p[v + 8] != '1') || p[v + 9] != '\r' || p[v + 10] != '\n') return 0;    \
        if (v + 9 > max_request_line) return 0;                                                         \
        head->method_length = (uint32_t)m;                                                              \
        head->target_length = (uint32_t)t;                                                              \
        head->query_offset = (uint32_t)q;                                                               \
        head->minor = (uint32_t)(p[v + 8] - '0');                                                       \
        head->host_count = head->host_invalid = head->special_overflow = 0;                             \
        head->special = 0;                                                                              \
        size_t section = v + 11;                                                                        \
        /* Input no longer than either limit cannot hold a line or a section                           \
           over it: a copy of the loop without the per-line limit checks                               \
           (and with fewer values live across it) serves that common case. */                          \
        if (n <= max_field_bytes && n <= max_header_bytes) {                                            \
            FIELD_LINES(FIELD_LINE, NOTE, 0)                                                            \
        } else {                                                                                        \
            FIELD_LINES(FIELD_LINE, NOTE, 1)                                                            \
        }                                                                                               \
    }

size_t cswitchyard_token_run_scalar(const uint8_t *p, size_t n) { return scalar_run(p, n, TOKEN); }
size_t cswitchyard_target_run_scalar(const uint8_t *p, size_t n) { return scalar_run(p, n, TARGET); }
size_t cswitchyard_value_run_scalar(const uint8_t *p, size_t n) { return scalar_run(p, n, VALUE); }
size_t cswitchyard_find_lf_scalar(const uint8_t *p, size_t n) { return scalar_lf(p, n); }

static inline size_t token_run_scalar(const uint8_t *p, size_t n) { return scalar_run(p, n, TOKEN); }
static inline size_t target_run_scalar(const uint8_t *p, size_t n) { return scalar_run(p, n, TARGET); }
static inline size_t value_run_scalar(const uint8_t *p, size_t n) { return scalar_run(p, n, VALUE); }
SCANNER_LINES(scalar, , token_run_scalar, target_run_scalar, value_run_scalar)
PARSE_HEAD(cswitchyard_parse_head_scalar, , request_line_scalar, field_line_scalar, note_field_scalar)

#if defined(__x86_64__)

unsigned cswitchyard_cpu_features(void) {
    unsigned a, b, c, d, features = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (c & bit_SSE4_2) features |= CSWITCHYARD_CPU_SSE42;
    // AVX2 needs the OS to save the YMM registers (OSXSAVE, then XCR0 bits 1-2).
    if ((c & bit_OSXSAVE) && (c & bit_AVX)) {
        unsigned lo, hi;
        __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        if ((lo & 6) == 6 && __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_AVX2))
            features |= CSWITCHYARD_CPU_AVX2;
    }
    return features;
}

/// Bytes from q to the end of its page: a load of at most this many is safe.
static inline size_t page_room(const uint8_t *q) { return 4096 - ((uintptr_t)q & 4095); }

// MARK: SSE4.2

// Ranges of bytes a run may hold ([low, high] pairs, at most eight).
static const char token_ranges[16] = "!!#'*+-.09AZ^z||";  // all of tchar but '~'
static const char target_ranges[16] = "!!$;==?[]]__az~~";  // exact
static const char value_ranges[16] = "\t\t ~\x80\xff";      // exact

#define SSE42_RUN(name, allowed, allowed_length, bit)                                                   \
    static inline __attribute__((target("sse4.2"), always_inline)) size_t name(const uint8_t *p, size_t n) { \
        const __m128i ranges = _mm_loadu_si128((const __m128i *)allowed);                             \
        size_t i = 0;                                                                               \
        while (i < n) {                                                                             \
            const uint8_t *q = p + i;                                                               \
            if (page_room(q) < 16) {                                                                \
                size_t stop = n - i < page_room(q) ? n - i : page_room(q);                          \
                size_t k = scalar_run(q, stop, bit);                                                \
                if (k < stop) return i + k;                                                         \
                i += stop;                                                                          \
                continue;                                                                           \
            }                                                                                       \
            int k = _mm_cmpestri(ranges, allowed_length, _mm_loadu_si128((const __m128i *)q), 16,     \
                                 _SIDD_UBYTE_OPS | _SIDD_CMP_RANGES | _SIDD_NEGATIVE_POLARITY);    \
            if (k == 16) { i += 16; continue; }                                                     \
            if (i + (size_t)k >= n) return n;                                                       \
            if (!(byte_class[q[k]] & bit)) return i + (size_t)k;                                    \
            i += (size_t)k + 1; /* an allowed byte outside the ranges ('~' in a token) */          \
        }                                                                                           \
        return n;                                                                                   \
    }

SSE42_RUN(token_run_sse42, token_ranges, 16, TOKEN)
SSE42_RUN(target_run_sse42, target_ranges, 16, TARGET)
SSE42_RUN(value_run_sse42, value_ranges, 6, VALUE)

__attribute__((target("sse4.2"))) size_t cswitchyard_token_run_sse42(const uint8_t *p, size_t n) { return token_run_sse42(p, n); }
__attribute__((target("sse4.2"))) size_t cswitchyard_target_run_sse42(const uint8_t *p, size_t n) { return target_run_sse42(p, n); }
__attribute__((target("sse4.2"))) size_t cswitchyard_value_run_sse42(const uint8_t *p, size_t n) { return value_run_sse42(p, n); }
SCANNER_LINES(sse42, __attribute__((target("sse4.2"))), token_run_sse42, target_run_sse42, value_run_sse42)
PARSE_HEAD(cswitchyard_parse_head_sse42, __attribute__((target("sse4.2"))), request_line_sse42, field_line_sse42,
           note_field_scalar)

__attribute__((target("sse4.2"))) size_t cswitchyard_find_lf_sse42(const uint8_t *p, size_t n) {
    const __m128i lf = _mm_set1_epi8('\n');
    size_t i = 0;
    while (i < n) {
        const uint8_t *q = p + i;
        if (page_room(q) < 16) {
            size_t stop = n - i < page_room(q) ? n - i : page_room(q);
            size_t k = scalar_lf(q, stop);
            if (k < stop) return i + k;
            i += stop;
            continue;
        }
        unsigned hits = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)q), lf));
        if (hits) {
            size_t k = i + (size_t)__builtin_ctz(hits);
            return k < n ? k : n;
        }
        i += 16;
    }
    return n;
}

// MARK: AVX2

#define NIBBLES(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p) \
    _mm256_setr_epi8(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p)

#define AVX2_RUN(name, lo_row, hi_row, bit)                                                         \
    static inline __attribute__((target("avx2"), always_inline)) size_t name(const uint8_t *p, size_t n) { \
        const __m256i lo_table = lo_row, hi_table = hi_row;                                         \
        const __m256i nibble = _mm256_set1_epi8(0x0f), zero = _mm256_setzero_si256();               \
        size_t i = 0;                                                                               \
        while (i < n) {                                                                             \
            const uint8_t *q = p + i;                                                               \
            if (page_room(q) < 32) {                                                                \
                size_t stop = n - i < page_room(q) ? n - i : page_room(q);                          \
                size_t k = scalar_run(q, stop, bit);                                                \
                if (k < stop) return i + k;                                                         \
                i += stop;                                                                          \
                continue;                                                                           \
            }                                                                                       \
            __m256i v = _mm256_loadu_si256((const __m256i *)q);                                     \
            __m256i lo = _mm256_shuffle_epi8(lo_table, _mm256_and_si256(v, nibble));                \
            __m256i hi = _mm256_shuffle_epi8(hi_table, _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble)); \
            unsigned outside = (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_and_si256(lo, hi), zero)); \
            if (outside) {                                                                          \
                size_t k = i + (size_t)__builtin_ctz(outside);                                      \
                return k < n ? k : n;                                                               \
            }                                                                                       \
            i += 32;                                                                                \
        }                                                                                           \
        return n;                                                                                   \
    }

AVX2_RUN(token_run_avx2,
         NIBBLES(0x3a, 0x3f, 0x3e, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3e, 0x3e, 0x3d, 0x15, 0x34, 0x15, 0x3d, 0x1c),
         NIBBLES(0x00, 0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00),
         TOKEN)
AVX2_RUN(target_run_avx2,
         NIBBLES(0x16, 0x1f, 0x1e, 0x1e, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x0f, 0x0d, 0x0f, 0x1d, 0x0f),
         NIBBLES(0x00, 0x00, 0x01, 0x02, 0x04, 0x02, 0x08, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00),
         TARGET)
AVX2_RUN(value_run_avx2,
         NIBBLES(0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x07, 0x06, 0x06, 0x06, 0x06, 0x06, 0x02),
         NIBBLES(0x01, 0x00, 0x02, 0x02, 0x02, 0x02, 0x02, 0x04, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02),
         VALUE)

__attribute__((target("avx2"))) size_t cswitchyard_token_run_avx2(const uint8_t *p, size_t n) { return token_run_avx2(p, n); }
__attribute__((target("avx2"))) size_t cswitchyard_target_run_avx2(const uint8_t *p, size_t n) { return target_run_avx2(p, n); }
__attribute__((target("avx2"))) size_t cswitchyard_value_run_avx2(const uint8_t *p, size_t n) { return value_run_avx2(p, n); }

// The AVX2 head parser reads a field line of up to 32 bytes with one load:
// the nibbles are split once and four lookups give the token, value, colon
// and whitespace masks, from which the name's end, the value's bounds and
// the CR come out as bit scans. A longer line (or one near a page end)
// takes the per-scanner path of the other variants.
#define TOKEN_LO NIBBLES(0x3a, 0x3f, 0x3e, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3e, 0x3e, 0x3d, 0x15, 0x34, 0x15, 0x3d, 0x1c)
#define TOKEN_HI NIBBLES(0x00, 0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00)
#define TARGET_LO NIBBLES(0x16, 0x1f, 0x1e, 0x1e, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x0f, 0x0d, 0x0f, 0x1d, 0x0f)
#define TARGET_HI NIBBLES(0x00, 0x00, 0x01, 0x02, 0x04, 0x02, 0x08, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00)

// The token and value nibble tables again, as memory (one load each, kept in
// registers across lines), both 128-bit lanes alike.
#define ROW16(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p) a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p
static const uint8_t line_tables[4][32] __attribute__((aligned(32))) = {
    {ROW16(0x3a, 0x3f, 0x3e, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3e, 0x3e, 0x3d, 0x15, 0x34, 0x15, 0x3d, 0x1c)},
    {ROW16(0x00, 0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00)},
    {ROW16(0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x06, 0x07, 0x06, 0x06, 0x06, 0x06, 0x06, 0x02)},
    {ROW16(0x01, 0x00, 0x02, 0x02, 0x02, 0x02, 0x02, 0x04, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02)},
};
typedef struct { __m256i token_lo, token_hi, value_lo, value_hi; } line_tables_avx2;

static const uint8_t host_tables[2][32] __attribute__((aligned(32))) = {
    {ROW16(0x1a, 0x1f, 0x1e, 0x1e, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x1f, 0x0f, 0x05, 0x0f, 0x15, 0x0c)},
    {ROW16(0x00, 0x00, 0x01, 0x02, 0x04, 0x08, 0x04, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00)},
};

/// Whether every byte is a Host value byte: one nibble lookup for up to 32.
static inline __attribute__((target("avx2"), always_inline)) int host_valid_avx2(const uint8_t *p, size_t n) {
    if (n == 0 || n > 32 || page_room(p) < 32) return host_valid_scalar(p, n);
    const __m256i nibble = _mm256_set1_epi8(0x0f);
    __m256i v = _mm256_loadu_si256((const __m256i *)p);
    __m256i lo = _mm256_shuffle_epi8(_mm256_load_si256((const __m256i *)host_tables[0]), _mm256_and_si256(v, nibble));
    __m256i hi = _mm256_shuffle_epi8(_mm256_load_si256((const __m256i *)host_tables[1]),
                                     _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble));
    uint32_t outside = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_and_si256(lo, hi), _mm256_setzero_si256()));
    uint32_t within = n == 32 ? 0xffffffffu : (1u << n) - 1;
    return (outside & within) == 0;
}

NOTE_FIELD(note_field_avx2, __attribute__((target("avx2"))), host_valid_avx2)

/// One field line in one 32-byte block at q (avail bytes of input from q).
/// Returns 1 and the line's parts when it fits and is well formed; 2 with
/// the name's length and the value's start when the value runs past the
/// block; 0 to fall back (a long name, near a page end); -1 when it is not
/// a line the fast path accepts.
static inline __attribute__((target("avx2"), always_inline)) int
field_line_avx2(const line_tables_avx2 *tables, const uint8_t *q, size_t avail, size_t *name_length,
                size_t *value_start, size_t *value_end, size_t *cr) {
    if (page_room(q) < 32) return 0;
    const __m256i nibble = _mm256_set1_epi8(0x0f), zero = _mm256_setzero_si256();
    __m256i v = _mm256_loadu_si256((const __m256i *)q);
    __m256i lo = _mm256_and_si256(v, nibble), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble);
    uint32_t not_token = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(
        _mm256_and_si256(_mm256_shuffle_epi8(tables->token_lo, lo), _mm256_shuffle_epi8(tables->token_hi, hi)), zero));
    uint32_t not_value = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(
        _mm256_and_si256(_mm256_shuffle_epi8(tables->value_lo, lo), _mm256_shuffle_epi8(tables->value_hi, hi)), zero));
    uint32_t blank = (uint32_t)_mm256_movemask_epi8(_mm256_or_si256(
        _mm256_cmpeq_epi8(v, _mm256_set1_epi8(' ')), _mm256_cmpeq_epi8(v, _mm256_set1_epi8('\t'))));
    if (not_token == 0) return 0;  // the name runs past the block
    size_t k = (size_t)__builtin_ctz(not_token);
    if (k >= avail) return -1;      // the input ends inside the name
    if (k == 0 || q[k] != ':') return -1;
    // The value starts after the colon's whitespace; the first byte that is
    // not a value byte ends it (a CR, for a well-formed line).
    uint64_t after_colon = ~0ull << (k + 1);
    uint64_t nonblank = ~(uint64_t)blank & 0xffffffffull;
    uint64_t start_bits = nonblank & after_colon;
    size_t start = start_bits ? (size_t)__builtin_ctzll(start_bits) : 32;
    uint64_t stops = (uint64_t)not_value & after_colon;
    if (stops == 0) {
        // The value runs past the block: its name and start are known, so
        // the caller goes on scanning from the block's end.
        if (start >= 32) return 0;
        *name_length = k;
        *value_start = start;
        return 2;
    }
    size_t end = (size_t)__builtin_ctzll(stops);
    if (start > end) start = end;   // an empty value: whitespace up to the CR
    if (end + 1 >= avail) return -1;
    if (q[end] != '\r' || q[end + 1] != '\n') return -1;
    // Trailing whitespace: the last non-blank byte before the CR. Usually
    // the byte before the CR is not blank, and the value ends at the CR.
    if (end > start && !((blank >> (end - 1)) & 1)) {
        *value_end = end;
    } else {
        uint64_t inside = nonblank & ((1ull << end) - 1) & (~0ull << start);
        *value_end = inside ? 64 - (size_t)__builtin_clzll(inside) : start;
    }
    *name_length = k;
    *value_start = start;
    *cr = end;
    return 1;
}

SCANNER_LINES(avx2_scanned, __attribute__((target("avx2"))), token_run_avx2, target_run_avx2, value_run_avx2)

/// The request line's method, target and '?' from one load of its first 32
/// bytes; a longer method or target, or a load near a page end, takes the
/// scanners.
static inline __attribute__((target("avx2"), always_inline)) int
request_line_avx2(const uint8_t *p, size_t n, size_t *method, size_t *target, size_t *query) {
    if (page_room(p) < 32) return request_line_avx2_scanned(p, n, method, target, query);
    const __m256i nibble = _mm256_set1_epi8(0x0f), zero = _mm256_setzero_si256();
    __m256i v = _mm256_loadu_si256((const __m256i *)p);
    __m256i lo = _mm256_and_si256(v, nibble), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble);
    uint64_t not_token = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(
        _mm256_and_si256(_mm256_shuffle_epi8(TOKEN_LO, lo), _mm256_shuffle_epi8(TOKEN_HI, hi)), zero));
    uint64_t not_target = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(
        _mm256_and_si256(_mm256_shuffle_epi8(TARGET_LO, lo), _mm256_shuffle_epi8(TARGET_HI, hi)), zero));
    uint64_t marks = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('?')));
    size_t m = not_token ? (size_t)__builtin_ctzll(not_token) : token_run_avx2(p, n);
    if (m == 0 || m + 1 >= n || p[m] != ' ' || p[m + 1] != '/') return 0;
    // A method of 31 bytes or more: the target starts past the block.
    uint64_t from_target = m + 1 < 32 ? ~0ull << (m + 1) : 0;
    uint64_t stops = not_target & from_target & 0xffffffffull;
    size_t t, q;
    if (stops) {
        size_t end = (size_t)__builtin_ctzll(stops);
        t = (end < n ? end : n) - (m + 1);
        uint64_t in_target = marks & from_target & ((1ull << end) - 1);
        q = in_target ? (size_t)__builtin_ctzll(in_target) - (m + 1) : t;
    } else {
        t = target_run_avx2(p + m + 1, n - m - 1);
        q = 0;
        while (q < t && p[m + 1 + q] != '?') q++;
    }
    *method = m;
    *target = t;
    *query = q;
    return 1;
}

/// A field line from one load when it fits the block (or its value just
/// runs on past it); otherwise the scanners.
static inline __attribute__((target("avx2"), always_inline)) int
field_line_avx2_full(const uint8_t *p, size_t n, size_t line, size_t *name_length, size_t *value_start,
                     size_t *value_end, size_t *cr) {
    const line_tables_avx2 tables = {
        _mm256_load_si256((const __m256i *)line_tables[0]), _mm256_load_si256((const __m256i *)line_tables[1]),
        _mm256_load_si256((const __m256i *)line_tables[2]), _mm256_load_si256((const __m256i *)line_tables[3])};
    size_t k, start, trimmed, end;
    int fit = field_line_avx2(&tables, p + line, n - line, &k, &start, &trimmed, &end);
    if (fit < 0) return 0;
    if (fit == 0) return field_line_avx2_scanned(p, n, line, name_length, value_start, value_end, cr);
    start += line;
    if (fit == 2) {
        // A long value: bytes [start, line + 32) are value bytes already.
        if (line + 32 >= n) return 0;  // the input ends inside it
        end = line + 32 + value_run_avx2(p + line + 32, n - line - 32);
        if (end + 1 >= n || p[end] != '\r' || p[end + 1] != '\n') return 0;
        trimmed = end;
        while (trimmed > start && (p[trimmed - 1] == ' ' || p[trimmed - 1] == '\t')) trimmed--;
    } else {
        trimmed += line;
        end += line;
    }
    *name_length = k;
    *value_start = start;
    *value_end = trimmed;
    *cr = end;
    return 1;
}

PARSE_HEAD(cswitchyard_parse_head_avx2, __attribute__((target("avx2"))), request_line_avx2, field_line_avx2_full,
           note_field_avx2)

__attribute__((target("avx2"))) size_t cswitchyard_find_lf_avx2(const uint8_t *p, size_t n) {
    const __m256i lf = _mm256_set1_epi8('\n');
    size_t i = 0;
    while (i < n) {
        const uint8_t *q = p + i;
        if (page_room(q) < 32) {
            size_t stop = n - i < page_room(q) ? n - i : page_room(q);
            size_t k = scalar_lf(q, stop);
            if (k < stop) return i + k;
            i += stop;
            continue;
        }
        unsigned hits = (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)q), lf));
        if (hits) {
            size_t k = i + (size_t)__builtin_ctz(hits);
            return k < n ? k : n;
        }
        i += 32;
    }
    return n;
}

#else  // not x86-64: the scalar scanners stand in for the SIMD ones.

unsigned cswitchyard_cpu_features(void) { return 0; }
size_t cswitchyard_token_run_sse42(const uint8_t *p, size_t n) { return scalar_run(p, n, TOKEN); }
size_t cswitchyard_target_run_sse42(const uint8_t *p, size_t n) { return scalar_run(p, n, TARGET); }
size_t cswitchyard_value_run_sse42(const uint8_t *p, size_t n) { return scalar_run(p, n, VALUE); }
size_t cswitchyard_find_lf_sse42(const uint8_t *p, size_t n) { return scalar_lf(p, n); }
size_t cswitchyard_token_run_avx2(const uint8_t *p, size_t n) { return scalar_run(p, n, TOKEN); }
size_t cswitchyard_target_run_avx2(const uint8_t *p, size_t n) { return scalar_run(p, n, TARGET); }
size_t cswitchyard_value_run_avx2(const uint8_t *p, size_t n) { return scalar_run(p, n, VALUE); }
size_t cswitchyard_find_lf_avx2(const uint8_t *p, size_t n) { return scalar_lf(p, n); }
PARSE_HEAD(cswitchyard_parse_head_sse42, , request_line_scalar, field_line_scalar, note_field_scalar)
PARSE_HEAD(cswitchyard_parse_head_avx2, , request_line_scalar, field_line_scalar, note_field_scalar)

#endif
