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
static inline unsigned switchyard_sqe_flag_io_hardlink(void) { return IOSQE_IO_HARDLINK; }

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

// Submits what is queued and waits for at least `wait_nr` completions, at
// most `timeout_ns` (-1: no limit), in one io_uring_enter with an extended
// argument (IORING_FEAT_EXT_ARG, 5.11, which the probe requires). Where the
// kernel has IORING_FEAT_MIN_TIMEOUT (6.12), `min_wait_usec` lets it gather
// completions that long once one is ready (liburing 2.3 has neither
// io_uring_submit_and_wait_min_timeout nor the field: its getevents_arg
// calls it `pad`). Written out rather than io_uring_submit_and_wait_timeout
// to skip that function's peek-and-retry loop, which the caller's own batch
// reap makes redundant. With SQPOLL, liburing's path (it knows when to wake
// the polling thread). Returns the number submitted or -errno (-ETIME).
static inline int switchyard_submit_and_wait(struct io_uring *ring, unsigned wait_nr, long long timeout_ns, unsigned min_wait_usec) {
    if (ring->flags & IORING_SETUP_SQPOLL) {
        if (timeout_ns < 0) return io_uring_submit_and_wait(ring, wait_nr);
        struct __kernel_timespec ts = { .tv_sec = timeout_ns / 1000000000LL, .tv_nsec = timeout_ns % 1000000000LL };
        struct io_uring_cqe *cqe = NULL;
        return io_uring_submit_and_wait_timeout(ring, &cqe, wait_nr, &ts, NULL);
    }
    // Publish the queued entries the way liburing's flush does; ask the
    // kernel to take every entry it has not consumed yet.
    unsigned tail = ring->sq.sqe_tail;
    if (ring->sq.sqe_head != tail) {
        ring->sq.sqe_head = tail;
        io_uring_smp_store_release(ring->sq.ktail, tail);
    }
    unsigned submitted = tail - *ring->sq.khead;
    struct __kernel_timespec ts = { .tv_sec = timeout_ns / 1000000000LL, .tv_nsec = timeout_ns % 1000000000LL };
    struct io_uring_getevents_arg arg;
    memset(&arg, 0, sizeof arg);
    arg.pad = min_wait_usec;  // min_wait_usec in the kernel's newer struct
    arg.ts = timeout_ns < 0 ? 0 : (unsigned long long)(unsigned long)&ts;
    unsigned flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
    if (ring->int_flags & 1 /* liburing's INT_FLAG_REG_RING */) flags |= IORING_ENTER_REGISTERED_RING;
    int ret = io_uring_enter2(ring->enter_ring_fd, submitted, wait_nr, flags, (sigset_t *)&arg, sizeof arg);
    return ret;
}

// The completions ready now: their count, and the index of the first in
// `*head` (entries are at switchyard_cqe(ring, *head + i)); consume them
// with io_uring_cq_advance. Inline, unlike io_uring_peek_batch_cqe.
static inline unsigned switchyard_cq_ready(struct io_uring *ring, unsigned *head) {
    *head = *ring->cq.khead;
    return io_uring_smp_load_acquire(ring->cq.ktail) - *head;
}

static inline struct io_uring_cqe *switchyard_cqe(struct io_uring *ring, unsigned index) {
    return &ring->cq.cqes[index & ring->cq.ring_mask];
}
