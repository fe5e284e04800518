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
