// hwloc plus the three GNU scheduler calls the Topology module needs.
// Everything hwloc offers, including its static inline helpers
// (hwloc_get_nbobjs_by_type, hwloc_get_next_obj_by_type, ...), imports into
// Swift as is, so there is no C code here: only prototypes that Swift's Glibc
// module hides because it is built without _GNU_SOURCE.
#pragma once
#include <features.h>
#include <sched.h>
#include <sys/types.h>
#include <hwloc.h>

// Same declarations as glibc's <sched.h> under _GNU_SOURCE, so they merge with
// any other module that declares them. cpu_set_t itself is always defined;
// only the CPU_SET macros and these prototypes are GNU-only.
extern int sched_getcpu(void);
extern int sched_setaffinity(__pid_t pid, size_t cpusetsize, const cpu_set_t *cpuset);
extern int sched_getaffinity(__pid_t pid, size_t cpusetsize, cpu_set_t *cpuset);
