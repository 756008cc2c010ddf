/* Shared by the files of storage/: the connection and query helpers. */
#ifndef DV_STORE_INTERNAL_H
#define DV_STORE_INTERNAL_H

#include <pthread.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "store.h"
#include "wire.h"
#include "listcache.h"
#include "vcache.h"

#define STORE_MAX_PREPARED 64

/* One statement of a pipeline (store_pipe_send). */
typedef struct store_stmt {
  const char *sql; /* a string literal, as for store_query; or "BEGIN" / "COMMIT" */
  int n;
  const char *const *vals;
  const int *lens, *fmts;
  ExecStatusType want;
  const char *what; /* for the error message */
} store_stmt_t;

#define STORE_MAX_PIPE 4

typedef struct store_pipe {
  store_stmt_t stmts[STORE_MAX_PIPE];
  int n;
  int slot[STORE_MAX_PIPE];      /* prepared statement slot, -1: not prepared */
  bool prepares[STORE_MAX_PIPE]; /* a PREPARE was sent before it */
  bool sent, was_in_tx;
} store_pipe_t;

struct dv_store {
  char *conninfo;
  PGconn *conn;
  int in_tx;
  /* statements prepared on this connection, by the address of their SQL
   * text (every statement is a string literal) */
  const char *prepared[STORE_MAX_PREPARED];
  int n_prepared;
  dv_vcache_t *cache; /* shared; NULL: none */
  dv_listcache_t *lists; /* told of every write; NULL: none */
  /* dv_store_cancel() may come from another thread */
  pthread_mutex_t cancel_mu;
  PGcancel *cancel;
  int64_t stmt_started_ms; /* under cancel_mu: when the running statement began; 0: none */
  store_pipe_t pipe; /* what store_pipe_send sent, for store_pipe_finish */
  /* dv_store_put_begin: a put's first round trip, sent ahead; the plane and
   * uuid whose history it locks, copied (its parameters, which a retried
   * pipeline reads again). sent: its results are still to be read. */
  struct put_ahead {
    bool sent;
    char *plane, *uuid;
    const char *params[2];
  } ahead;
  long puts_ahead; /* puts that went on from a round trip sent ahead (for tests) */
  /* dv_store_defer_caching: the version to cache after the reply, its data
   * in the caller's arena; pending.info NULL: none */
  bool defer_caching;
  struct pending_cache {
    dv_arena_t *arena;
    const dv_version_info_t *info;
    const uint8_t *canon;
    size_t canon_len;
    dv_wire_cfg_t split, prev; /* copies: the originals may be on the stack */
    bool has_split, has_prev;
    /* instead of split and match: made from this run against prev (its
     * base), with split's marks */
    dv_wire_run_t run;
    bool has_run;
    const size_t *match;
    int64_t lineage;
  } pending;
};

/* Run one statement with parameters. Queries (SELECT, INSERT, UPDATE,
 * DELETE) are prepared once per connection and then executed with
 * PQexecPrepared; other statements go through PQexecParams. Returns the result when
 * its status is `want`, else NULL with *err set (UNAVAILABLE when the
 * connection is lost, ABORTED for serialization failures and deadlocks,
 * ALREADY_EXISTS for unique violations, INTERNAL otherwise) naming `what`.
 * Outside a transaction a lost connection is re-opened and the statement
 * retried once. The caller PQclear()s the result. */
PGresult *store_query(dv_store_t *s, const char *sql, int n, const char *const *vals,
                      const int *lens, const int *fmts, int result_binary, ExecStatusType want,
                      const char *what, dv_err_t *err);

int store_begin(dv_store_t *s, dv_err_t *err);
/* Statements sent in one round trip (libpq's pipeline mode), without
 * waiting: the caller works while PostgreSQL runs them, then takes their
 * results from store_pipe_finish. Prepared as store_query prepares them;
 * what they point to must live until then. A pipeline that starts with
 * BEGIN opens a transaction (a failure then leaves it for store_rollback);
 * one that ends with COMMIT, when it succeeds, closes it. */
int store_pipe_send(dv_store_t *s, const store_stmt_t *stmts, int n, dv_err_t *err);
/* 0 when every statement's result was what it wants; statement keep's
 * result (keep -1: none) then in *kept, for the caller to PQclear.
 * Otherwise -1 with *err as store_query sets it, from the first statement
 * that failed; outside a transaction, a connection that died while idle is
 * reopened and the statements run again one at a time. */
int store_pipe_finish(dv_store_t *s, int keep, PGresult **kept, dv_err_t *err);
int store_commit(dv_store_t *s, dv_err_t *err);
void store_rollback(dv_store_t *s); /* no-op outside a transaction */

/* layout.c: the body of a version (full or delta), compressed or not. */
typedef struct store_body {
  int full;          /* 1: whole config; 0: delta */
  int codec;         /* 0 raw protobuf, 1 zlib */
  uint8_t *data;
  size_t len;
} store_body_t;

/* A whole version's body from its canonical encoding. */
int layout_encode_full(dv_arena_t *a, const uint8_t *canon, size_t canon_len, store_body_t *out,
                       dv_err_t *err);
/* A delta body: what `cur` changes of `prev`, from their canonical
 * encodings split at the wire level (wire.h): port groups whose bytes
 * differ are stored whole, removed identities by name, and the settings
 * when their bytes differ. Work grows with the size of the switch only
 * through one memcmp per port group. When match is not NULL, match[j] is
 * set for every port group of cur: the index + 1 of the port group of prev
 * with the same bytes, or 0. */
int layout_encode_delta_wire(dv_arena_t *a, const dv_wire_cfg_t *prev, const dv_wire_cfg_t *cur,
                             size_t *match, store_body_t *out, dv_err_t *err);
/* The same for a split given as a run against prev (wire.h: run->base is
 * prev), byte for byte, reading only the run's port groups and base's
 * that they replace. */
int layout_encode_delta_run(dv_arena_t *a, const dv_wire_run_t *run, store_body_t *out,
                            dv_err_t *err);
/* The same from decoded configs (canonicalized in place). */
int layout_encode_delta(dv_arena_t *a, dv_switch_cfg_t *prev, dv_switch_cfg_t *cur,
                        store_body_t *out, dv_err_t *err);

/* Rebuild a config from a chain: bodies[0] is full, the rest deltas in
 * order. The result is canonical. DATA_LOSS when a body does not decode. */
int layout_fold(dv_arena_t *a, const store_body_t *bodies, size_t n, dv_switch_cfg_t **out,
                dv_err_t *err);

/* The canonical encoding of the version the bodies build, as layout_fold
 * builds it, folded at the wire level without decoding a port group: base
 * (base_len bytes), when not NULL, is bodies[0] already decompressed. 0
 * with *out (arena memory); 1 when the bodies hold something only decoding
 * reads the same way (then the caller folds with layout_fold, which also
 * reports any damage); -1 when out of memory. The caller checks the
 * result against the stored checksum. */
int layout_fold_wire(dv_arena_t *a, const store_body_t *bodies, size_t n, const uint8_t *base,
                     size_t base_len, uint8_t **out, size_t *out_len, dv_err_t *err);
/* A body's bytes, decompressed (arena memory, or the body's own). */
int layout_body_raw(dv_arena_t *a, const store_body_t *b, const uint8_t **raw, size_t *len,
                    dv_err_t *err);


#endif
