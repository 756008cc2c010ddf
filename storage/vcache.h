/* dv_vcache: versions never change once stored, so the verified, packed
 * form of recently read versions is kept in memory, shared by every worker
 * thread. An entry is put only after its checksum was verified against the
 * database. Bounded by bytes; least recently used entries go first. */
#ifndef DV_VCACHE_H
#define DV_VCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"

typedef struct dv_vcache dv_vcache_t;

dv_vcache_t *dv_vcache_new(size_t max_bytes); /* NULL when out of memory */
/* NULL-safe. Every arena holding a reference (dv_vcache_get_ref) must be
 * freed first. */
void dv_vcache_free(dv_vcache_t *c);

void dv_vcache_put(dv_vcache_t *c, int64_t id, const uint8_t *data, size_t len, int64_t lineage);

/* On a hit: 1, with *data pointing into the cache entry, which stays alive
 * (even if evicted meanwhile) until the arena is freed; and the version's
 * lineage. On a miss (or out of memory): 0. */
int dv_vcache_get_ref(dv_vcache_t *c, int64_t id, dv_arena_t *a, const uint8_t **data,
                      size_t *len, int64_t *lineage);

#endif
