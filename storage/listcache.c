#include "listcache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "strmap.h"

#define CHANNEL "dvsconf_versions" /* migration 4's triggers notify here */
#define NBUCKETS 1024              /* a power of two */

typedef struct page {
  struct page *next; /* hash bucket */
  size_t key_len, len;
  uint8_t bytes[]; /* the key, then the page */
} page_t;

struct dv_listcache {
  pthread_mutex_t mu;
  char *conninfo;
  PGconn *conn;     /* LISTENing; NULL while down */
  bool connecting;  /* a thread is making conn, outside mu */
  bool trouble;     /* conn passed on an error: the server is ending it */
  time_t retry_at;  /* CLOCK_MONOTONIC seconds of the next attempt */
  int64_t gen;      /* bumped by every write seen */
  int64_t map_gen;  /* the generation the kept pages were read in */
  page_t *buckets[NBUCKETS];
  size_t bytes, max_bytes;
  uint64_t hits;
};

dv_listcache_t *dv_listcache_new(const char *conninfo, size_t max_bytes) {
  dv_listcache_t *c = calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  c->conninfo = strdup(conninfo != NULL ? conninfo : "");
  if (c->conninfo == NULL) {
    free(c);
    return NULL;
  }
  pthread_mutex_init(&c->mu, NULL);
  c->max_bytes = max_bytes;
  return c;
}

static void drop_pages(dv_listcache_t *c) {
  for (size_t b = 0; b < NBUCKETS; b++) {
    page_t *p = c->buckets[b];
    while (p != NULL) {
      page_t *next = p->next;
      free(p);
      p = next;
    }
    c->buckets[b] = NULL;
  }
  c->bytes = 0;
}

void dv_listcache_free(dv_listcache_t *c) {
  if (c == NULL) return;
  drop_pages(c);
  if (c->conn != NULL) PQfinish(c->conn);
  pthread_mutex_destroy(&c->mu);
  free(c->conninfo);
  free(c);
}

static time_t now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec;
}

/* An idle connection's ErrorResponse (such as "terminating connection due to
 * administrator command") reaches libpq's notice receiver; the end of the
 * connection itself may only be read by the next call. Either way, writes
 * could go unheard from here on. */
static void on_notice(void *arg, const PGresult *r) {
  (void)r;
  ((dv_listcache_t *)arg)->trouble = true; /* under mu: called inside poll_writes */
}

/* A new connection LISTENing on CHANNEL, or NULL. */
static PGconn *listen_conn(dv_listcache_t *c, const char *conninfo) {
  /* as the store connects (store.c), conninfo expanded from dbname; TCP
   * keepalives, so that a network that fails silently is noticed within
   * about ten seconds (a closed connection is noticed at once) */
  const char *keys[] = {"dbname",        "connect_timeout",     "application_name",
                        "keepalives",    "keepalives_idle",     "keepalives_interval",
                        "keepalives_count", NULL};
  const char *vals[] = {conninfo, "5", "dvsconfd-listen", "1", "5", "2", "3", NULL};
  PGconn *conn = PQconnectdbParams(keys, vals, 1);
  if (conn == NULL) return NULL;
  if (PQstatus(conn) == CONNECTION_OK) {
    PGresult *r = PQexec(conn, "LISTEN " CHANNEL);
    bool ok = r != NULL && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (ok) {
      PQsetNoticeReceiver(conn, on_notice, c);
      return conn;
    }
  }
  PQfinish(conn);
  return NULL;
}

/* Under mu: read the notifications that have arrived (never blocks); any
 * means a write, and a lost connection means writes may go unseen. Then, when
 * down and due, reconnect (mu is released meanwhile). */
static void poll_writes(dv_listcache_t *c) {
  if (c->conn != NULL) {
    bool any = false, lost = PQconsumeInput(c->conn) == 0;
    PGnotify *n;
    while (!lost && (n = PQnotifies(c->conn)) != NULL) {
      any = true;
      PQfreemem(n);
    }
    if (lost || c->trouble || PQstatus(c->conn) != CONNECTION_OK) {
      PQfinish(c->conn);
      c->conn = NULL;
      c->trouble = false;
      any = true;
    }
    if (any) c->gen++;
  }
  if (c->conn != NULL || c->connecting || now_s() < c->retry_at) return;
  c->connecting = true;
  pthread_mutex_unlock(&c->mu);
  PGconn *conn = listen_conn(c, c->conninfo);
  pthread_mutex_lock(&c->mu);
  c->connecting = false;
  if (conn == NULL) {
    c->retry_at = now_s() + 1;
    return;
  }
  c->conn = conn;
  c->gen++; /* notifications were not heard while down */
}

static size_t bucket(const void *key, size_t len) {
  return (size_t)(dv_hash_bytes(key, len) >> 32) & (NBUCKETS - 1);
}

static page_t *find(dv_listcache_t *c, const void *key, size_t key_len) {
  for (page_t *p = c->buckets[bucket(key, key_len)]; p != NULL; p = p->next)
    if (p->key_len == key_len && memcmp(p->bytes, key, key_len) == 0) return p;
  return NULL;
}

int dv_listcache_get(dv_listcache_t *c, const void *key, size_t key_len, dv_arena_t *a,
                     const uint8_t **data, size_t *len, int64_t *gen) {
  *gen = -1;
  if (c == NULL) return 0;
  pthread_mutex_lock(&c->mu);
  poll_writes(c);
  if (c->conn == NULL) {
    pthread_mutex_unlock(&c->mu);
    return 0;
  }
  page_t *p = c->map_gen == c->gen ? find(c, key, key_len) : NULL;
  uint8_t *copy = p != NULL ? dv_arena_alloc_raw(a, p->len + 1) : NULL;
  if (copy != NULL) {
    memcpy(copy, p->bytes + p->key_len, p->len);
    *data = copy;
    *len = p->len;
    c->hits++;
  }
  *gen = c->gen;
  pthread_mutex_unlock(&c->mu);
  return copy != NULL;
}

void dv_listcache_put(dv_listcache_t *c, const void *key, size_t key_len, int64_t gen,
                      const uint8_t *data, size_t len) {
  if (c == NULL || gen < 0) return;
  size_t size = sizeof(page_t) + key_len + len;
  if (size > c->max_bytes / 4) return;
  page_t *p = malloc(size);
  if (p == NULL) return; /* a cache may forget */
  p->key_len = key_len;
  p->len = len;
  memcpy(p->bytes, key, key_len);
  memcpy(p->bytes + key_len, data, len);
  pthread_mutex_lock(&c->mu);
  if (gen != c->gen || c->conn == NULL || (c->map_gen == gen && find(c, key, key_len) != NULL)) {
    pthread_mutex_unlock(&c->mu); /* a write since it was read, or another thread was first */
    free(p);
    return;
  }
  if (c->map_gen != gen || c->bytes + size > c->max_bytes) drop_pages(c);
  c->map_gen = gen;
  size_t b = bucket(key, key_len);
  p->next = c->buckets[b];
  c->buckets[b] = p;
  c->bytes += size;
  pthread_mutex_unlock(&c->mu);
}

void dv_listcache_changed(dv_listcache_t *c) {
  if (c == NULL) return;
  pthread_mutex_lock(&c->mu);
  c->gen++;
  pthread_mutex_unlock(&c->mu);
}

uint64_t dv_listcache_hits(dv_listcache_t *c) {
  pthread_mutex_lock(&c->mu);
  uint64_t n = c->hits;
  pthread_mutex_unlock(&c->mu);
  return n;
}
