/* Memory for large buffers that are kept and read again later: the version
 * cache's entries (a version's bytes and its split). From DV_BIG_MIN up,
 * they take whole 2 MiB-aligned extents advised as transparent huge pages
 * (MADV_HUGEPAGE; the kernel may decline), so that reading a cached
 * 5,000-port-group version after the process was idle misses the TLB a few
 * times instead of hundreds. Smaller sizes come from malloc.
 *
 * Extents given back are kept, up to DV_BIG_POOL_MAX bytes, for the next
 * block of the same size. The kernel clears a fresh extent when it is first
 * touched (and a virtual machine's host may have to back it again), and
 * unmapping one makes it flush the TLBs of every CPU running the process:
 * on the 2-core development VM, storing a 5,000-port-group version took
 * 9.6 ms of dvsconfd's CPU time with a fresh extent each time, 4.7 ms with
 * extents reused (perf, 40 versions). A full cache frees an extent for
 * about every one it takes, so a few kept are enough. */
#ifndef DV_BIGMEM_H
#define DV_BIGMEM_H

#include <stddef.h>

#define DV_BIG_MIN ((size_t)512 << 10)
#define DV_BIG_POOL_MAX ((size_t)16 << 20)

/* NULL when out of memory (or n == 0 on a malloc that says so). Like
 * malloc's, its bytes are not cleared. */
void *dv_big_alloc(size_t n);
/* p from dv_big_alloc(n), with the same n; NULL-safe. */
void dv_big_free(void *p, size_t n);
/* The memory dv_big_alloc(n) takes: n below DV_BIG_MIN, else n rounded up
 * to 2 MiB. */
size_t dv_big_size(size_t n);
/* Blocks of DV_BIG_MIN or more now allocated (for tests: LeakSanitizer and
 * valgrind do not see mappings). */
long dv_big_live(void);
/* Bytes of extents given back and kept for reuse. */
size_t dv_big_pooled(void);
/* Unmap the extents kept for reuse. */
void dv_big_trim(void);

#endif
