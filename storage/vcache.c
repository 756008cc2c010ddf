#include "vcache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bigmem.h"
#include "strmap.h"

typedef struct entry {
  int64_t id;
  int64_t lineage;
  int refs;     /* readers holding the bytes (dv_vcache_get_ref) */
  bool evicted; /* out of the map and the list; freed at refs == 0 */
  struct dv_vcache *cache;
  struct entry *prev, *next; /* LRU list, most recent first */
  struct entry *chain;       /* hash bucket */
  void *aux;                 /* derived from data (dv_vcache_set_aux), or NULL */
  size_t aux_bytes;          /* 0 when aux is inside data's block (its spare room) */
  bool room_given;           /* dv_vcache_room handed out the block's room */
  bool aux_in_room;          /* aux is there: freed with the block */
  size_t len;
  size_t cap;    /* data's block: dv_big_alloc(cap), cap >= len; len when inline */
  uint8_t *data; /* after the entry (small), or its own dv_big_alloc block */
} entry_t;

typedef struct hint {
  struct hint *next;
  int64_t id;
  char key[];
} hint_t;

#define HINT_BUCKETS 1024 /* and at most 4 times as many hints */

struct dv_vcache {
  pthread_mutex_t mu;
  hint_t *hints[HINT_BUCKETS];
  size_t n_hints;
  entry_t **buckets;
  size_t nbuckets; /* power of two */
  entry_t *head, *tail;
  size_t bytes, max_bytes;
};

dv_vcache_t *dv_vcache_new(size_t max_bytes) {
  dv_vcache_t *c = calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  c->nbuckets = 4096;
  c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
  if (c->buckets == NULL) {
    free(c);
    return NULL;
  }
  c->max_bytes = max_bytes;
  pthread_mutex_init(&c->mu, NULL);
  return c;
}

static void entry_free(entry_t *e) {
  if (!e->aux_in_room) dv_big_free(e->aux, e->aux_bytes);
  if (e->data != (uint8_t *)(e + 1)) dv_big_free(e->data, e->cap);
  free(e);
}

/* What an entry's bytes take (bigmem.h): the budget is of memory. */
static size_t charge(size_t len) {
  return dv_big_size(len);
}

static void drop_hints(dv_vcache_t *c) {
  for (size_t b = 0; b < HINT_BUCKETS; b++) {
    hint_t *h = c->hints[b];
    while (h != NULL) {
      hint_t *next = h->next;
      free(h);
      h = next;
    }
    c->hints[b] = NULL;
  }
  c->n_hints = 0;
}

void dv_vcache_free(dv_vcache_t *c) {
  if (c == NULL) return;
  drop_hints(c);
  entry_t *e = c->head;
  while (e != NULL) {
    entry_t *next = e->next;
    entry_free(e);
    e = next;
  }
  free(c->buckets);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

static size_t bucket(const dv_vcache_t *c, int64_t id) {
  uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ull;
  return (size_t)(h >> 40) & (c->nbuckets - 1);
}

static void unlink_lru(dv_vcache_t *c, entry_t *e) {
  if (e->prev) e->prev->next = e->next;
  else c->head = e->next;
  if (e->next) e->next->prev = e->prev;
  else c->tail = e->prev;
  e->prev = e->next = NULL;
}

static void push_front(dv_vcache_t *c, entry_t *e) {
  e->next = c->head;
  e->prev = NULL;
  if (c->head) c->head->prev = e;
  c->head = e;
  if (c->tail == NULL) c->tail = e;
}

static void evict(dv_vcache_t *c, entry_t *e) {
  unlink_lru(c, e);
  entry_t **p = &c->buckets[bucket(c, e->id)];
  while (*p != e) p = &(*p)->chain;
  *p = e->chain;
  c->bytes -= charge(e->cap) + charge(e->aux_bytes);
  if (e->refs == 0)
    entry_free(e);
  else
    e->evicted = true; /* the last reader frees it */
}

static entry_t *find(dv_vcache_t *c, int64_t id) {
  for (entry_t *e = c->buckets[bucket(c, id)]; e != NULL; e = e->chain)
    if (e->id == id) return e;
  return NULL;
}

static void release(void *arg) {
  entry_t *e = arg;
  dv_vcache_t *c = e->cache;
  pthread_mutex_lock(&c->mu);
  bool gone = --e->refs == 0 && e->evicted;
  pthread_mutex_unlock(&c->mu);
  if (gone) entry_free(e);
}

int dv_vcache_get_ref(dv_vcache_t *c, int64_t id, dv_arena_t *a, const uint8_t **data,
                      size_t *len, int64_t *lineage, const void **aux) {
  if (c == NULL) return 0;
  void *hit_aux = NULL;
  pthread_mutex_lock(&c->mu);
  entry_t *hit = find(c, id);
  if (hit != NULL) {
    hit_aux = hit->aux;
    hit->refs++;
    unlink_lru(c, hit);
    push_front(c, hit);
  }
  pthread_mutex_unlock(&c->mu);
  if (hit == NULL) return 0;
  if (dv_arena_defer(a, release, hit) != 0) {
    release(hit);
    return 0;
  }
  *data = hit->data;
  *len = hit->len;
  *lineage = hit->lineage;
  if (aux != NULL) *aux = hit_aux;
  return 1;
}

void dv_vcache_set_aux(dv_vcache_t *c, int64_t id, const uint8_t *data, void *aux, size_t bytes) {
  if (c == NULL) {
    dv_big_free(aux, bytes);
    return;
  }
  pthread_mutex_lock(&c->mu);
  entry_t *e = find(c, id);
  if (e != NULL && e->data == data && e->aux == NULL && aux != NULL) {
    e->aux = aux;
    e->aux_bytes = bytes;
    c->bytes += charge(bytes);
    aux = NULL;
    /* over budget: older entries go; this one is in use (at the front) */
    while (c->bytes > c->max_bytes && c->tail != NULL && c->tail != e) evict(c, c->tail);
  }
  pthread_mutex_unlock(&c->mu);
  dv_big_free(aux, bytes);
}

void *dv_vcache_room(dv_vcache_t *c, int64_t id, const uint8_t *data, size_t size) {
  if (c == NULL) return NULL;
  void *room = NULL;
  pthread_mutex_lock(&c->mu);
  entry_t *e = find(c, id);
  if (e != NULL && e->data == data && e->aux == NULL && !e->room_given &&
      e->cap >= DV_VCACHE_ROOM_AT(e->len) && e->cap - DV_VCACHE_ROOM_AT(e->len) >= size) {
    e->room_given = true;
    room = e->data + DV_VCACHE_ROOM_AT(e->len);
  }
  pthread_mutex_unlock(&c->mu);
  return room;
}

void dv_vcache_set_aux_inside(dv_vcache_t *c, int64_t id, const uint8_t *data, void *aux) {
  if (c == NULL) return;
  pthread_mutex_lock(&c->mu);
  entry_t *e = find(c, id);
  if (e != NULL && e->data == data && e->aux == NULL && e->room_given &&
      (uint8_t *)aux == e->data + DV_VCACHE_ROOM_AT(e->len)) {
    e->aux = aux; /* counted with the block; freed with it */
    e->aux_bytes = 0;
    e->aux_in_room = true;
  }
  pthread_mutex_unlock(&c->mu);
}

static void put(dv_vcache_t *c, int64_t id, entry_t *n, uint8_t *data, size_t len, size_t cap,
                int64_t lineage) {
  n->id = id;
  n->lineage = lineage;
  n->refs = 0;
  n->evicted = false;
  n->cache = c;
  n->aux = NULL;
  n->aux_bytes = 0;
  n->room_given = n->aux_in_room = false;
  n->len = len;
  n->cap = cap;
  n->data = data;
  pthread_mutex_lock(&c->mu);
  if (find(c, id) != NULL) { /* another thread was first */
    pthread_mutex_unlock(&c->mu);
    entry_free(n);
    return;
  }
  while (c->bytes + charge(cap) > c->max_bytes && c->tail != NULL) evict(c, c->tail);
  size_t b = bucket(c, id);
  n->chain = c->buckets[b];
  c->buckets[b] = n;
  n->prev = n->next = NULL;
  push_front(c, n);
  c->bytes += charge(cap);
  pthread_mutex_unlock(&c->mu);
}

bool dv_vcache_fits(const dv_vcache_t *c, size_t len) {
  return c != NULL && charge(len) <= c->max_bytes / 8;
}

void dv_vcache_put(dv_vcache_t *c, int64_t id, const uint8_t *data, size_t len, int64_t lineage) {
  if (!dv_vcache_fits(c, len)) return;
  if (len >= DV_BIG_MIN) { /* its own block (bigmem.h) */
    uint8_t *block = dv_big_alloc(len);
    if (block == NULL) return; /* a cache may forget */
    memcpy(block, data, len);
    dv_vcache_put_owned(c, id, block, len, len, lineage);
    return;
  }
  entry_t *n = malloc(sizeof *n + len);
  if (n == NULL) return; /* a cache may forget */
  memcpy(n + 1, data, len);
  put(c, id, n, (uint8_t *)(n + 1), len, len, lineage);
}

void dv_vcache_put_owned(dv_vcache_t *c, int64_t id, uint8_t *data, size_t len, size_t cap,
                         int64_t lineage) {
  entry_t *n = dv_vcache_fits(c, cap) ? malloc(sizeof *n) : NULL;
  if (n == NULL) { /* a cache may forget */
    dv_big_free(data, cap);
    return;
  }
  put(c, id, n, data, len, cap, lineage);
}

static hint_t **hint_slot(dv_vcache_t *c, const char *key) {
  hint_t **p = &c->hints[(dv_hash_str(key) >> 32) & (HINT_BUCKETS - 1)];
  while (*p != NULL && strcmp((*p)->key, key) != 0) p = &(*p)->next;
  return p;
}

void dv_vcache_note_latest(dv_vcache_t *c, const char *key, int64_t id) {
  if (c == NULL) return;
  size_t len = strlen(key);
  hint_t *fresh = malloc(sizeof *fresh + len + 1);
  if (fresh == NULL) return; /* a hint may be forgotten */
  memcpy(fresh->key, key, len + 1);
  fresh->id = id;
  fresh->next = NULL;
  pthread_mutex_lock(&c->mu);
  hint_t **p = hint_slot(c, key);
  if (*p != NULL) {
    if ((*p)->id < id) (*p)->id = id;
    free(fresh);
  } else {
    if (c->n_hints >= 4 * HINT_BUCKETS) {
      drop_hints(c);
      p = hint_slot(c, key);
    }
    *p = fresh;
    c->n_hints++;
  }
  pthread_mutex_unlock(&c->mu);
}

int64_t dv_vcache_latest(dv_vcache_t *c, const char *key) {
  if (c == NULL) return 0;
  pthread_mutex_lock(&c->mu);
  hint_t *h = *hint_slot(c, key);
  int64_t id = h != NULL ? h->id : 0;
  pthread_mutex_unlock(&c->mu);
  return id;
}
