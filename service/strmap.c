#include "strmap.h"

#include <stdint.h>
#include <string.h>

typedef struct slot {
  const char *key; /* NULL: empty; TOMBSTONE: deleted */
  void *value;
} slot_t;

static const char TOMBSTONE[] = "";

struct dv_strmap {
  dv_arena_t *arena;
  slot_t *slots;
  size_t cap; /* power of two */
  size_t count;
  size_t used; /* count + tombstones */
};

#define FNV_OFFSET 1469598103934665603ull
#define FNV_PRIME 1099511628211ull

uint64_t dv_hash_bytes(const void *p, size_t n) {
  const unsigned char *b = p;
  uint64_t h = FNV_OFFSET;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * FNV_PRIME;
  return h;
}

uint64_t dv_hash_str(const char *s) {
  uint64_t h = FNV_OFFSET;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * FNV_PRIME;
  return h;
}

dv_strmap_t *dv_strmap_new(dv_arena_t *a, size_t expected) {
  dv_strmap_t *m = dv_arena_alloc(a, sizeof *m);
  if (m == NULL) return NULL;
  size_t cap = 16;
  while (cap < expected * 2) cap *= 2;
  m->slots = dv_arena_alloc(a, cap * sizeof(slot_t));
  if (m->slots == NULL) return NULL;
  m->arena = a;
  m->cap = cap;
  return m;
}

static slot_t *find(const dv_strmap_t *m, const char *key) {
  size_t i = dv_hash_str(key) & (m->cap - 1);
  for (;;) {
    slot_t *s = &m->slots[i];
    if (s->key == NULL) return NULL;
    if (s->key != TOMBSTONE && strcmp(s->key, key) == 0) return s;
    i = (i + 1) & (m->cap - 1);
  }
}

static int grow(dv_strmap_t *m) {
  size_t ncap = m->count * 4 > m->cap ? m->cap * 2 : m->cap; /* rehash drops tombstones */
  slot_t *old = m->slots;
  size_t ocap = m->cap;
  slot_t *ns = dv_arena_alloc(m->arena, ncap * sizeof(slot_t));
  if (ns == NULL) return -1;
  m->slots = ns;
  m->cap = ncap;
  m->count = m->used = 0;
  for (size_t i = 0; i < ocap; i++)
    if (old[i].key != NULL && old[i].key != TOMBSTONE) dv_strmap_put(m, old[i].key, old[i].value);
  return 0;
}

int dv_strmap_put(dv_strmap_t *m, const char *key, void *value) {
  slot_t *s = find(m, key);
  if (s != NULL) {
    s->value = value;
    return 0;
  }
  if ((m->used + 1) * 2 > m->cap && grow(m) != 0) return -1;
  size_t i = dv_hash_str(key) & (m->cap - 1);
  while (m->slots[i].key != NULL && m->slots[i].key != TOMBSTONE) i = (i + 1) & (m->cap - 1);
  if (m->slots[i].key == NULL) m->used++;
  m->slots[i].key = key;
  m->slots[i].value = value;
  m->count++;
  return 0;
}

void *dv_strmap_get(const dv_strmap_t *m, const char *key) {
  slot_t *s = find(m, key);
  return s != NULL ? s->value : NULL;
}

void *dv_strmap_del(dv_strmap_t *m, const char *key) {
  slot_t *s = find(m, key);
  if (s == NULL) return NULL;
  void *v = s->value;
  s->key = TOMBSTONE;
  s->value = NULL;
  m->count--;
  return v;
}

size_t dv_strmap_count(const dv_strmap_t *m) {
  return m->count;
}

int dv_strmap_next(const dv_strmap_t *m, size_t *pos, const char **key, void **value) {
  while (*pos < m->cap) {
    slot_t *s = &m->slots[(*pos)++];
    if (s->key != NULL && s->key != TOMBSTONE) {
      *key = s->key;
      *value = s->value;
      return 1;
    }
  }
  return 0;
}
