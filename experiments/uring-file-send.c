// How an io_uring loop can send a file range, measured: io_uring has no
// sendfile opcode. Three ways, over one loopback TCP connection (a reader
// thread drains it), each sending the same page-cached file many times in
// 64 KiB pieces, one operation in flight at a time as RingLoop does:
//   read+send   pread into a buffer, then IORING_OP_SEND   (what RingLoop does)
//   splice      IORING_OP_SPLICE file->pipe linked to pipe->socket (io-wq)
//   sendfile    the readiness engines' way, a plain sendfile(2), as reference,
//               in the same 64 KiB pieces and in 1 MiB ones (the engines' chunk)
// Prints GB/s and CPU seconds per GB (user+sys of the whole process, io-wq
// workers included). Build and run: experiments/uring-file-send.sh
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static double cpu(void) {
    struct rusage u; getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}
static void *drain(void *arg) {
    int fd = *(int *)arg; char buf[1 << 16];
    while (read(fd, buf, sizeof buf) > 0) {}
    return NULL;
}

enum { CHUNK = 64 * 1024 };

static long send_readsend(struct io_uring *ring, int file, int sock, long size, char *buf) {
    long sent = 0;
    for (long off = 0; off < size;) {
        ssize_t n = pread(file, buf, CHUNK < size - off ? CHUNK : size - off, off);
        if (n <= 0) return -1;
        ssize_t done = 0;
        while (done < n) {
            struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
            io_uring_prep_send(sqe, sock, buf + done, n - done, MSG_NOSIGNAL);
            io_uring_submit(ring);
            struct io_uring_cqe *cqe; io_uring_wait_cqe(ring, &cqe);
            int r = cqe->res; io_uring_cqe_seen(ring, cqe);
            if (r <= 0) return -1;
            done += r;
        }
        off += n; sent += n;
    }
    return sent;
}

static long send_splice(struct io_uring *ring, int file, int sock, long size, int pipe_r, int pipe_w) {
    long sent = 0;
    for (long off = 0; off < size;) {
        unsigned len = CHUNK < size - off ? CHUNK : size - off;
        struct io_uring_sqe *in = io_uring_get_sqe(ring);
        io_uring_prep_splice(in, file, off, pipe_w, -1, len, 0);
        in->flags |= IOSQE_IO_LINK;
        struct io_uring_sqe *out = io_uring_get_sqe(ring);
        io_uring_prep_splice(out, pipe_r, -1, sock, -1, len, 0);
        io_uring_submit(ring);
        int moved = 0, written = 0;
        for (int k = 0; k < 2; k++) {
            struct io_uring_cqe *cqe; io_uring_wait_cqe(ring, &cqe);
            if (k == 0) moved = cqe->res; else written = cqe->res;
            io_uring_cqe_seen(ring, cqe);
        }
        if (moved <= 0 || written <= 0) return -1;
        // A short pipe->socket splice leaves bytes in the pipe: send them first.
        while (written < moved) {
            struct io_uring_sqe *rest = io_uring_get_sqe(ring);
            io_uring_prep_splice(rest, pipe_r, -1, sock, -1, moved - written, 0);
            io_uring_submit(ring);
            struct io_uring_cqe *cqe; io_uring_wait_cqe(ring, &cqe);
            int r = cqe->res; io_uring_cqe_seen(ring, cqe);
            if (r <= 0) return -1;
            written += r;
        }
        off += moved; sent += moved;
    }
    return sent;
}

static long send_sendfile(int file, int sock, long size, long piece) {
    off_t off = 0;
    while (off < size) { if (sendfile(sock, file, &off, piece < size - off ? piece : size - off) <= 0) return -1; }
    return size;
}

int main(int argc, char **argv) {
    long size = argc > 1 ? atol(argv[1]) : 1 << 20;
    long total = argc > 2 ? atol(argv[2]) : 2L << 30;
    char path[] = "/tmp/uring-file-send-XXXXXX";
    int file = mkstemp(path);
    char *buf = malloc(CHUNK);
    memset(buf, 'x', CHUNK);
    for (long w = 0; w < size; w += CHUNK) (void)!write(file, buf, CHUNK < size - w ? CHUNK : size - w);
    unlink(path);
    int listener = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    bind(listener, (void *)&a, sizeof a); listen(listener, 1);
    socklen_t al = sizeof a; getsockname(listener, (void *)&a, &al);
    int client = socket(AF_INET, SOCK_STREAM, 0);
    connect(client, (void *)&a, sizeof a);
    int sock = accept(listener, NULL, NULL);
    setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    pthread_t reader; pthread_create(&reader, NULL, drain, &client);
    struct io_uring ring; io_uring_queue_init(64, &ring, 0);
    int pipefd[2]; (void)!pipe2(pipefd, 0); fcntl(pipefd[1], F_SETPIPE_SZ, CHUNK);
    const char *names[] = { "read+send", "splice", "sendfile 64K", "sendfile 1M" };
    enum { METHODS = 4 };
    int rounds = 3;
    printf("file %ld bytes, %.1f GiB per measurement, 64 KiB pieces, %d alternating rounds\n", size, total / 1073741824.0, rounds);
    double best_rate[METHODS] = {0}, best_cpu[METHODS] = {1e9, 1e9, 1e9, 1e9};
    for (int r = 0; r < rounds; r++) for (int m = 0; m < METHODS; m++) {
        double t0 = now(), c0 = cpu();
        long sent = 0;
        while (sent < total) {
            long n = m == 0 ? send_readsend(&ring, file, sock, size, buf)
                   : m == 1 ? send_splice(&ring, file, sock, size, pipefd[0], pipefd[1])
                   : m == 2 ? send_sendfile(file, sock, size, CHUNK)
                            : send_sendfile(file, sock, size, 1 << 20);
            if (n < 0) { fprintf(stderr, "%s failed\n", names[m]); return 1; }
            sent += n;
        }
        double secs = now() - t0, cpus = cpu() - c0, gb = sent / 1e9;
        if (gb / secs > best_rate[m]) best_rate[m] = gb / secs;
        if (cpus / gb < best_cpu[m]) best_cpu[m] = cpus / gb;
    }
    for (int m = 0; m < METHODS; m++)
        printf("%-12s %6.2f GB/s  %6.3f CPU s/GB  (%.2fx the CPU of sendfile in the same pieces)\n", names[m], best_rate[m], best_cpu[m],
               best_cpu[m] / best_cpu[2]);
    shutdown(sock, SHUT_WR); close(sock); pthread_join(reader, NULL);
    return 0;
}
