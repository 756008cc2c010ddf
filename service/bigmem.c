#include "bigmem.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

/* extents kept for reuse, one list per size (1 .. POOL_CLASSES huge pages),
 * linked through their first bytes */
#define POOL_CLASSES (DV_BIG_POOL_MAX / HUGE_PAGE)

typedef struct kept {
  struct kept *next;
} kept_t;

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static kept_t *pool[POOL_CLASSES];
static size_t pooled;
static atomic_long live;

size_t dv_big_size(size_t n) {
  if (n < DV_BIG_MIN) return n;
  return (n + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
}

/* The pool's list for extents of `size` bytes, or -1 when none is kept. */
static long pool_class(size_t size) {
  size_t pages = size / HUGE_PAGE;
  return pages >= 1 && pages <= POOL_CLASSES ? (long)pages - 1 : -1;
}

static void *from_pool(size_t size) {
  long c = pool_class(size);
  if (c < 0) return NULL;
  pthread_mutex_lock(&pool_mu);
  kept_t *k = pool[c];
  if (k != NULL) {
    pool[c] = k->next;
    pooled -= size;
  }
  pthread_mutex_unlock(&pool_mu);
  return k;
}

static int to_pool(void *p, size_t size) {
  long c = pool_class(size);
  if (c < 0) return -1;
  int kept = -1;
  pthread_mutex_lock(&pool_mu);
  if (pooled + size <= DV_BIG_POOL_MAX) {
    kept_t *k = p;
    k->next = pool[c];
    pool[c] = k;
    pooled += size;
    kept = 0;
  }
  pthread_mutex_unlock(&pool_mu);
  return kept;
}

void *dv_big_alloc(size_t n) {
  if (n < DV_BIG_MIN) return malloc(n);
  size_t size = dv_big_size(n);
  if (size < n || size + HUGE_PAGE < size) return NULL; /* overflow */
  uint8_t *a = from_pool(size);
  if (a == NULL) {
    /* one huge page more than needed, then the unaligned ends given back */
    uint8_t *p = mmap(NULL, size + HUGE_PAGE, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    a = (uint8_t *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (a > p) munmap(p, (size_t)(a - p));
    size_t tail = (size_t)((p + size + HUGE_PAGE) - (a + size));
    if (tail > 0) munmap(a + size, tail);
    (void)madvise(a, size, MADV_HUGEPAGE); /* advice: declined, the pages are small ones */
  }
  atomic_fetch_add(&live, 1);
  return a;
}

void dv_big_free(void *p, size_t n) {
  if (p == NULL) return;
  if (n < DV_BIG_MIN) {
    free(p);
    return;
  }
  atomic_fetch_sub(&live, 1);
  size_t size = dv_big_size(n);
  if (to_pool(p, size) != 0) munmap(p, size);
}

long dv_big_live(void) {
  return atomic_load(&live);
}

size_t dv_big_pooled(void) {
  pthread_mutex_lock(&pool_mu);
  size_t n = pooled;
  pthread_mutex_unlock(&pool_mu);
  return n;
}

void dv_big_trim(void) {
  pthread_mutex_lock(&pool_mu);
  for (size_t c = 0; c < POOL_CLASSES; c++) {
    while (pool[c] != NULL) {
      kept_t *k = pool[c];
      pool[c] = k->next;
      munmap(k, (c + 1) * HUGE_PAGE);
    }
  }
  pooled = 0;
  pthread_mutex_unlock(&pool_mu);
}
