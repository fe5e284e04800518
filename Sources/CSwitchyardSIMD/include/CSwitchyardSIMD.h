// Byte scanners for the HTTP/1.1 parser, in three variants: scalar, SSE4.2
// and AVX2. Swift's SIMD types cannot express a byte shuffle or a string
// compare, so this tiny C target does, with each x86 variant compiled for
// its own instruction set through a per-function target attribute: one
// binary runs on any x86-64, and the variant is chosen at run time from
// what the CPU reports (`cswitchyard_cpu_features`).
//
// Every scanner takes the bytes [p, p + n) and returns the length of their
// longest prefix whose bytes all belong to the class (n if all do), or, for
// `find_lf`, the offset of the first LF (n if none). Variants agree on every
// input; the tests check each against the scalar one over every byte.
#ifndef CSWITCHYARD_SIMD_H
#define CSWITCHYARD_SIMD_H

#include <stddef.h>
#include <stdint.h>

#define CSWITCHYARD_CPU_SSE42 1u
#define CSWITCHYARD_CPU_AVX2 2u

/// 256 flags, one per byte value: 1 tchar, 2 field-value byte, 4
/// request-target byte, 8 Host value byte.
extern const uint8_t cswitchyard_byte_class[256];
static inline const uint8_t *cswitchyard_byte_classes(void) { return cswitchyard_byte_class; }

/// The x86 features this CPU has (CSWITCHYARD_CPU_* bits); 0 elsewhere.
unsigned cswitchyard_cpu_features(void);

// tchar (RFC 9110 section 5.6.2): method and field name.
size_t cswitchyard_token_run_scalar(const uint8_t *p, size_t n);
size_t cswitchyard_token_run_sse42(const uint8_t *p, size_t n);
size_t cswitchyard_token_run_avx2(const uint8_t *p, size_t n);

// Request-target bytes (RFC 3986 unreserved, reserved, '%').
size_t cswitchyard_target_run_scalar(const uint8_t *p, size_t n);
size_t cswitchyard_target_run_sse42(const uint8_t *p, size_t n);
size_t cswitchyard_target_run_avx2(const uint8_t *p, size_t n);

// field-value bytes (RFC 9110 section 5.5): HTAB, SP, VCHAR, obs-text.
size_t cswitchyard_value_run_scalar(const uint8_t *p, size_t n);
size_t cswitchyard_value_run_sse42(const uint8_t *p, size_t n);
size_t cswitchyard_value_run_avx2(const uint8_t *p, size_t n);

// The first LF.
size_t cswitchyard_find_lf_scalar(const uint8_t *p, size_t n);
size_t cswitchyard_find_lf_sse42(const uint8_t *p, size_t n);
size_t cswitchyard_find_lf_avx2(const uint8_t *p, size_t n);

// A whole request head of the common shape in one pass: origin-form
// target, HTTP/1.0 or 1.1, field lines `name: value` ending in CRLF, all
// within the limits given. Returns 1 and fills `head` and `fields` (at most
// `max_fields`) when [p, p + n) starts with such a head; 0 otherwise (a
// partial head, anything unusual, any error), and the caller parses the
// bytes with its line-at-a-time parser instead.
typedef struct {
    uint32_t name_start, name_length, value_start, value_length;
} cswitchyard_field;

typedef struct {
    uint32_t method_length;  // the method is [0, method_length)
    uint32_t target_length;  // the target starts at method_length + 1
    uint32_t query_offset;   // offset of '?' in the target, or target_length
    uint32_t minor;          // HTTP/1.minor
    uint32_t field_count;
    uint32_t head_length;    // through the blank line
    // What the caller still has to look at: `Host` lines are counted and
    // their values checked here; Expect, Connection, Content-Length and
    // Transfer-Encoding fields are marked (bit i: field i;
    // `special_overflow` when such a field is past the 64th).
    uint32_t host_count;
    uint32_t host_invalid;
    uint32_t special_overflow;
    uint64_t special;
} cswitchyard_head;

int cswitchyard_parse_head_scalar(const uint8_t *p, size_t n, size_t max_request_line, size_t max_field_bytes,
                                  size_t max_header_bytes, size_t max_fields, cswitchyard_field *fields,
                                  cswitchyard_head *head);
int cswitchyard_parse_head_sse42(const uint8_t *p, size_t n, size_t max_request_line, size_t max_field_bytes,
                                 size_t max_header_bytes, size_t max_fields, cswitchyard_field *fields,
                                 cswitchyard_head *head);
int cswitchyard_parse_head_avx2(const uint8_t *p, size_t n, size_t max_request_line, size_t max_field_bytes,
                                size_t max_header_bytes, size_t max_fields, cswitchyard_field *fields,
                                cswitchyard_head *head);

#endif
