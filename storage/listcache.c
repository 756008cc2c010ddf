#include "listcache.h"

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "strmap.h"

#define CHANNEL "dvsconf_versions" /* migration 4's triggers notify here */
#define NBUCKETS 1024              /* a power of two */
#define PAGE_MAX_AGE_MS 5000       /* a backstop for notifications that never come */

typedef struct page {
  struct page *next; /* hash bucket */
  int64_t read_ms;   /* CLOCK_MONOTONIC, when it was read from the database */
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
  int writing;      /* this process's writes between their commit and _changed */
  pthread_t watcher; /* reads notifications while no call does (watch) */
  bool watching, stopping;
  int wake[2];      /* a pipe: wakes the watcher to stop */
  page_t *buckets[NBUCKETS];
  size_t bytes, max_bytes;
  uint64_t hits;
};

static void *watch(void *arg);

dv_listcache_t *dv_listcache_new(const char *conninfo, size_t max_bytes) {
  dv_listcache_t *c = calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  c->conninfo = strdup(conninfo != NULL ? conninfo : "");
  if (c->conninfo == NULL || pipe(c->wake) != 0) {
    free(c->conninfo);
    free(c);
    return NULL;
  }
  pthread_mutex_init(&c->mu, NULL);
  c->max_bytes = max_bytes;
  /* without it the cache still works, only less often */
  c->watching = pthread_create(&c->watcher, NULL, watch, c) == 0;
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
  if (c->watching) {
    pthread_mutex_lock(&c->mu);
    c->stopping = true;
    pthread_mutex_unlock(&c->mu);
    ssize_t w = write(c->wake[1], "x", 1);
    (void)w; /* the watcher also looks every second */
    pthread_join(c->watcher, NULL);
  }
  close(c->wake[0]);
  close(c->wake[1]);
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

static int64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
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

/* The watcher: reads notifications as they arrive, also while no call
 * looks pages up. Otherwise a process that serves no ListVersions would
 * leave them unread, and its listening backend would hold up PostgreSQL's
 * notification queue for everyone. Also reconnects when the connection is
 * lost. */
static void *watch(void *arg) {
  dv_listcache_t *c = arg;
  pthread_mutex_lock(&c->mu);
  while (!c->stopping) {
    int fd = c->conn != NULL ? PQsocket(c->conn) : -1;
    pthread_mutex_unlock(&c->mu);
    /* the socket may be closed by a lookup meanwhile: a spurious wake-up */
    struct pollfd p[2] = {{c->wake[0], POLLIN, 0}, {fd, POLLIN, 0}};
    (void)poll(p, fd >= 0 ? 2 : 1, 1000);
    pthread_mutex_lock(&c->mu);
    if (!c->stopping) poll_writes(c);
  }
  pthread_mutex_unlock(&c->mu);
  return NULL;
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
  if (c->conn == NULL || c->writing > 0) {
    pthread_mutex_unlock(&c->mu);
    return 0;
  }
  page_t *p = c->map_gen == c->gen ? find(c, key, key_len) : NULL;
  if (p != NULL && now_ms() - p->read_ms > PAGE_MAX_AGE_MS) p = NULL; /* read again */
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
  p->read_ms = now_ms();
  memcpy(p->bytes, key, key_len);
  memcpy(p->bytes + key_len, data, len);
  pthread_mutex_lock(&c->mu);
  page_t *old = c->map_gen == gen ? find(c, key, key_len) : NULL;
  if (gen != c->gen || c->conn == NULL || c->writing > 0 ||
      (old != NULL && now_ms() - old->read_ms <= PAGE_MAX_AGE_MS)) {
    pthread_mutex_unlock(&c->mu); /* a write since it was read, or another thread was first */
    free(p);
    return;
  }
  size_t b = bucket(key, key_len);
  if (old != NULL) { /* aged out: this one takes its place */
    page_t **at = &c->buckets[b];
    while (*at != old) at = &(*at)->next;
    *at = old->next;
    c->bytes -= sizeof(page_t) + old->key_len + old->len;
    free(old);
  }
  if (c->map_gen != gen || c->bytes + size > c->max_bytes) drop_pages(c);
  c->map_gen = gen;
  p->next = c->buckets[b];
  c->buckets[b] = p;
  c->bytes += size;
  pthread_mutex_unlock(&c->mu);
}

void dv_listcache_writing(dv_listcache_t *c) {
  if (c == NULL) return;
  pthread_mutex_lock(&c->mu);
  c->writing++;
  pthread_mutex_unlock(&c->mu);
}

void dv_listcache_written(dv_listcache_t *c) {
  if (c == NULL) return;
  pthread_mutex_lock(&c->mu);
  c->writing--;
  c->gen++;
  pthread_mutex_unlock(&c->mu);
}

uint64_t dv_listcache_hits(dv_listcache_t *c) {
  pthread_mutex_lock(&c->mu);
  uint64_t n = c->hits;
  pthread_mutex_unlock(&c->mu);
  return n;
}
