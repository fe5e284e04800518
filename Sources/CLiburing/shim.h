// liburing 2.3 (Debian 12) imported into Swift. Its static inline helpers
// import as they are; this header adds only what 2.3's headers lack (the
// constants of newer kernels, defined by value, probed at run time) and a few
// one-line accessors for fields and macros Swift cannot reach.
#pragma once
// <features.h> first: liburing defines _XOPEN_SOURCE/_GNU_SOURCE, and a clean
// debug build then fails on fd_set without it.
#include <features.h>
#include <errno.h>
#include <string.h>
#include <liburing.h>

// Newer than liburing 2.3's headers (values from the kernel's io_uring.h).
#define SWITCHYARD_IORING_RECVSEND_BUNDLE (1U << 4)      // 6.10, in sqe->ioprio
#define SWITCHYARD_IORING_FEAT_RECVSEND_BUNDLE (1U << 14) // 6.10
#define SWITCHYARD_IORING_FEAT_MIN_TIMEOUT (1U << 15)     // 6.12
#define SWITCHYARD_IOU_PBUF_RING_INC 2                    // 6.12, io_uring_buf_reg.flags
#define SWITCHYARD_IORING_CQE_F_BUF_MORE (1U << 4)        // 6.12

static inline unsigned switchyard_sqe_flag_buffer_select(void) { return IOSQE_BUFFER_SELECT; }
static inline unsigned switchyard_sqe_flag_fixed_file(void) { return IOSQE_FIXED_FILE; }
static inline unsigned switchyard_sqe_flag_cqe_skip_success(void) { return IOSQE_CQE_SKIP_SUCCESS; }

// Registers a provided-buffer ring (liburing 2.3 has no io_uring_setup_buf_ring):
// `ring_memory` is page-aligned and holds `entries` io_uring_buf entries.
// `flags` go to io_uring_buf_reg.flags (SWITCHYARD_IOU_PBUF_RING_INC).
// Returns 0 or -errno.
static inline int switchyard_register_buffer_ring(struct io_uring *ring, void *ring_memory,
                                                  unsigned entries, unsigned short group, unsigned short flags) {
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (unsigned long)ring_memory;
    reg.ring_entries = entries;
    reg.bgid = group;
    // The u16 after bgid is `pad` in 2.3's header and `flags` in newer ones.
    reg.pad = flags;
    return io_uring_register_buf_ring(ring, &reg, 0);
}

// Waits for at least `wait_nr` completions like io_uring_submit_and_wait_timeout,
// and, where the kernel has IORING_FEAT_MIN_TIMEOUT (6.12), lets it gather
// completions for up to `min_wait_usec` before waking (batching). liburing
// 2.3 has no io_uring_submit_and_wait_min_timeout; its getevents_arg has the
// field as `pad`. Returns the number submitted or -errno (-ETIME on timeout).
static inline int switchyard_submit_and_wait(struct io_uring *ring, unsigned wait_nr, long long timeout_ns, unsigned min_wait_usec) {
    if (min_wait_usec == 0) {
        if (timeout_ns < 0) return io_uring_submit_and_wait(ring, wait_nr);
        struct __kernel_timespec ts = { .tv_sec = timeout_ns / 1000000000LL, .tv_nsec = timeout_ns % 1000000000LL };
        struct io_uring_cqe *cqe = NULL;
        return io_uring_submit_and_wait_timeout(ring, &cqe, wait_nr, &ts, NULL);
    }
    // Flush the SQ the way liburing does, then enter with an extended argument.
    unsigned submitted = io_uring_sq_ready(ring);
    unsigned tail = ring->sq.sqe_tail;
    if (ring->sq.sqe_head != tail) {
        ring->sq.sqe_head = tail;
        io_uring_smp_store_release(ring->sq.ktail, tail);
    }
    struct __kernel_timespec ts = { .tv_sec = timeout_ns / 1000000000LL, .tv_nsec = timeout_ns % 1000000000LL };
    struct io_uring_getevents_arg arg;
    memset(&arg, 0, sizeof arg);
    arg.pad = min_wait_usec;  // min_wait_usec in the kernel's newer struct
    arg.ts = timeout_ns < 0 ? 0 : (unsigned long long)(unsigned long)&ts;
    unsigned flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
    if (ring->int_flags & 1 /* INT_FLAG_REG_RING */) flags |= IORING_ENTER_REGISTERED_RING;
    int ret = io_uring_enter2(ring->enter_ring_fd, submitted, wait_nr, flags, (sigset_t *)&arg, sizeof arg);
    return ret;
}
