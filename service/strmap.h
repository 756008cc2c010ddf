/* dv_strmap: a string-keyed hash map living in an arena (open addressing,
 * linear probing). Keys are borrowed, not copied: they must outlive the map.
 * Used to match port groups by key or name in O(1). */
#ifndef DV_STRMAP_H
#define DV_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"

/* FNV-1a, the hash of the maps and caches here: of n bytes, and of a C
 * string. */
uint64_t dv_hash_bytes(const void *p, size_t n);
uint64_t dv_hash_str(const char *s);

typedef struct dv_strmap dv_strmap_t;

/* A map sized for about `expected` entries; NULL when out of memory. */
dv_strmap_t *dv_strmap_new(dv_arena_t *a, size_t expected);
/* Insert or replace. 0, or -1 when out of memory. */
int dv_strmap_put(dv_strmap_t *m, const char *key, void *value);
void *dv_strmap_get(const dv_strmap_t *m, const char *key);
/* Remove; returns the old value or NULL. */
void *dv_strmap_del(dv_strmap_t *m, const char *key);
size_t dv_strmap_count(const dv_strmap_t *m);
/* Iterate: *pos starts at 0; returns 0 at the end. */
int dv_strmap_next(const dv_strmap_t *m, size_t *pos, const char **key, void **value);

#endif
