#pragma once
#include <stdint.h>
/// Number of malloc-family calls (malloc, calloc, realloc, posix_memalign,
/// aligned_alloc, memalign) made by this process since start.
uint64_t switchyard_malloc_count(void);
