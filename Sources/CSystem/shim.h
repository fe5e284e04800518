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
// <malloc.h>: hands the allocator's free pages back to the kernel (a pool's decay).
extern int malloc_trim(size_t pad);

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

// recv, send and epoll_wait without glibc's cancellation-point wrappers.
// glibc brackets each of these calls with __pthread_enable_asynccancel and
// __pthread_disable_asynccancel for pthread_cancel(3), which nothing in
// Switchyard uses: about 30 instructions per call, three calls per
// keep-alive request on epoll (callgrind). These issue the system call
// directly and set errno as the wrappers do. Elsewhere than x86-64 they
// are the libc calls.
#include <sys/types.h>

#if defined(__x86_64__)
static inline long switchyard_syscall6(long number, long a1, long a2, long a3, long a4, long a5, long a6) {
    long result;
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    register long r9 __asm__("r9") = a6;
    __asm__ volatile("syscall"
                     : "=a"(result)
                     : "a"(number), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return result;
}

static inline long switchyard_syscall_result(long result) {
    if (result < 0 && result > -4096) {
        errno = (int)-result;
        return -1;
    }
    return result;
}

static inline ssize_t switchyard_recv(int fd, void *buffer, size_t length, int flags) {
    return switchyard_syscall_result(switchyard_syscall6(SYS_recvfrom, fd, (long)buffer, (long)length, flags, 0, 0));
}

static inline ssize_t switchyard_send(int fd, const void *buffer, size_t length, int flags) {
    return switchyard_syscall_result(switchyard_syscall6(SYS_sendto, fd, (long)buffer, (long)length, flags, 0, 0));
}

static inline int switchyard_epoll_wait(int epfd, struct epoll_event *events, int capacity, int timeout) {
    return (int)switchyard_syscall_result(
        switchyard_syscall6(SYS_epoll_wait, epfd, (long)events, capacity, timeout, 0, 0));
}
#else
static inline ssize_t switchyard_recv(int fd, void *buffer, size_t length, int flags) {
    return recv(fd, buffer, length, flags);
}
static inline ssize_t switchyard_send(int fd, const void *buffer, size_t length, int flags) {
    return send(fd, buffer, length, flags);
}
static inline int switchyard_epoll_wait(int epfd, struct epoll_event *events, int capacity, int timeout) {
    return epoll_wait(epfd, events, capacity, timeout);
}
#endif

// A stopping server's listening socket: new connection attempts (TCP
// segments with SYN and without ACK) are dropped by a socket filter, while
// the handshakes already under way complete into the accept queue, which the
// drain then empties before closing the socket. A client whose SYN is
// dropped retransmits it and, once the socket is closed, is refused; without
// this, a client could complete its handshake between the drain's last
// accept and the close, and be reset after sending its request. A filter on
// a TCP socket sees the segment from its TCP header on: byte 13 holds the
// flags. Returns 0 or -1 (errno set).
#include <linux/filter.h>
static inline int switchyard_refuse_new_connections(int fd) {
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 13),              // the TCP flags
        BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x12),           // SYN | ACK
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x02, 0, 1),     // SYN alone?
        BPF_STMT(BPF_RET | BPF_K, 0),                        // drop
        BPF_STMT(BPF_RET | BPF_K, 0xffffffff),               // keep, whole
    };
    struct sock_fprog program = { .len = sizeof(code) / sizeof(code[0]), .filter = code };
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof(program));
}

// Attaches a classic BPF program to a SO_REUSEPORT group through one of its
// sockets (SO_ATTACH_REUSEPORT_CBPF, Linux 4.6 for TCP): for each new
// connection the program returns the index, in joining order, of the
// listener that gets it; an index past the group falls back to the kernel's
// hash. Returns 0 or -1 (errno set). The program is copied by the kernel.
static inline int switchyard_attach_reuseport_program(int fd, struct sock_filter *code, unsigned short count) {
    struct sock_fprog program = { .len = count, .filter = code };
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &program, sizeof(program));
}

// Process mode, load-aware accept across workers: an accepted socket is
// handed to another worker's acceptor over a Unix datagram socket, with
// SCM_RIGHTS, and a 32-bit tag (the loop it goes to). Returns 0 or -1
// (errno set); the sender still owns `fd` and closes its copy.
#include <sys/un.h>
static inline int switchyard_send_descriptor(int sock, const char *path, int fd, uint32_t tag) {
    struct sockaddr_un to;
    memset(&to, 0, sizeof(to));
    to.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(to.sun_path)) { errno = ENAMETOOLONG; return -1; }
    strcpy(to.sun_path, path);
    struct iovec part = { .iov_base = &tag, .iov_len = sizeof(tag) };
    union { char bytes[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
    memset(&control, 0, sizeof(control));
    struct msghdr message = { .msg_name = &to, .msg_namelen = sizeof(to), .msg_iov = &part, .msg_iovlen = 1,
                              .msg_control = control.bytes, .msg_controllen = sizeof(control.bytes) };
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(header), &fd, sizeof(int));
    return sendmsg(sock, &message, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)sizeof(tag) ? 0 : -1;
}

// The other side: a descriptor (close-on-exec) and its tag, or -1 (errno
// set; EAGAIN when nothing waits). A message without a descriptor is -1, EBADMSG.
static inline int switchyard_receive_descriptor(int sock, uint32_t *tag) {
    struct iovec part = { .iov_base = tag, .iov_len = sizeof(*tag) };
    union { char bytes[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
    struct msghdr message = { .msg_iov = &part, .msg_iovlen = 1, .msg_control = control.bytes,
                              .msg_controllen = sizeof(control.bytes) };
    ssize_t count = recvmsg(sock, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (count < 0) return -1;
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    if (count != (ssize_t)sizeof(*tag) || header == NULL || header->cmsg_type != SCM_RIGHTS) {
        if (header != NULL && header->cmsg_type == SCM_RIGHTS) { int stray; memcpy(&stray, CMSG_DATA(header), sizeof(int)); close(stray); }
        errno = EBADMSG;
        return -1;
    }
    int fd;
    memcpy(&fd, CMSG_DATA(header), sizeof(int));
    return fd;
}

// memfd_create through syscall(2): glibc declares it only under _GNU_SOURCE.
static inline int switchyard_memfd(const char *name) {
    return (int)syscall(SYS_memfd_create, name, 1u /* MFD_CLOEXEC */);
}
