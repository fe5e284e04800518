// LD_PRELOAD shim: counts malloc-family calls in a running server and prints
// the running total to stderr on SIGUSR2 ("malloc-count: N"). Built by
// experiments/allocations.sh with `cc -shared -fPIC`.
#define _GNU_SOURCE
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static uint64_t calls;
static inline void count(void) { __atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED); }

void *malloc(size_t n) { count(); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { count(); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { count(); return __libc_realloc(p, n); }
void *memalign(size_t a, size_t n) { count(); return __libc_memalign(a, n); }
void *aligned_alloc(size_t a, size_t n) { count(); return __libc_memalign(a, n); }
int posix_memalign(void **out, size_t a, size_t n) {
    count();
    void *p = __libc_memalign(a, n);
    if (!p) return 12;
    *out = p;
    return 0;
}

// Async-signal-safe: formats by hand and uses write(2) only.
static void report(int sig) {
    (void)sig;
    char text[48] = "malloc-count: ";
    char digits[24];
    int n = 0;
    uint64_t v = __atomic_load_n(&calls, __ATOMIC_RELAXED);
    do { digits[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    int k = 14;
    while (n) text[k++] = digits[--n];
    text[k++] = '\n';
    (void)!write(2, text, (size_t)k);
}

__attribute__((constructor)) static void install(void) { signal(SIGUSR2, report); }
