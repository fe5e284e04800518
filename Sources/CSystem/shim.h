// Linux interfaces that `import Glibc` does not bring in: Swift's Glibc module
// is built without _GNU_SOURCE, so GNU extensions are missing, and epoll is
// not part of it at all. Declaring them here is all that is needed: no C code.
#pragma once
#include <features.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

extern int pthread_setname_np(pthread_t thread, const char *name);
extern int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags);

// io_uring_setup has no glibc wrapper, and Swift cannot call the variadic
// syscall(2). A sweep's metadata records the kernel's io_uring features, so
// it needs to ask the kernel directly: set up a tiny ring, read the feature
// bits, close it. Returns the feature mask, or -errno when io_uring is
// unavailable (ENOSYS: not built in; EPERM: disabled by sysctl or seccomp).
// <linux/io_uring.h> is not included: liburing ships its own copy of it
// (module CLiburing), and clang refuses two definitions of its structs in one
// program. The parameters are read by offset instead: struct io_uring_params
// is 120 bytes with `features` at byte 20 (a stable kernel ABI).
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline long switchyard_io_uring_features(void) {
#ifdef __NR_io_uring_setup
    uint32_t params[30];
    memset(params, 0, sizeof params);
    long fd = syscall(__NR_io_uring_setup, 4, params);
    if (fd < 0) return -errno;
    close((int)fd);
    return (long)params[5];
#else
    return -ENOSYS;
#endif
}

// prctl(2) is variadic, which Swift cannot call. A server started by a sweep
// asks for `signal` when its parent thread exits, so a sweep killed with
// SIGKILL (which it cannot handle) leaves no server behind.
#include <sys/prctl.h>

static inline int switchyard_set_parent_death_signal(int signal) {
    return prctl(PR_SET_PDEATHSIG, (unsigned long)signal, 0UL, 0UL, 0UL);
}
