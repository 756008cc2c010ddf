/* dv_vcache: versions never change once stored, so the verified, packed
 * form of recently read versions is kept in memory, shared by every worker
 * thread. An entry is put only after its checksum was verified against the
 * database. Bounded by bytes; least recently used entries go first. */
#ifndef DV_VCACHE_H
#define DV_VCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"

typedef struct dv_vcache dv_vcache_t;

dv_vcache_t *dv_vcache_new(size_t max_bytes); /* NULL when out of memory */
/* NULL-safe. Every arena holding a reference (dv_vcache_get_ref) must be
 * freed first. */
void dv_vcache_free(dv_vcache_t *c);

/* Whether an entry of len bytes would be kept (one entry takes at most an
 * eighth of the cache, as dv_big_size counts it); false for a NULL cache. */
bool dv_vcache_fits(const dv_vcache_t *c, size_t len);
void dv_vcache_put(dv_vcache_t *c, int64_t id, const uint8_t *data, size_t len, int64_t lineage);
/* The same without a copy: data, from dv_big_alloc(cap) (bigmem.h), with
 * the version in its first len bytes, is the cache's from now on. The rest
 * of the block, from DV_VCACHE_ROOM_AT(len) on, is room for the entry's aux
 * (dv_vcache_room). Entries count in the cache's bytes as dv_big_size of
 * their blocks: a cache of less than 16 MiB keeps no entry of 512 KiB or
 * more. */
void dv_vcache_put_owned(dv_vcache_t *c, int64_t id, uint8_t *data, size_t len, size_t cap,
                         int64_t lineage);

/* On a hit: 1, with *data pointing into the cache entry, which stays alive
 * (even if evicted meanwhile) until the arena is freed; the version's
 * lineage; and, when aux is not NULL, the entry's derived object (or NULL).
 * On a miss (or out of memory): 0. */
int dv_vcache_get_ref(dv_vcache_t *c, int64_t id, dv_arena_t *a, const uint8_t **data,
                      size_t *len, int64_t *lineage, const void **aux);

/* Keep `aux`, one dv_big_alloc'd block of `bytes` derived from the entry's data
 * (the store keeps the split of the version's port groups there, so that it
 * is made once, not on every read), with entry `id`: freed with it, counted
 * in the cache's bytes. Taken only when the entry is there, still holds
 * `data` (pointers inside aux may point into it) and has no aux yet;
 * otherwise aux is freed. Either way the caller no longer owns aux. */
void dv_vcache_set_aux(dv_vcache_t *c, int64_t id, const uint8_t *data, void *aux, size_t bytes);
/* An aux made in the spare room of the entry's own block (dv_vcache_put_owned
 * with cap > len), so that a large version and its split share one block:
 * dv_vcache_room hands out the room, once, when entry `id` holds `data`,
 * has no aux and its block has `size` bytes of room (NULL otherwise; the
 * entry is checked under the cache's lock, never the caller's pointer: a
 * block the caller gave up may be another entry's by now). The caller,
 * holding a reference (dv_vcache_get_ref), makes its aux there and passes
 * it to dv_vcache_set_aux_inside: nothing more to count, freed with the
 * block. */
#define DV_VCACHE_ROOM_AT(len) (((len) + 15) & ~(size_t)15)
void *dv_vcache_room(dv_vcache_t *c, int64_t id, const uint8_t *data, size_t size);
void dv_vcache_set_aux_inside(dv_vcache_t *c, int64_t id, const uint8_t *data, void *aux);

/* The newest version of each switch this process has stored or looked up,
 * by a key the caller makes (the store: plane and uuid). A hint only:
 * another process's writes make it stale. Bounded (forgets everything when
 * full). dv_vcache_latest: 0 when unknown. */
void dv_vcache_note_latest(dv_vcache_t *c, const char *key, int64_t id);
int64_t dv_vcache_latest(dv_vcache_t *c, const char *key);

#endif
