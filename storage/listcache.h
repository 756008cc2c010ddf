/* dv_listcache: answers to ListVersions, kept between writes.
 *
 * A page of ListVersions depends only on which versions (and switch aliases)
 * exist, and those rows are only ever added. So an encoded page stays right
 * until the next write, and the cache only has to learn of every write:
 *
 *  - writes by this process: the store brackets their commit with
 *    dv_listcache_writing() and _written(), so a process reads its own
 *    writes, and nobody is served a page from before a write that another
 *    call could already have seen;
 *  - writes by anyone else (another dvsconfd on the same database, SQL by
 *    hand): triggers on versions, switches and switch_aliases NOTIFY channel
 *    "dvsconf_versions" (migration 4). The cache LISTENs on a connection of
 *    its own, read by a thread of its own as notifications arrive and again
 *    before every lookup, so such a write shows in this process's lists as
 *    soon as PostgreSQL has delivered the notification (well under a
 *    millisecond after the commit on one machine; the window is between the
 *    writer's commit and the listening backend passing the notification
 *    on). The connection must be a direct one (LISTEN does not work through
 *    a transaction pooler); as a backstop, no page is served more than
 *    5 seconds after it was read.
 *
 * Every write starts a new generation; pages are kept with the generation
 * they were read in and only served in that generation. While the listening
 * connection is down nothing is served or kept (every call reads the
 * database); when it is back, a new generation starts, since notifications
 * may have been missed. A connection PostgreSQL closes is noticed at once
 * (by the watcher, or the next lookup); one that a failing network cuts
 * silently, within about ten seconds (TCP keepalives), and at the latest
 * pages age out after 5 seconds.
 *
 * Bounded by bytes: when a page does not fit, every page is dropped (pages of
 * the switches in use are read again at once; simpler and as effective as an
 * LRU for lists that a write throws away anyway). Thread-safe. */
#ifndef DV_LISTCACHE_H
#define DV_LISTCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"

typedef struct dv_listcache dv_listcache_t;

/* NULL when out of memory. Starts the watcher thread, which makes the
 * listening connection (as does a lookup that finds none), and again, at
 * most once a second, whenever it is lost. */
dv_listcache_t *dv_listcache_new(const char *conninfo, size_t max_bytes);
void dv_listcache_free(dv_listcache_t *c); /* NULL-safe */

/* Look a page up by its key (the request's filter, position and size, as
 * bytes). On a hit: 1, with a copy of the page's encoding in arena a. On a
 * miss: 0, with *gen the generation to give dv_listcache_put, or -1 when the
 * page must not be kept. NULL-safe (always a miss, *gen = -1). */
int dv_listcache_get(dv_listcache_t *c, const void *key, size_t key_len, dv_arena_t *a,
                     const uint8_t **data, size_t *len, int64_t *gen);

/* Keep a page read from the database after dv_listcache_get gave gen;
 * ignored when a write happened since (gen is no longer current). */
void dv_listcache_put(dv_listcache_t *c, const void *key, size_t key_len, int64_t gen,
                      const uint8_t *data, size_t len);

/* This process is about to commit a write that lists could show, and has
 * committed it (or failed to): between the two nothing is served or kept,
 * since the write may already be visible to others. NULL-safe; always in
 * pairs. */
void dv_listcache_writing(dv_listcache_t *c);
void dv_listcache_written(dv_listcache_t *c);

/* Pages answered from the cache so far (for tests and diagnostics). */
uint64_t dv_listcache_hits(dv_listcache_t *c);

#endif
