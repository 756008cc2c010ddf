#include "arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 16
#define ARENA_MIN_BLOCK (16 * 1024)

typedef struct arena_block {
  struct arena_block *next;
  size_t size; /* usable bytes after the header */
  size_t used;
  max_align_t data[];
} arena_block_t;

typedef struct deferred {
  struct deferred *next;
  void (*fn)(void *);
  void *arg;
} deferred_t;

struct dv_arena {
  arena_block_t *head;
  deferred_t *deferred;
  ProtobufCAllocator pb;
};

dv_arena_t *dv_arena_new(void) {
  return calloc(1, sizeof(dv_arena_t));
}

void dv_arena_free(dv_arena_t *a) {
  if (a == NULL) return;
  for (deferred_t *d = a->deferred; d != NULL; d = d->next) d->fn(d->arg); /* nodes live in blocks */
  arena_block_t *b = a->head;
  while (b != NULL) {
    arena_block_t *next = b->next;
    free(b);
    b = next;
  }
  free(a);
}

void *dv_arena_alloc(dv_arena_t *a, size_t size) {
  void *p = dv_arena_alloc_raw(a, size);
  if (p != NULL) memset(p, 0, size ? size : 1);
  return p;
}

void *dv_arena_alloc_raw(dv_arena_t *a, size_t size) {
  if (size == 0) size = 1;
  size_t need = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
  if (need < size) return NULL; /* overflow */
  arena_block_t *b = a->head;
  if (b == NULL || b->size - b->used < need) {
    size_t bsize = need > ARENA_MIN_BLOCK ? need : ARENA_MIN_BLOCK;
    /* Grow geometrically with what the arena already holds, so a call that
     * builds a large config makes few blocks. */
    if (b != NULL && bsize < b->size * 2 && b->size < (64u << 20)) bsize = b->size * 2;
    if (bsize < need) bsize = need;
    b = malloc(sizeof(arena_block_t) + bsize);
    if (b == NULL) return NULL;
    b->size = bsize;
    b->used = 0;
    b->next = a->head;
    a->head = b;
  }
  void *p = (char *)b->data + b->used;
  b->used += need;
  return p;
}

void *dv_arena_memdup(dv_arena_t *a, const void *p, size_t size) {
  void *q = dv_arena_alloc_raw(a, size);
  if (q != NULL && size > 0) memcpy(q, p, size);
  return q;
}

char *dv_arena_strndup(dv_arena_t *a, const char *s, size_t n) {
  char *q = dv_arena_alloc_raw(a, n + 1);
  if (q == NULL) return NULL;
  if (n > 0) memcpy(q, s, n);
  q[n] = '\0';
  return q;
}

char *dv_arena_strdup(dv_arena_t *a, const char *s) {
  if (s == NULL) s = "";
  return dv_arena_strndup(a, s, strlen(s));
}

char *dv_arena_vprintf(dv_arena_t *a, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) return NULL;
  char *q = dv_arena_alloc(a, (size_t)n + 1);
  if (q == NULL) return NULL;
  vsnprintf(q, (size_t)n + 1, fmt, ap);
  return q;
}

char *dv_arena_printf(dv_arena_t *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *q = dv_arena_vprintf(a, fmt, ap);
  va_end(ap);
  return q;
}

void *dv_arena_msg(dv_arena_t *a, const ProtobufCMessageDescriptor *d) {
  ProtobufCMessage *m = dv_arena_alloc(a, d->sizeof_message);
  if (m != NULL) protobuf_c_message_init(d, m);
  return m;
}

int dv_arena_push(dv_arena_t *a, void ***arr, size_t *n, size_t *cap, void *item) {
  if (*n == *cap) {
    size_t ncap = *cap ? *cap * 2 : 8;
    void **narr = dv_arena_alloc(a, ncap * sizeof(void *));
    if (narr == NULL) return -1;
    if (*n > 0) memcpy(narr, *arr, *n * sizeof(void *));
    *arr = narr;
    *cap = ncap;
  }
  (*arr)[(*n)++] = item;
  return 0;
}

/* protobuf-c initializes everything it allocates (messages from their
 * init, arrays and strings as it fills them): no need to zero it first. */
static void *pb_alloc(void *data, size_t size) {
  return dv_arena_alloc_raw(data, size);
}

static void pb_free(void *data, void *p) {
  (void)data;
  (void)p;
}

ProtobufCAllocator *dv_arena_allocator(dv_arena_t *a) {
  a->pb.alloc = pb_alloc;
  a->pb.free = pb_free;
  a->pb.allocator_data = a;
  return &a->pb;
}

int dv_arena_defer(dv_arena_t *a, void (*fn)(void *), void *arg) {
  deferred_t *d = dv_arena_alloc(a, sizeof *d);
  if (d == NULL) return -1;
  d->fn = fn;
  d->arg = arg;
  d->next = a->deferred;
  a->deferred = d;
  return 0;
}
