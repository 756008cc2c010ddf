#include "bigmem.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

static atomic_long live;

size_t dv_big_size(size_t n) {
  if (n < DV_BIG_MIN) return n;
  return (n + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
}

void *dv_big_alloc(size_t n) {
  if (n < DV_BIG_MIN) return malloc(n);
  size_t size = dv_big_size(n);
  if (size < n || size + HUGE_PAGE < size) return NULL; /* overflow */
  /* one huge page more than needed, then the unaligned ends given back */
  uint8_t *p = mmap(NULL, size + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                    -1, 0);
  if (p == MAP_FAILED) return NULL;
  uint8_t *a = (uint8_t *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
  if (a > p) munmap(p, (size_t)(a - p));
  size_t tail = (size_t)((p + size + HUGE_PAGE) - (a + size));
  if (tail > 0) munmap(a + size, tail);
  (void)madvise(a, size, MADV_HUGEPAGE); /* advice: declined, the pages are small ones */
  atomic_fetch_add(&live, 1);
  return a;
}

void dv_big_free(void *p, size_t n) {
  if (p == NULL) return;
  if (n < DV_BIG_MIN) {
    free(p);
    return;
  }
  munmap(p, dv_big_size(n));
  atomic_fetch_sub(&live, 1);
}

long dv_big_live(void) {
  return atomic_load(&live);
}
