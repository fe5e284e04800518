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

#endif
