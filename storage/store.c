/* The version store: connection handling, and the queries behind every
 * operation of store.h. Parameters only (PQexecParams), never pasted SQL. */
#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pthread.h>

#include <jansson.h>

#include "bigmem.h"
#include "store_internal.h"
#include "strmap.h"

/* A new whole version is written after this many deltas even when they are
 * small, to bound the number of rows a read folds. */
#define MAX_CHAIN_LENGTH 1000

/* ---------------------------------------------------------------------------
 * Connection and statements
 * ------------------------------------------------------------------------- */

static void set_cancel(dv_store_t *s, PGcancel *c) {
  pthread_mutex_lock(&s->cancel_mu);
  if (s->cancel != NULL) PQfreeCancel(s->cancel);
  s->cancel = c;
  pthread_mutex_unlock(&s->cancel_mu);
}

static int64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void statement_running(dv_store_t *s, bool running) {
  pthread_mutex_lock(&s->cancel_mu);
  s->stmt_started_ms = running ? now_ms() : 0;
  pthread_mutex_unlock(&s->cancel_mu);
}

void dv_store_cancel(dv_store_t *s, int min_running_ms) {
  if (s == NULL) return;
  char msg[256];
  pthread_mutex_lock(&s->cancel_mu);
  if (s->cancel != NULL && s->stmt_started_ms != 0 &&
      now_ms() - s->stmt_started_ms >= min_running_ms)
    PQcancel(s->cancel, msg, sizeof msg);
  pthread_mutex_unlock(&s->cancel_mu);
}

static int connect_now(dv_store_t *s, dv_err_t *err) {
  set_cancel(s, NULL);
  if (s->conn != NULL) PQfinish(s->conn);
  const char *keys[] = {"dbname", "connect_timeout", "application_name", "options", NULL};
  const char *vals[] = {s->conninfo, "5", "dvsconfd", "-c client_min_messages=warning", NULL};
  s->conn = PQconnectdbParams(keys, vals, 1);
  s->in_tx = 0;
  s->n_prepared = 0; /* a new session has none */
  if (s->conn == NULL) return DV_NOMEM(err);
  if (PQstatus(s->conn) != CONNECTION_OK) {
    dv_err_set(err, GRPC_STATUS_UNAVAILABLE, "PostgreSQL unavailable: %s",
               PQerrorMessage(s->conn));
    PQfinish(s->conn);
    s->conn = NULL;
    return -1;
  }
  set_cancel(s, PQgetCancel(s->conn)); /* NULL if out of memory: then not cancellable */
  return 0;
}

int dv_store_open(const char *conninfo, dv_store_t **out, dv_err_t *err) {
  dv_store_t *s = calloc(1, sizeof *s);
  if (s == NULL) return DV_NOMEM(err);
  pthread_mutex_init(&s->cancel_mu, NULL);
  s->conninfo = strdup(conninfo != NULL ? conninfo : "");
  if (s->conninfo == NULL) {
    pthread_mutex_destroy(&s->cancel_mu);
    free(s);
    return DV_NOMEM(err);
  }
  *out = s;
  return connect_now(s, err);
}

void dv_store_use_cache(dv_store_t *s, dv_vcache_t *cache, dv_listcache_t *lists) {
  s->cache = cache;
  s->lists = lists;
}

dv_listcache_t *dv_store_lists(const dv_store_t *s) {
  return s != NULL ? s->lists : NULL;
}

/* A put's first round trip sent ahead (dv_store_put_begin): freed, or
 * dropped (rolled back) by any other statement on the store. */
static void put_ahead_free(dv_store_t *s);
static void put_ahead_drop(dv_store_t *s);

void dv_store_close(dv_store_t *s) {
  if (s == NULL) return;
  put_ahead_free(s); /* a transaction left open ends with the connection */
  set_cancel(s, NULL);
  pthread_mutex_destroy(&s->cancel_mu);
  if (s->conn != NULL) PQfinish(s->conn);
  free(s->conninfo);
  free(s);
}

static void trim_newline(char *m) {
  size_t n = strlen(m);
  while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' ')) m[--n] = '\0';
}

static int fail_from_result(dv_store_t *s, PGresult *r, const char *what, dv_err_t *err) {
  const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  char msg[512];
  snprintf(msg, sizeof msg, "%s", r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(s->conn));
  trim_newline(msg);
  grpc_status_code code = GRPC_STATUS_INTERNAL;
  if (PQstatus(s->conn) != CONNECTION_OK || state == NULL ||
      strncmp(state, "08", 2) == 0 || strncmp(state, "57", 2) == 0) /* incl. 57014: cancelled */
    code = GRPC_STATUS_UNAVAILABLE;
  else if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
           strcmp(state, "55P03") == 0)
    code = GRPC_STATUS_ABORTED;
  else if (strcmp(state, "23505") == 0)
    code = GRPC_STATUS_ALREADY_EXISTS;
  if (code == GRPC_STATUS_UNAVAILABLE)
    return dv_err_set(err, code, "PostgreSQL unavailable while trying to %s: %s", what, msg);
  return dv_err_set(err, code, "store: %s failed: %s%s%s", what, msg, state ? " SQLSTATE " : "",
                    state ? state : "");
}

static int preparable(const char *sql) {
  return strncmp(sql, "SELECT", 6) == 0 || strncmp(sql, "INSERT", 6) == 0 ||
         strncmp(sql, "UPDATE", 6) == 0 || strncmp(sql, "DELETE", 6) == 0 ||
         strncmp(sql, "WITH", 4) == 0;
}

/* The slot of sql among the statements prepared on this connection: its
 * index, or n_prepared when it is not prepared yet, or -1 when it is not to
 * be prepared (not a query, or no slot left). */
static int prepared_slot(const dv_store_t *s, const char *sql) {
  if (!preparable(sql)) return -1;
  int k;
  for (k = 0; k < s->n_prepared; k++)
    if (s->prepared[k] == sql) return k;
  return k == STORE_MAX_PREPARED ? -1 : k;
}

/* Execute sql, prepared on this connection the first time it is seen. A
 * failed PREPARE is returned like a failed execution. */
static PGresult *exec(dv_store_t *s, const char *sql, int n, const char *const *vals,
                      const int *lens, const int *fmts, int result_binary) {
  int k = prepared_slot(s, sql);
  if (k < 0) return PQexecParams(s->conn, sql, n, NULL, vals, lens, fmts, result_binary);
  char name[16];
  snprintf(name, sizeof name, "dv%d", k);
  if (k == s->n_prepared) {
    PGresult *p = PQprepare(s->conn, name, sql, n, NULL);
    if (p == NULL || PQresultStatus(p) != PGRES_COMMAND_OK) return p;
    PQclear(p);
    s->prepared[s->n_prepared++] = sql;
  }
  return PQexecPrepared(s->conn, name, n, vals, lens, fmts, result_binary);
}

PGresult *store_query(dv_store_t *s, const char *sql, int n, const char *const *vals,
                      const int *lens, const int *fmts, int result_binary, ExecStatusType want,
                      const char *what, dv_err_t *err) {
  put_ahead_drop(s);
  for (int attempt = 0;; attempt++) {
    if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK) {
      if (s->in_tx) {
        dv_err_set(err, GRPC_STATUS_UNAVAILABLE,
                   "PostgreSQL connection lost while trying to %s", what);
        return NULL;
      }
      if (connect_now(s, err) != 0) return NULL;
    }
    statement_running(s, true);
    PGresult *r = exec(s, sql, n, vals, lens, fmts, result_binary);
    statement_running(s, false);
    if (r != NULL && PQresultStatus(r) == want) return r;
    /* A connection that died while idle shows up on the first statement:
     * outside a transaction nothing was done, so reconnect and retry once. */
    if (attempt == 0 && !s->in_tx && PQstatus(s->conn) != CONNECTION_OK) {
      PQclear(r);
      continue;
    }
    fail_from_result(s, r, what, err);
    PQclear(r);
    return NULL;
  }
}

static int exec_simple(dv_store_t *s, const char *sql, const char *what, dv_err_t *err) {
  PGresult *r = store_query(s, sql, 0, NULL, NULL, NULL, 0, PGRES_COMMAND_OK, what, err);
  if (r == NULL) return -1;
  PQclear(r);
  return 0;
}

int store_begin(dv_store_t *s, dv_err_t *err) {
  if (exec_simple(s, "BEGIN", "begin a transaction", err) != 0) return -1;
  s->in_tx = 1;
  return 0;
}

static bool is_sql(const char *sql, const char *word) { return strcmp(sql, word) == 0; }

int store_pipe_send(dv_store_t *s, const store_stmt_t *stmts, int n, dv_err_t *err) {
  put_ahead_drop(s);
  if (n < 1 || n > STORE_MAX_PIPE)
    return dv_err_set(err, GRPC_STATUS_INTERNAL, "store: %d statements in one pipeline", n);
  if (!s->in_tx && (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK) &&
      connect_now(s, err) != 0)
    return -1;
  if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK)
    return dv_err_set(err, GRPC_STATUS_UNAVAILABLE,
                      "PostgreSQL connection lost while trying to %s", stmts[0].what);
  store_pipe_t *p = &s->pipe;
  memcpy(p->stmts, stmts, (size_t)n * sizeof *stmts);
  p->n = n;
  p->was_in_tx = s->in_tx;
  if (is_sql(stmts[0].sql, "BEGIN")) s->in_tx = 1; /* from here on a failure rolls back */
  statement_running(s, true);
  bool ok = PQenterPipelineMode(s->conn);
  int next = s->n_prepared; /* the slot of the next statement prepared in this pipeline */
  for (int k = 0; ok && k < n; k++) {
    const store_stmt_t *q = &stmts[k];
    int slot = prepared_slot(s, q->sql);
    p->prepares[k] = slot == s->n_prepared;
    /* a statement sent twice in one pipeline is prepared once */
    for (int e = 0; e < k && p->prepares[k]; e++)
      if (p->prepares[e] && stmts[e].sql == q->sql) {
        slot = p->slot[e];
        p->prepares[k] = false;
      }
    if (p->prepares[k]) {
      slot = next < STORE_MAX_PREPARED ? next++ : -1;
      p->prepares[k] = slot >= 0;
    }
    p->slot[k] = slot;
    char name[16];
    snprintf(name, sizeof name, "dv%d", slot);
    ok = (!p->prepares[k] || PQsendPrepare(s->conn, name, q->sql, q->n, NULL)) &&
         (slot < 0 ? PQsendQueryParams(s->conn, q->sql, q->n, NULL, q->vals, q->lens, q->fmts, 0)
                   : PQsendQueryPrepared(s->conn, name, q->n, q->vals, q->lens, q->fmts, 0));
  }
  p->sent = ok && PQpipelineSync(s->conn);
  return 0; /* a failure to send shows in store_pipe_finish */
}

/* The results of the pipeline sent, up to its end: statement `keep`'s in
 * *out, the first that is not what it should be in *bad with its index in
 * *bad_at; all others cleared. */
static void pipe_collect(dv_store_t *s, int keep, PGresult **out, PGresult **bad, int *bad_at) {
  store_pipe_t *p = &s->pipe;
  int k = 0, nulls = 0;
  bool prepare_done = false; /* statement k's PREPARE has been answered */
  *out = *bad = NULL;
  /* NULL comes between two statements' results; twice in a row: no more */
  while (PQstatus(s->conn) == CONNECTION_OK && nulls < 2) {
    PGresult *r = PQgetResult(s->conn);
    if (r == NULL) {
      nulls++;
      continue;
    }
    nulls = 0;
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_PIPELINE_SYNC) {
      PQclear(r);
      break;
    }
    bool prepare = k < p->n && p->prepares[k] && !prepare_done;
    if (k >= p->n || st != (prepare ? PGRES_COMMAND_OK : p->stmts[k].want)) {
      if (*bad == NULL) {
        *bad = r;
        *bad_at = k < p->n ? k : p->n - 1;
      } else {
        PQclear(r);
      }
    } else if (prepare) { /* in the order sent: the slots fill up without a gap */
      s->prepared[p->slot[k]] = p->stmts[k].sql;
      s->n_prepared = p->slot[k] + 1;
      PQclear(r);
    } else if (k == keep) {
      *out = r;
    } else {
      PQclear(r);
    }
    if (prepare) {
      prepare_done = true;
    } else {
      k++;
      prepare_done = false;
    }
  }
  if (*bad == NULL) *bad_at = k < p->n ? k : p->n - 1; /* the first not answered */
}

/* The pipeline's statements again, one at a time, on a new connection. */
static int pipe_rerun(dv_store_t *s, int keep, PGresult **kept, dv_err_t *err) {
  const store_pipe_t *p = &s->pipe;
  PGresult *out = NULL;
  int rc = connect_now(s, err);
  for (int k = 0; rc == 0 && k < p->n; k++) {
    const store_stmt_t *q = &p->stmts[k];
    if (is_sql(q->sql, "BEGIN")) {
      rc = store_begin(s, err);
    } else if (is_sql(q->sql, "COMMIT")) {
      rc = store_commit(s, err);
    } else {
      PGresult *r = store_query(s, q->sql, q->n, q->vals, q->lens, q->fmts, 0, q->want, q->what,
                                err);
      if (r == NULL) rc = -1;
      else if (k == keep) out = r;
      else PQclear(r);
    }
  }
  if (rc == 0 && kept != NULL) *kept = out;
  else PQclear(out);
  return rc;
}

/* The connection closed, and with it any transaction it had open. */
static void drop_connection(dv_store_t *s) {
  set_cancel(s, NULL);
  PQfinish(s->conn);
  s->conn = NULL;
  s->in_tx = 0;
  s->n_prepared = 0;
}

int store_pipe_finish(dv_store_t *s, int keep, PGresult **kept, dv_err_t *err) {
  store_pipe_t *p = &s->pipe;
  PGresult *out = NULL, *bad = NULL;
  int bad_at = 0;
  if (kept != NULL) *kept = NULL;
  if (p->sent) pipe_collect(s, keep, &out, &bad, &bad_at);
  statement_running(s, false);
  bool ended = PQstatus(s->conn) == CONNECTION_OK && PQexitPipelineMode(s->conn);
  if (p->sent && ended && bad == NULL && (keep < 0 || out != NULL)) {
    if (is_sql(p->stmts[p->n - 1].sql, "COMMIT")) s->in_tx = 0;
    if (kept != NULL) *kept = out;
    else PQclear(out);
    return 0;
  }
  PQclear(out);
  const char *what = p->stmts[bad_at].what;
  if (p->sent && ended && bad != NULL) { /* a statement failed; the connection is sound */
    int rc = fail_from_result(s, bad, what, err);
    PQclear(bad);
    return rc;
  }
  PQclear(bad);
  /* The pipeline did not end cleanly (not all sent, results left, or the
   * connection lost): what the connection holds is not known, so it goes;
   * the next statement opens another. */
  drop_connection(s);
  if (p->was_in_tx)
    return dv_err_set(err, GRPC_STATUS_UNAVAILABLE,
                      "PostgreSQL connection lost while trying to %s", what);
  /* A connection that died while idle shows up here, as on any first
   * statement (and so would a pipeline that did not end cleanly): no
   * transaction was open, so nothing was done. */
  return pipe_rerun(s, keep, kept, err);
}

int store_commit(dv_store_t *s, dv_err_t *err) {
  int rc = exec_simple(s, "COMMIT", "commit", err);
  s->in_tx = 0;
  return rc;
}

void store_rollback(dv_store_t *s) {
  if (!s->in_tx) return;
  s->in_tx = 0;
  if (s->conn != NULL && PQstatus(s->conn) == CONNECTION_OK) {
    PGresult *r = PQexec(s->conn, "ROLLBACK");
    PQclear(r);
  }
}

/* ---------------------------------------------------------------------------
 * Rows
 * ------------------------------------------------------------------------- */

/* An audit record: its statement, and the statement's parameters. */
#define AUDIT_INSERT_SQL                                                               \
  "INSERT INTO audit_events (caller, role, method, peer, request_id, target, plan_sha256," \
  " result, message) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
#define AUDIT_NPARAMS 9

static void audit_params(const dv_audit_t *ev, const char *p[AUDIT_NPARAMS]) {
  const char *v[AUDIT_NPARAMS] = {ev->caller, ev->role,        ev->method, ev->peer,
                                  ev->request_id, ev->target, ev->plan_sha256, ev->result,
                                  ev->message};
  for (int i = 0; i < AUDIT_NPARAMS; i++) p[i] = v[i] != NULL ? v[i] : "";
}

/* The lineage of (plane, uuid): an alias first, then the switch's own
 * identity. */
#define RESOLVE_SQL                                                           \
  "SELECT switch_id FROM switch_aliases WHERE plane = $1 AND uuid = $2"      \
  " UNION ALL SELECT id FROM switches WHERE plane = $1 AND uuid = $2 LIMIT 1"

#define VINFO_COLS                                                                 \
  "v.id, v.plane, v.switch_uuid, v.switch_name, v.number,"                         \
  " (extract(epoch FROM v.created_at) * 1000000)::bigint, encode(v.checksum, 'hex')," \
  " v.note, v.labels::text, v.portgroup_count, v.scope"
#define VINFO_NCOLS 11
#define VINFO_NUMBER_COL 4 /* v.number */

/* A version as put_version needs it: VINFO_COLS, base_number, chain_bytes
 * and its base's body size. LOCK_LATEST_SQL: a switch's history, locked,
 * and its latest version (NULL columns when it has none yet), then the
 * lineage id and latest_number. */
#define LATEST_COLS                                       \
  VINFO_COLS ", v.base_number, v.chain_bytes,"            \
  " (SELECT octet_length(b.body) FROM versions b"         \
  "   WHERE b.switch_id = v.switch_id AND b.number = v.base_number)"
#define LOCK_LATEST_SQL                                                                   \
  "SELECT " LATEST_COLS ", s.id, s.latest_number"                                        \
  " FROM switches s LEFT JOIN versions v ON v.switch_id = s.id AND v.number = s.latest_number" \
  " WHERE s.id = (" RESOLVE_SQL ") FOR UPDATE OF s"
#define LOCK_LINEAGE_COL (VINFO_NCOLS + 3)
#define LOCK_LATEST_COL (VINFO_NCOLS + 4)

static int64_t col_i64(const PGresult *r, int row, int col) {
  return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* A timestamp from a column of microseconds since the epoch. */
static Google__Protobuf__Timestamp *col_time(dv_arena_t *a, const PGresult *r, int row, int col) {
  Google__Protobuf__Timestamp *ts = dv_arena_msg(a, &google__protobuf__timestamp__descriptor);
  if (ts == NULL) return NULL;
  int64_t us = col_i64(r, row, col);
  ts->seconds = us / 1000000;
  ts->nanos = (int32_t)(us % 1000000) * 1000;
  return ts;
}

/* The rows of a page asked for with LIMIT limit + 1: *more tells whether
 * the extra row came; *rows is the page's length and *out an array for
 * it. -1 when out of memory. */
static int page_of(dv_arena_t *a, const PGresult *r, int limit, bool *more, int *rows,
                   void ***out, dv_err_t *err) {
  *rows = PQntuples(r);
  *more = *rows > limit;
  if (*more) *rows = limit;
  *out = dv_arena_alloc(a, (size_t)(*rows + 1) * sizeof(void *));
  return *out != NULL ? 0 : DV_NOMEM(err);
}

static int row_to_info(dv_arena_t *a, const PGresult *r, int row, dv_version_info_t **out,
                       dv_err_t *err) {
  dv_version_info_t *v = dv_arena_msg(a, &dvsconf__v1__version_info__descriptor);
  if (v == NULL || (v->created_at = col_time(a, r, row, 5)) == NULL) return DV_NOMEM(err);
  v->id = dv_arena_strdup(a, PQgetvalue(r, row, 0));
  v->plane = dv_arena_strdup(a, PQgetvalue(r, row, 1));
  v->switch_uuid = dv_arena_strdup(a, PQgetvalue(r, row, 2));
  v->switch_name = dv_arena_strdup(a, PQgetvalue(r, row, 3));
  v->number = col_i64(r, row, 4);
  v->checksum = dv_arena_strdup(a, PQgetvalue(r, row, 6));
  v->note = dv_arena_strdup(a, PQgetvalue(r, row, 7));
  v->portgroup_count = (int32_t)col_i64(r, row, 9);
  v->scope = (Dvsconf__V1__ExportScope)col_i64(r, row, 10);
  if (v->id == NULL || v->plane == NULL || v->switch_uuid == NULL || v->switch_name == NULL ||
      v->checksum == NULL || v->note == NULL)
    return DV_NOMEM(err);

  const char *lj = PQgetvalue(r, row, 8);
  if (strcmp(lj, "{}") == 0) { /* no labels: the common case */
    *out = v;
    return 0;
  }
  json_error_t jerr;
  json_t *labels = json_loads(lj, 0, &jerr);
  if (labels == NULL || !json_is_object(labels)) {
    json_decref(labels);
    return dv_err_set(err, GRPC_STATUS_DATA_LOSS, "version %s: stored labels are not a JSON object",
                      v->id);
  }
  size_t n = json_object_size(labels);
  v->labels = dv_arena_alloc(a, (n + 1) * sizeof(void *));
  if (v->labels == NULL) {
    json_decref(labels);
    return DV_NOMEM(err);
  }
  const char *k;
  json_t *val;
  json_object_foreach(labels, k, val) {
    Dvsconf__V1__VersionInfo__LabelsEntry *e =
        dv_arena_msg(a, &dvsconf__v1__version_info__labels_entry__descriptor);
    if (e == NULL || (e->key = dv_arena_strdup(a, k)) == NULL ||
        (e->value = dv_arena_strdup(a, json_string_value(val))) == NULL) {
      json_decref(labels);
      return DV_NOMEM(err);
    }
    v->labels[v->n_labels++] = e;
  }
  json_decref(labels);
  *out = v;
  return 0;
}

static char *labels_json(dv_arena_t *a, const dv_put_t *put) {
  json_t *o = json_object();
  if (o == NULL) return NULL;
  for (size_t i = 0; i < put->n_labels; i++) {
    if (json_object_set_new(o, put->labels[i].key, json_string(put->labels[i].value)) != 0) {
      json_decref(o);
      return NULL;
    }
  }
  char *s = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
  json_decref(o);
  if (s == NULL) return NULL;
  char *r = dv_arena_strdup(a, s);
  free(s);
  return r;
}

/* ---------------------------------------------------------------------------
 * Reading a version's config: fold its chain
 * ------------------------------------------------------------------------- */

static int64_t be_i64(const char *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return (int64_t)be64toh(v);
}

static int16_t be_i16(const char *p) {
  uint16_t v;
  memcpy(&v, p, 2);
  return (int16_t)be16toh(v);
}

/* The bodies a version is built from: its whole version (bodies[0]) and
 * every delta up to it, and the id of that whole version. */
static int read_bodies(dv_store_t *s, dv_arena_t *a, const char *switch_id, int64_t base,
                       int64_t number, const char *version_id, store_body_t **out, size_t *n,
                       int64_t *base_id, dv_err_t *err) {
  char b[24], nb[24];
  snprintf(b, sizeof b, "%" PRId64, base);
  snprintf(nb, sizeof nb, "%" PRId64, number);
  const char *p[] = {switch_id, b, nb};
  PGresult *r = store_query(s,
                            "SELECT number, codec, body, id FROM versions"
                            " WHERE switch_id = $1 AND number BETWEEN $2 AND $3 ORDER BY number",
                            3, p, NULL, NULL, 1, PGRES_TUPLES_OK, "read a version's body", err);
  if (r == NULL) return -1;
  int rows = PQntuples(r), rc = -1;
  store_body_t *bodies = dv_arena_alloc(a, (size_t)(rows + 1) * sizeof *bodies);
  if (bodies == NULL) {
    DV_NOMEM(err);
    goto cleanup;
  }
  if (rows != number - base + 1) {
    dv_err_set(err, GRPC_STATUS_DATA_LOSS,
               "version %s: its history has %d of the %" PRId64 " rows it is built from",
               version_id, rows, number - base + 1);
    goto cleanup;
  }
  for (int i = 0; i < rows; i++) {
    if (PQgetlength(r, i, 0) != 8 || PQgetlength(r, i, 1) != 2 || PQgetlength(r, i, 3) != 8) {
      dv_err_set(err, GRPC_STATUS_INTERNAL, "unexpected binary column sizes");
      goto cleanup;
    }
    bodies[i].full = be_i64(PQgetvalue(r, i, 0)) == base;
    bodies[i].codec = be_i16(PQgetvalue(r, i, 1));
    bodies[i].len = (size_t)PQgetlength(r, i, 2);
    /* Copy: the result is cleared below, the config points into bodies. */
    bodies[i].data = dv_arena_memdup(a, PQgetvalue(r, i, 2), bodies[i].len);
    if (bodies[i].data == NULL) {
      DV_NOMEM(err);
      goto cleanup;
    }
  }
  *out = bodies;
  *n = (size_t)rows;
  *base_id = be_i64(PQgetvalue(r, 0, 3));
  rc = 0;
cleanup:
  PQclear(r);
  return rc;
}

static int read_config(dv_store_t *s, dv_arena_t *a, const char *switch_id, int64_t base,
                       int64_t number, const char *version_id, const char *checksum_hex,
                       dv_switch_cfg_t **out, dv_err_t *err) {
  store_body_t *bodies;
  size_t rows;
  int64_t base_id;
  if (read_bodies(s, a, switch_id, base, number, version_id, &bodies, &rows, &base_id, err) != 0)
    return -1;
  dv_switch_cfg_t *cfg;
  if (layout_fold(a, bodies, rows, &cfg, err) != 0) {
    dv_err_prefix(err, "version %s", version_id);
    return -1;
  }
  char sum[DV_SHA256_HEX_LEN + 1];
  if (dv_config_checksum(a, cfg, sum, err) != 0) return -1;
  if (strcmp(sum, checksum_hex) != 0) {
    return dv_err_set(err, GRPC_STATUS_DATA_LOSS,
                      "version %s is corrupt: its configuration's checksum is %s, stored %s",
                      version_id, sum, checksum_hex);
  }
  *out = cfg;
  return 0;
}

int dv_version_id_parse(const char *id, int64_t *out, dv_err_t *err) {
  if (id == NULL || id[0] == '\0')
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "version_id: required");
  size_t n = strlen(id);
  if (n > 18) goto bad;
  for (size_t i = 0; i < n; i++)
    if (!isdigit((unsigned char)id[i])) goto bad;
  *out = strtoll(id, NULL, 10);
  if (*out <= 0) goto bad;
  return 0;
bad:
  return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "version_id: \"%.64s\" is not a version id",
                    id);
}

/* The key of a switch's newest-version hint in the cache. */
static char *switch_key(dv_arena_t *a, const char *plane, const char *uuid) {
  return dv_arena_printf(a, "%s\x1f%s", plane, uuid); /* names hold no control characters */
}

/* The length of the packed Version {1: info, 2: config}. */
static size_t version_packed_size(const dv_version_info_t *info, size_t canon_len) {
  return dv_wire_ld_size(1, dvsconf__v1__version_info__get_packed_size(info)) +
         dv_wire_ld_size(2, canon_len);
}

/* The packed Version, as pack_version below packs it, but in a
 * dv_big_alloc'd block of *cap bytes when cap is not NULL, with `room`
 * bytes more from DV_VCACHE_ROOM_AT(*len) on. */
static uint8_t *pack_version_into(dv_arena_t *a, const dv_version_info_t *info,
                                  const uint8_t *canon, size_t canon_len, size_t room,
                                  size_t *len, size_t *cap) {
  size_t ilen = dvsconf__v1__version_info__get_packed_size(info), at = 0;
  uint8_t *ibuf = dv_arena_alloc_raw(a, ilen + 1);
  size_t n = version_packed_size(info, canon_len);
  size_t size = room > 0 ? DV_VCACHE_ROOM_AT(n) + room : n;
  uint8_t *buf = cap != NULL ? dv_big_alloc(size) : dv_arena_alloc_raw(a, n);
  if (ibuf == NULL || buf == NULL) {
    if (cap != NULL) dv_big_free(buf, size);
    return NULL;
  }
  dvsconf__v1__version_info__pack(info, ibuf);
  dv_wire_put_ld(buf, &at, 1, ibuf, ilen);
  dv_wire_put_ld(buf, &at, 2, canon, canon_len);
  *len = at;
  if (cap != NULL) *cap = size;
  return buf;
}

/* The packed Version {1: info, 2: config} of a version's canonical config,
 * in arena memory. NULL when out of memory. */
static uint8_t *pack_version(dv_arena_t *a, const dv_version_info_t *info, const uint8_t *canon,
                             size_t canon_len, size_t *len) {
  return pack_version_into(a, info, canon, canon_len, 0, len, NULL);
}

/* split (may be NULL) is the new version's, prev the previous version's
 * (may be NULL), match what layout_encode_delta_wire found equal in them:
 * the split is kept with the cached version, with its port groups'
 * digests, most of them taken from prev. */
static void cache_new_version(dv_store_t *s, dv_arena_t *a, const dv_version_info_t *info,
                              const uint8_t *canon, size_t canon_len, const dv_wire_cfg_t *split,
                              const dv_wire_cfg_t *prev, const size_t *match, int64_t lineage) {
  if (s->cache == NULL) return;
  /* its split, when there is one, with digests: made first, so that the
   * version's block has room for its copy (one block: bigmem.h) */
  dv_wire_cfg_t w;
  if (split != NULL) {
    w = *split;
    w.digests = w.block_digests = NULL;
    (void)dv_wire_digest_pgs(a, &w, prev, match); /* out of memory: kept without */
  }
  size_t at, cap, room = split != NULL ? dv_wire_cfg_dup_size(&w) : 0;
  /* a cache too small for the version with that room keeps it without
   * (and the split, then, in a block of its own) */
  if (room > 0 && !dv_vcache_fits(s->cache, DV_VCACHE_ROOM_AT(version_packed_size(info, canon_len))
                                                + room))
    room = 0;
  uint8_t *buf = pack_version_into(a, info, canon, canon_len, room, &at, &cap);
  if (buf == NULL) return;
  int64_t vid = strtoll(info->id, NULL, 10), lin;
  dv_vcache_put_owned(s->cache, vid, buf, at, cap, lineage); /* no second copy */
  char *key = switch_key(a, info->plane, info->switch_uuid);
  if (key != NULL) dv_vcache_note_latest(s->cache, key, vid);
  /* and the split, moved onto the cached bytes: in the cached block's room
   * when it has one (vcache.h: the cache says, not `buf`, which another
   * thread's entry may have taken over by now), else a block of its own */
  const uint8_t *v, *cfg;
  size_t len, cfg_len, bytes;
  const void *aux;
  dv_err_t ignored = DV_ERR_INIT;
  if (split == NULL || !dv_vcache_get_ref(s->cache, vid, a, &v, &len, &lin, &aux) ||
      aux != NULL || dv_wire_field(v, len, 2, &cfg, &cfg_len, &ignored) != 0 || cfg_len != canon_len)
    return;
  void *in = room > 0 ? dv_vcache_room(s->cache, vid, v, room) : NULL;
  if (in != NULL) {
    dv_vcache_set_aux_inside(s->cache, vid, v, dv_wire_cfg_dup_at(&w, canon, cfg, in));
    return;
  }
  dv_wire_cfg_t *keep = dv_wire_cfg_dup(&w, canon, cfg, &bytes);
  if (keep != NULL) dv_vcache_set_aux(s->cache, vid, v, keep, bytes);
}

void dv_store_defer_caching(dv_store_t *s, bool on) {
  dv_store_after_reply(s); /* nothing is left behind by a change of mind */
  s->defer_caching = on;
}

void dv_store_after_reply(dv_store_t *s) {
  if (s == NULL || s->pending.info == NULL) return;
  struct pending_cache p = s->pending;
  s->pending.info = NULL;
  if (p.has_run) { /* its split and matches now (none when out of memory: cached without) */
    size_t *match = dv_arena_alloc_raw(p.arena, (dv_wire_run_count(&p.run) + 1) * sizeof *match);
    dv_wire_cfg_t made;
    p.has_split = match != NULL && dv_wire_run_split(p.arena, &p.run, &made, match) == 0;
    if (p.has_split) {
      made.sha_marks = p.split.sha_marks; /* put_version left them there */
      made.sha_marks_len = p.split.sha_marks_len;
      p.split = made;
      p.match = match;
    }
  }
  cache_new_version(s, p.arena, p.info, p.canon, p.canon_len, p.has_split ? &p.split : NULL,
                    p.has_prev ? &p.prev : NULL, p.match, p.lineage);
}

/* A cached version: the packed Version message {info, config}. */
static int from_cache(dv_store_t *s, dv_arena_t *a, int64_t vid, dv_version_info_t **info,
                      dv_switch_cfg_t **config, int64_t *lineage) {
  const uint8_t *data;
  size_t len;
  int64_t lin;
  if (!dv_vcache_get_ref(s->cache, vid, a, &data, &len, &lin, NULL)) return 0;
  Dvsconf__V1__Version *v = dvsconf__v1__version__unpack(dv_arena_allocator(a), len, data);
  if (v == NULL || v->info == NULL || v->config == NULL) return 0;
  if (info != NULL) *info = v->info;
  if (config != NULL) *config = v->config;
  if (lineage != NULL) *lineage = lin;
  return 1;
}

static void to_cache(dv_store_t *s, dv_arena_t *a, int64_t vid, dv_version_info_t *info,
                     dv_switch_cfg_t *config, int64_t lineage) {
  if (s->cache == NULL) return;
  Dvsconf__V1__Version v = DVSCONF__V1__VERSION__INIT;
  v.info = info;
  v.config = config;
  size_t len = dvsconf__v1__version__get_packed_size(&v);
  uint8_t *buf = dv_arena_alloc_raw(a, len + 1);
  if (buf == NULL) return;
  dvsconf__v1__version__pack(&v, buf);
  dv_vcache_put(s->cache, vid, buf, len, lineage);
}

/* Version id's row: its info, switch, whole version's number, lineage. */
static int read_info(dv_store_t *s, dv_arena_t *a, const char *id, dv_version_info_t **info,
                     char **switch_id, int64_t *base, int64_t *lineage, dv_err_t *err) {
  const char *p[] = {id};
  PGresult *r = store_query(s,
                            "SELECT " VINFO_COLS ", v.switch_id, v.base_number"
                            " FROM versions v WHERE v.id = $1",
                            1, p, NULL, NULL, 0, PGRES_TUPLES_OK, "read a version", err);
  if (r == NULL) return -1;
  int rc = -1;
  if (PQntuples(r) == 0) {
    dv_err_set(err, GRPC_STATUS_NOT_FOUND, "version %s not found", id);
  } else if (row_to_info(a, r, 0, info, err) == 0) {
    *lineage = col_i64(r, 0, VINFO_NCOLS);
    *base = col_i64(r, 0, VINFO_NCOLS + 1);
    *switch_id = dv_arena_strdup(a, PQgetvalue(r, 0, VINFO_NCOLS));
    rc = *switch_id != NULL ? 0 : DV_NOMEM(err);
  }
  PQclear(r);
  return rc;
}

static int get_version(dv_store_t *s, dv_arena_t *a, const char *id, dv_version_info_t **info,
                       dv_switch_cfg_t **config, int64_t *lineage, dv_err_t *err) {
  int64_t vid;
  if (dv_version_id_parse(id, &vid, err) != 0) return -1;
  if (from_cache(s, a, vid, info, config, lineage)) return 0;
  dv_version_info_t *v;
  char *switch_id;
  int64_t base, lin;
  if (read_info(s, a, id, &v, &switch_id, &base, &lin, err) != 0) return -1;
  if (config != NULL) {
    dv_switch_cfg_t *cfg = NULL;
    if (read_config(s, a, switch_id, base, v->number, v->id, v->checksum, &cfg, err) != 0)
      return -1;
    to_cache(s, a, vid, v, cfg, lin);
    *config = cfg;
  }
  if (info != NULL) *info = v;
  if (lineage != NULL) *lineage = lin;
  return 0;
}

int dv_store_get_version(dv_store_t *s, dv_arena_t *a, const char *id, dv_version_info_t **info,
                         dv_switch_cfg_t **config, dv_err_t *err) {
  return get_version(s, a, id, info, config, NULL, err);
}

/* A whole version just decompressed for a read of a later one: cached as
 * it would be if read itself (verified against its own checksum), so that
 * reads of the versions after it fold from memory. Best effort, and not
 * inside a transaction (a write's read of the previous version): a failed
 * statement there would spoil the write. */
static void cache_whole(dv_store_t *s, dv_arena_t *a, int64_t id, const uint8_t *canon,
                        size_t len) {
  char ids[24];
  snprintf(ids, sizeof ids, "%" PRId64, id);
  dv_version_info_t *info;
  char *switch_id;
  int64_t base, lineage;
  char sum[DV_SHA256_HEX_LEN + 1];
  dv_err_t ignored = DV_ERR_INIT;
  size_t n;
  uint8_t *buf;
  if (read_info(s, a, ids, &info, &switch_id, &base, &lineage, &ignored) != 0) return;
  dv_sha256_hex(canon, len, sum);
  if (strcmp(sum, info->checksum) == 0 && (buf = pack_version(a, info, canon, len, &n)))
    dv_vcache_put(s->cache, id, buf, n, lineage);
}

/* A version's canonical encoding, folded at the wire level from its whole
 * version (taken from the cache when it is there: no decompression) and
 * the deltas after it, and matching its checksum: 0. 1 when that could not
 * be done (the caller reads it decoded, which reports any damage). */
static int read_canonical(dv_store_t *s, dv_arena_t *a, const char *switch_id, int64_t base,
                          int64_t number, const char *version_id, const char *checksum_hex,
                          const uint8_t **out, size_t *out_len, dv_err_t *err) {
  store_body_t *bodies;
  size_t rows, base_len = 0;
  int64_t base_id, lin;
  if (read_bodies(s, a, switch_id, base, number, version_id, &bodies, &rows, &base_id, err) != 0)
    return -1;
  const uint8_t *cached, *base_cfg = NULL;
  size_t cached_len;
  dv_err_t ignored = DV_ERR_INIT;
  bool decompressed = false;
  if (dv_vcache_get_ref(s->cache, base_id, a, &cached, &cached_len, &lin, NULL) &&
      dv_wire_field(cached, cached_len, 2, &base_cfg, &base_len, &ignored) != 0)
    base_cfg = NULL;
  if (base_cfg == NULL && bodies[0].full) {
    if (layout_body_raw(a, &bodies[0], &base_cfg, &base_len, &ignored) != 0) return 1;
    decompressed = true;
  }
  uint8_t *canon;
  size_t len;
  int rc = layout_fold_wire(a, bodies, rows, base_cfg, base_len, &canon, &len, err);
  if (rc != 0) return rc;
  char sum[DV_SHA256_HEX_LEN + 1];
  dv_sha256_hex(canon, len, sum);
  if (strcmp(sum, checksum_hex) != 0) return 1;
  if (decompressed && rows > 1 && !s->in_tx && dv_vcache_fits(s->cache, base_len))
    cache_whole(s, a, base_id, base_cfg, base_len);
  *out = canon;
  *out_len = len;
  return 0;
}

/* The packed Version {info, config}, verified: the cached bytes when there,
 * without decoding them. */
static int get_version_packed(dv_store_t *s, dv_arena_t *a, const char *id, const uint8_t **out,
                              size_t *len, int64_t *lineage, dv_err_t *err) {
  int64_t vid;
  if (dv_version_id_parse(id, &vid, err) != 0) return -1;
  if (dv_vcache_get_ref(s->cache, vid, a, out, len, lineage, NULL)) return 0; /* no copy */
  /* folded at the wire level: the packed Version is {1: info, 2: config} */
  Dvsconf__V1__Version v = DVSCONF__V1__VERSION__INIT;
  char *switch_id;
  int64_t base;
  const uint8_t *canon;
  size_t canon_len;
  if (read_info(s, a, id, &v.info, &switch_id, &base, lineage, err) != 0) return -1;
  int rc = read_canonical(s, a, switch_id, base, v.info->number, v.info->id, v.info->checksum,
                          &canon, &canon_len, err);
  if (rc < 0) return -1;
  if (rc == 0) {
    size_t at;
    uint8_t *buf = pack_version(a, v.info, canon, canon_len, &at);
    if (buf == NULL) return DV_NOMEM(err);
    if (s->cache != NULL) dv_vcache_put(s->cache, vid, buf, at, *lineage);
    *out = buf;
    *len = at;
    return 0;
  }
  /* decoded, as Import reads it (and with its errors) */
  if (read_config(s, a, switch_id, base, v.info->number, v.info->id, v.info->checksum, &v.config,
                  err) != 0)
    return -1;
  *len = dvsconf__v1__version__get_packed_size(&v);
  uint8_t *data = dv_arena_alloc_raw(a, *len + 1);
  if (data == NULL) return DV_NOMEM(err);
  dvsconf__v1__version__pack(&v, data);
  if (s->cache != NULL) dv_vcache_put(s->cache, vid, data, *len, *lineage);
  *out = data;
  return 0;
}

static int split_config(dv_arena_t *a, const uint8_t *v, size_t len, dv_wire_cfg_t *w,
                        dv_err_t *err) {
  const uint8_t *cfg;
  size_t cfg_len;
  if (dv_wire_field(v, len, 2, &cfg, &cfg_len, err) != 0) return -1;
  return dv_wire_split_config(a, cfg, cfg_len, w, err);
}

static int get_config_split(dv_store_t *s, dv_arena_t *a, const char *id,
                            const dv_wire_cfg_t **out, int64_t *lineage, dv_err_t *err) {
  int64_t vid;
  if (dv_version_id_parse(id, &vid, err) != 0) return -1;
  const uint8_t *v;
  size_t len;
  const void *aux = NULL;
  bool cached = dv_vcache_get_ref(s->cache, vid, a, &v, &len, lineage, &aux);
  if (cached && aux != NULL) {
    *out = aux;
    return 0;
  }
  /* a miss reads the version, which caches it: split the cached bytes then,
   * so that the split can be kept with them */
  if (!cached) {
    if (get_version_packed(s, a, id, &v, &len, lineage, err) != 0) return -1;
    cached = dv_vcache_get_ref(s->cache, vid, a, &v, &len, lineage, NULL);
  }
  dv_wire_cfg_t *w = dv_arena_alloc_raw(a, sizeof *w);
  if (w == NULL) return DV_NOMEM(err);
  if (split_config(a, v, len, w, err) != 0) return -1;
  if (cached) {
    (void)dv_wire_digest_pgs(a, w, NULL, NULL); /* out of memory: kept without */
    size_t bytes;
    dv_wire_cfg_t *keep = dv_wire_cfg_dup(w, v, v, &bytes);
    if (keep != NULL) dv_vcache_set_aux(s->cache, vid, v, keep, bytes); /* a cache may forget */
  }
  *out = w;
  return 0;
}

/* The split kept with the newest version of (plane, uuid) this process
 * has cached, or NULL. */
static const dv_wire_cfg_t *cached_latest_split(dv_store_t *s, dv_arena_t *a, const char *plane,
                                                const char *uuid) {
  char *key = switch_key(a, plane, uuid);
  int64_t hint = key != NULL ? dv_vcache_latest(s->cache, key) : 0, lineage;
  const uint8_t *v;
  size_t len;
  const void *aux = NULL;
  if (hint > 0 && dv_vcache_get_ref(s->cache, hint, a, &v, &len, &lineage, &aux)) return aux;
  return NULL;
}

int dv_store_latest_split(dv_store_t *s, dv_arena_t *a, const char *plane, const char *uuid,
                          const dv_wire_cfg_t **split, dv_err_t *err) {
  /* the newest version this process knows of, when its split is at hand;
   * else ask the database */
  if ((*split = cached_latest_split(s, a, plane, uuid)) != NULL) return 0;
  char *key = switch_key(a, plane, uuid);
  if (key == NULL) return DV_NOMEM(err);
  int64_t lineage;
  const char *p[] = {plane, uuid};
  PGresult *r = store_query(s,
                            "SELECT v.id FROM versions v JOIN switches s"
                            " ON s.id = v.switch_id AND v.number = s.latest_number"
                            " WHERE s.id = (" RESOLVE_SQL ")",
                            2, p, NULL, NULL, 0, PGRES_TUPLES_OK, "read a switch's latest version",
                            err);
  if (r == NULL) return -1;
  *split = NULL;
  int rc = 0;
  if (PQntuples(r) > 0) {
    char *id = dv_arena_strdup(a, PQgetvalue(r, 0, 0));
    rc = id != NULL ? get_config_split(s, a, id, split, &lineage, err) : DV_NOMEM(err);
    if (rc == 0) dv_vcache_note_latest(s->cache, key, strtoll(id, NULL, 10));
  }
  PQclear(r);
  return rc;
}

int dv_store_get_config_split(dv_store_t *s, dv_arena_t *a, const char *id,
                              const dv_wire_cfg_t **split, int64_t *lineage, dv_err_t *err) {
  return get_config_split(s, a, id, split, lineage, err);
}

int dv_store_get_version_packed(dv_store_t *s, dv_arena_t *a, const char *id,
                                const uint8_t **version, size_t *version_len, int64_t *lineage,
                                dv_err_t *err) {
  int64_t ignored;
  return get_version_packed(s, a, id, version, version_len, lineage ? lineage : &ignored, err);
}

int dv_store_get_version_lineage(dv_store_t *s, dv_arena_t *a, const char *id,
                                 dv_version_info_t **info, dv_switch_cfg_t **config,
                                 int64_t *lineage, dv_err_t *err) {
  return get_version(s, a, id, info, config, lineage, err);
}

/* ---------------------------------------------------------------------------
 * Writing a version
 * ------------------------------------------------------------------------- */

/* The lineage of (plane, uuid): an alias first, then the switch's own
 * identity. *found = 0 when none. */
static int resolve_lineage(dv_store_t *s, const char *plane, const char *uuid, char *id,
                           size_t idlen, int *found, dv_err_t *err) {
  const char *p[] = {plane, uuid};
  PGresult *r = store_query(s, RESOLVE_SQL, 2, p, NULL, NULL, 0, PGRES_TUPLES_OK,
                            "look up a switch", err);
  if (r == NULL) return -1;
  *found = PQntuples(r) > 0;
  if (*found) snprintf(id, idlen, "%s", PQgetvalue(r, 0, 0));
  PQclear(r);
  return 0;
}

static int ensure_lineage(dv_store_t *s, const char *plane, const dv_switch_cfg_t *cfg, char *id,
                          size_t idlen, dv_err_t *err) {
  int found;
  if (resolve_lineage(s, plane, cfg->uuid, id, idlen, &found, err) != 0) return -1;
  if (found) return 0;
  const char *p[] = {plane, cfg->uuid, cfg->name};
  /* ON CONFLICT: another process may create it at the same moment; both
   * then find the same row below. */
  PGresult *r = store_query(s,
                            "INSERT INTO switches (plane, uuid, name) VALUES ($1, $2, $3)"
                            " ON CONFLICT (plane, uuid) DO NOTHING",
                            3, p, NULL, NULL, 0, PGRES_COMMAND_OK, "record a new switch", err);
  if (r == NULL) return -1;
  PQclear(r);
  if (resolve_lineage(s, plane, cfg->uuid, id, idlen, &found, err) != 0) return -1;
  if (!found)
    return dv_err_set(err, GRPC_STATUS_INTERNAL, "switch %s on plane %s vanished after insert",
                      cfg->uuid, plane);
  return 0;
}

/* The end of a put's transaction, in one round trip: the statement that
 * stores the version (NULL: none, the version is unchanged), its result
 * into *kept; the call's audit record (NULL: none); the commit. */
static int put_finish(dv_store_t *s, const store_stmt_t *store, const dv_audit_t *audit,
                      PGresult **kept, dv_err_t *err) {
  store_stmt_t tail[3];
  const char *ap[AUDIT_NPARAMS];
  int n = 0;
  if (store != NULL) tail[n++] = *store;
  if (audit != NULL) {
    audit_params(audit, ap);
    tail[n++] = (store_stmt_t){AUDIT_INSERT_SQL, AUDIT_NPARAMS, ap, NULL, NULL, PGRES_COMMAND_OK,
                               "append to the audit log"};
  }
  tail[n++] = (store_stmt_t){"COMMIT", 0, NULL, NULL, NULL, PGRES_COMMAND_OK, "commit"};
  if (store_pipe_send(s, tail, n, err) != 0) return -1;
  return store_pipe_finish(s, store != NULL ? 0 : -1, kept, err);
}

/* A put's first round trip: begin, and lock the switch's history and read
 * its latest version in one statement (LOCK_LATEST_SQL): concurrent writers
 * of one switch, in this process or another, take turns here, so numbers
 * stay gapless. lp: plane and uuid, alive until the pipeline is finished. */
static int put_head_send(dv_store_t *s, const char *const lp[2], dv_err_t *err) {
  const store_stmt_t head[] = {
      {"BEGIN", 0, NULL, NULL, NULL, PGRES_COMMAND_OK, "begin a transaction"},
      /* a put's statements are all lookups and writes by key: their plans
       * do not depend on the values, so none is planned again (a fresh
       * connection planned the lock for 0.3-1 ms, five times over) */
      {"SET LOCAL plan_cache_mode = force_generic_plan", 0, NULL, NULL, NULL, PGRES_COMMAND_OK,
       "choose generic plans"},
      {LOCK_LATEST_SQL, 2, lp, NULL, NULL, PGRES_TUPLES_OK, "lock a switch's history"}};
  return store_pipe_send(s, head, 3, err);
}

static void put_ahead_free(dv_store_t *s) {
  free(s->ahead.plane);
  free(s->ahead.uuid);
  s->ahead = (struct put_ahead){0};
}

/* How long a round trip sent ahead and not used is waited for before it is
 * cancelled: PostgreSQL answers a pipeline at its end, so no answer yet
 * means that the lock is being waited for, behind another writer. */
#define AHEAD_WAIT_MS 20

/* A round trip sent ahead and not used: its results read, its transaction
 * rolled back. Never run again: on a connection that died while idle,
 * store_pipe_finish would run it on a new one, lock wait and all; the
 * connection closed is its rollback. */
static void put_ahead_drop(dv_store_t *s) {
  if (!s->ahead.sent) return;
  s->ahead.sent = false;
  if (s->conn != NULL && PQstatus(s->conn) == CONNECTION_OK && PQisBusy(s->conn)) {
    struct pollfd p = {.fd = PQsocket(s->conn), .events = POLLIN};
    if (poll(&p, 1, AHEAD_WAIT_MS) == 0) {
      if (s->cancel != NULL) dv_store_cancel(s, 0);
      else drop_connection(s); /* none to cancel with (out of memory) */
    }
  }
  if (s->conn != NULL) {
    dv_err_t ignored = DV_ERR_INIT;
    s->pipe.was_in_tx = true;
    store_pipe_finish(s, -1, NULL, &ignored);
    store_rollback(s);
  }
  put_ahead_free(s);
}

void dv_store_put_abandon(dv_store_t *s) {
  if (s != NULL) put_ahead_drop(s);
}

int dv_store_put_begin(dv_store_t *s, const char *plane, const char *uuid, dv_err_t *err) {
  put_ahead_drop(s);
  /* a shortcut only: no connection is opened for it (the put opens one) */
  if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK)
    return dv_err_set(err, GRPC_STATUS_UNAVAILABLE, "no PostgreSQL connection to send ahead on");
  s->ahead.plane = strdup(plane);
  s->ahead.uuid = strdup(uuid);
  if (s->ahead.plane == NULL || s->ahead.uuid == NULL) {
    put_ahead_free(s);
    return DV_NOMEM(err);
  }
  s->ahead.params[0] = s->ahead.plane;
  s->ahead.params[1] = s->ahead.uuid;
  if (put_head_send(s, s->ahead.params, err) != 0) {
    put_ahead_free(s);
    return -1;
  }
  s->ahead.sent = true;
  return 0;
}

static int put_version(dv_store_t *s, dv_arena_t *a, const dv_put_t *put,
                       dv_version_info_t **out, bool *unchanged, dv_err_t *err);

int dv_store_put_version(dv_store_t *s, dv_arena_t *a, const dv_put_t *put,
                         dv_version_info_t **out, bool *unchanged, dv_err_t *err) {
  int rc = put_version(s, a, put, out, unchanged, err);
  put_ahead_drop(s); /* sent ahead for a put that failed before using it */
  return rc;
}

static int put_version(dv_store_t *s, dv_arena_t *a, const dv_put_t *put,
                       dv_version_info_t **out, bool *unchanged, dv_err_t *err) {
  dv_switch_cfg_t *cfg = put->config;
  const uint8_t *canon = put->canon;
  size_t canon_len = put->canon_len;
  size_t n_portgroups = put->canon_split != NULL ? put->canon_split->n_pgs
                        : put->canon_run != NULL ? dv_wire_run_count(put->canon_run)
                                                 : cfg->n_portgroups;
  char sum[DV_SHA256_HEX_LEN + 1];
  if (cfg->uuid[0] == '\0')
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "config.uuid: required");
  dv_store_after_reply(s); /* one pending version at a time */
  if (canon == NULL) {
    uint8_t *enc;
    if (dv_config_encode(a, cfg, &enc, &canon_len, err) != 0) return -1;
    if (dv_config_check_identities(cfg, err) != 0) return -1;
    canon = enc;
  }
  char *labels = labels_json(a, put);
  if (labels == NULL) return DV_NOMEM(err);

  PGresult *r = NULL;
  /* the new and the previous version split, and what is equal in them */
  const dv_wire_cfg_t *prev_w = NULL, *cur_w = put->canon_split;
  const dv_wire_run_t *run = cur_w == NULL ? put->canon_run : NULL; /* cur_w, to be made */
  size_t *match = NULL;
  int rc = -1;
  char lineage[24];
  *unchanged = false;
  /* Lock the switch's history and read its latest version, in one
   * statement (put_head_send), unless dv_store_put_begin sent it ahead.
   * The checksum is computed while PostgreSQL runs it. A new switch is
   * recorded first (ensure_lineage), then locked the same way. */
  const char *lp[] = {put->plane, cfg->uuid};
  bool ahead = s->ahead.sent && strcmp(s->ahead.plane, put->plane) == 0 &&
               strcmp(s->ahead.uuid, cfg->uuid) == 0;
  if (ahead) {
    s->ahead.sent = false; /* its results are read below */
    s->puts_ahead++;
  } else if (put_head_send(s, lp, err) != 0) return -1;
  /* resumed where the switch's latest version, when cached, stops having
   * the same bytes (model.h: dv_sha256_marked) */
  const dv_wire_cfg_t *like = cached_latest_split(s, a, put->plane, cfg->uuid);
  const uint8_t *marks = NULL;
  size_t same = 0, marks_len = 0;
  if (like != NULL && (like->sha_marks == NULL || like->buf == NULL)) like = NULL;
  if (like != NULL) {
    size_t shorter = canon_len < like->buf_len ? canon_len : like->buf_len;
    same = dv_wire_common_prefix(canon, like->buf, shorter);
  }
  dv_sha256_marked(a, canon, canon_len, like != NULL ? like->sha_marks : NULL,
                   like != NULL ? like->sha_marks_len : 0, same, &marks, &marks_len, sum);
  int got = store_pipe_finish(s, 2, &r, err);
  put_ahead_free(s); /* its parameters: read again only by a retried pipeline */
  if (got != 0) goto cleanup;
  if (PQntuples(r) == 0) {
    PQclear(r);
    r = NULL;
    if (ensure_lineage(s, put->plane, cfg, lineage, sizeof lineage, err) != 0) goto cleanup;
    r = store_query(s, LOCK_LATEST_SQL, 2, lp, NULL, NULL, 0, PGRES_TUPLES_OK,
                    "lock a switch's history", err);
    if (r == NULL) goto cleanup;
  }
  if (PQntuples(r) != 1) {
    dv_err_set(err, GRPC_STATUS_INTERNAL, "switch %s on plane %s vanished after insert", cfg->uuid,
               put->plane);
    goto cleanup;
  }
  snprintf(lineage, sizeof lineage, "%s", PQgetvalue(r, 0, LOCK_LINEAGE_COL));
  int64_t latest = col_i64(r, 0, LOCK_LATEST_COL);

  store_body_t body;
  int64_t base = latest + 1, chain = 0;
  if (latest > 0) {
    if (PQgetisnull(r, 0, 0) || col_i64(r, 0, VINFO_NUMBER_COL) != latest) {
      /* The lock was waited for, and the history moved on meanwhile: READ
       * COMMITTED re-reads the locked switch row, not the version joined
       * to it. Read the latest version again, under the lock now. */
      char ln[24];
      snprintf(ln, sizeof ln, "%" PRId64, latest);
      const char *p[] = {lineage, ln};
      PQclear(r);
      r = store_query(s,
                      "SELECT " LATEST_COLS
                      " FROM versions v WHERE v.switch_id = $1 AND v.number = $2",
                      2, p, NULL, NULL, 0, PGRES_TUPLES_OK, "read the latest version", err);
      if (r == NULL) goto cleanup;
      if (PQntuples(r) != 1) {
        dv_err_set(err, GRPC_STATUS_DATA_LOSS,
                   "switch history %s: latest version %" PRId64 " missing", lineage, latest);
        goto cleanup;
      }
    }
    dv_version_info_t *prev_info;
    if (row_to_info(a, r, 0, &prev_info, err) != 0) goto cleanup;
    if (strcmp(prev_info->checksum, sum) == 0 && (int)prev_info->scope == put->scope &&
        strcmp(prev_info->plane, put->plane) == 0) {
      *unchanged = true;
      *out = prev_info;
      PQclear(r);
      r = NULL;
      rc = put_finish(s, NULL, put->audit, NULL, err);
      goto cleanup;
    }
    int64_t prev_base = col_i64(r, 0, VINFO_NCOLS);
    int64_t prev_chain = col_i64(r, 0, VINFO_NCOLS + 1);
    int64_t base_len = col_i64(r, 0, VINFO_NCOLS + 2);
    PQclear(r);
    r = NULL;
    /* the previous version's canonical bytes: from the cache of verified
     * versions, else read, verified and cached */
    int64_t pv_lineage;
    if (get_config_split(s, a, prev_info->id, &prev_w, &pv_lineage, err) != 0) goto cleanup;
    if (run != NULL && run->base == prev_w) {
      /* a run in this very split: the delta read off it; the whole split
       * and what matches made after the reply */
      if (layout_encode_delta_run(a, run, &body, err) != 0) goto cleanup;
    } else {
      if (cur_w == NULL) {
        dv_wire_cfg_t *w = dv_arena_alloc_raw(a, sizeof *w);
        if (w == NULL || (run != NULL && dv_wire_run_split(a, run, w, NULL) != 0)) {
          DV_NOMEM(err);
          goto cleanup;
        }
        if (run == NULL && dv_wire_split_config(a, canon, canon_len, w, err) != 0) goto cleanup;
        cur_w = w;
        run = NULL;
      }
      match = dv_arena_alloc_raw(a, (cur_w->n_pgs + 1) * sizeof *match);
      if (match == NULL) {
        DV_NOMEM(err);
        goto cleanup;
      }
      if (layout_encode_delta_wire(a, prev_w, cur_w, match, &body, err) != 0) goto cleanup;
    }
    chain = prev_chain + (int64_t)body.len;
    if (chain <= base_len && latest + 1 - prev_base < MAX_CHAIN_LENGTH)
      base = prev_base;
    else
      chain = 0;
  } else {
    PQclear(r);
    r = NULL;
  }
  if (base == latest + 1 && layout_encode_full(a, canon, canon_len, &body, err) != 0) goto cleanup;

  char num[24], bnum[24], chainb[24], codec[8], pgc[16], scope[8];
  char sumx[DV_SHA256_HEX_LEN + 3];
  snprintf(num, sizeof num, "%" PRId64, latest + 1);
  snprintf(bnum, sizeof bnum, "%" PRId64, base);
  snprintf(chainb, sizeof chainb, "%" PRId64, chain);
  snprintf(codec, sizeof codec, "%d", body.codec);
  snprintf(pgc, sizeof pgc, "%zu", n_portgroups);
  snprintf(scope, sizeof scope, "%d", put->scope);
  snprintf(sumx, sizeof sumx, "\\x%s", sum);
  const char *ip[] = {lineage, num, put->plane, cfg->uuid, cfg->name, sumx,
                      put->note ? put->note : "", labels, scope, pgc, bnum, chainb, codec,
                      (const char *)body.data};
  int ilen[14] = {0};
  int ifmt[14] = {0};
  ilen[13] = (int)body.len;
  ifmt[13] = 1; /* body as binary */
  /* the version and the history's advance, in one statement */
  const store_stmt_t insert = {
      "WITH inserted AS ("
      " INSERT INTO versions AS v (switch_id, number, plane, switch_uuid, switch_name,"
      " checksum, note, labels, scope, portgroup_count, base_number, chain_bytes,"
      " codec, body) VALUES ($1, $2, $3, $4, $5, $6::bytea, $7, $8::jsonb, $9, $10,"
      " $11, $12, $13, $14) RETURNING " VINFO_COLS "),"
      " advanced AS (UPDATE switches SET latest_number = $2, name = $5 WHERE id = $1)"
      " SELECT * FROM inserted",
      14, ip, ilen, ifmt, PGRES_TUPLES_OK, "store a version"};
  dv_listcache_writing(s->lists);
  rc = put_finish(s, &insert, put->audit, &r, err);
  dv_listcache_written(s->lists);
  /* Stored: a version info that cannot be made now (out of memory) fails
   * the call, and its retry finds the version unchanged. */
  if (rc == 0) rc = row_to_info(a, r, 0, out, err);
  /* The next version of this switch is stored against this one: keep it
   * in the cache, as verified as a read would have it (its bytes are the
   * ones just checksummed). */
  if (rc == 0) {
    s->pending = (struct pending_cache){.arena = a,
                                        .info = *out,
                                        .canon = canon,
                                        .canon_len = canon_len,
                                        .has_split = cur_w != NULL,
                                        .has_prev = prev_w != NULL,
                                        /* (no previous version: the split alone) */
                                        .has_run = run != NULL && (run->base == prev_w ||
                                                                   prev_w == NULL),
                                        .match = match,
                                        .lineage = strtoll(lineage, NULL, 10)};
    if (cur_w != NULL) {
      s->pending.split = *cur_w; /* a split of canon, with its marks */
      s->pending.split.sha_marks = marks;
      s->pending.split.sha_marks_len = marks_len;
    }
    if (prev_w != NULL) s->pending.prev = *prev_w;
    if (s->pending.has_run) {
      s->pending.run = *run;
      s->pending.split.sha_marks = marks; /* for the split made from it */
      s->pending.split.sha_marks_len = marks_len;
    }
    if (!s->defer_caching) dv_store_after_reply(s);
  }
cleanup:
  PQclear(r);
  if (rc != 0) store_rollback(s);
  return rc;
}

int dv_store_latest_for(dv_store_t *s, dv_arena_t *a, const char *plane, const char *uuid,
                        dv_version_info_t **out, int64_t *lineage, dv_err_t *err) {
  char id[24];
  int found;
  *out = NULL;
  if (resolve_lineage(s, plane, uuid, id, sizeof id, &found, err) != 0) return -1;
  if (!found) return 0;
  if (lineage != NULL) *lineage = strtoll(id, NULL, 10);
  const char *p[] = {id};
  PGresult *r = store_query(s,
                            "SELECT " VINFO_COLS " FROM versions v JOIN switches s"
                            " ON s.id = v.switch_id AND v.number = s.latest_number WHERE s.id = $1",
                            1, p, NULL, NULL, 0, PGRES_TUPLES_OK, "read a switch's latest version",
                            err);
  if (r == NULL) return -1;
  int rc = PQntuples(r) > 0 ? row_to_info(a, r, 0, out, err) : 0;
  PQclear(r);
  return rc;
}

/* ---------------------------------------------------------------------------
 * Listing
 * ------------------------------------------------------------------------- */

/* One statement per combination of filters, so that each is planned on
 * its indexes instead of one generic plan full of "$1 = '' OR ...". The SQL
 * is put together once from constant pieces; values are always parameters. */
#define LIST_FILTERS 3 /* plane, switch uuid, switch name */
static char *list_sql[1 << LIST_FILTERS];
static pthread_once_t list_sql_once = PTHREAD_ONCE_INIT;

static void make_list_sql(void) {
  static const char *const cond[LIST_FILTERS] = {
      " AND v.plane = $%d",
      " AND v.switch_id IN (SELECT switch_id FROM switch_aliases WHERE uuid = $%d"
      " UNION SELECT id FROM switches WHERE uuid = $%d)",
      " AND v.switch_name = $%d",
  };
  for (int mask = 0; mask < (1 << LIST_FILTERS); mask++) {
    char sql[2048];
    int n = snprintf(sql, sizeof sql, "SELECT " VINFO_COLS " FROM versions v WHERE v.id < $1");
    int param = 3; /* $1 before, $2 limit */
    for (int k = 0; k < LIST_FILTERS; k++) {
      if (!(mask & (1 << k))) continue;
      n += snprintf(sql + n, sizeof sql - (size_t)n, cond[k], param, param);
      param++;
    }
    snprintf(sql + n, sizeof sql - (size_t)n, " ORDER BY v.id DESC LIMIT $2::integer");
    list_sql[mask] = strdup(sql); /* lives as long as the process */
  }
}

int dv_store_list_versions(dv_store_t *s, dv_arena_t *a, const dv_list_filter_t *f,
                           int64_t before_id, int limit, dv_version_info_t ***out, size_t *n,
                           bool *more, dv_err_t *err) {
  pthread_once(&list_sql_once, make_list_sql);
  char before[24], lim[16];
  snprintf(before, sizeof before, "%" PRId64, before_id > 0 ? before_id : INT64_MAX);
  snprintf(lim, sizeof lim, "%d", limit + 1);
  const char *values[LIST_FILTERS] = {f->plane, f->switch_uuid, f->switch_name};
  const char *p[2 + LIST_FILTERS] = {before, lim};
  int np = 2, mask = 0;
  for (int k = 0; k < LIST_FILTERS; k++)
    if (values[k][0] != '\0') {
      mask |= 1 << k;
      p[np++] = values[k];
    }
  if (list_sql[mask] == NULL) return DV_NOMEM(err);
  PGresult *r = store_query(s, list_sql[mask], np, p, NULL, NULL, 0, PGRES_TUPLES_OK,
                            "list versions", err);
  if (r == NULL) return -1;
  int rows, rc = -1;
  if (page_of(a, r, limit, more, &rows, (void ***)out, err) != 0) goto cleanup;
  *n = 0;
  for (int i = 0; i < rows; i++) {
    if (row_to_info(a, r, i, &(*out)[i], err) != 0) goto cleanup;
    (*n)++;
  }
  rc = 0;
cleanup:
  PQclear(r);
  return rc;
}

int dv_store_list_switches(dv_store_t *s, dv_arena_t *a, const char *plane,
                           Dvsconf__V1__SwitchSummary ***out, size_t *n, dv_err_t *err) {
  const char *p[] = {plane};
  PGresult *r = store_query(s,
                            "SELECT " VINFO_COLS " FROM switches s JOIN versions v"
                            " ON v.switch_id = s.id AND v.number = s.latest_number"
                            " WHERE ($1 = '' OR v.plane = $1) ORDER BY v.plane, v.switch_name, v.id",
                            1, p, NULL, NULL, 0, PGRES_TUPLES_OK, "list switches", err);
  if (r == NULL) return -1;
  int rows = PQntuples(r), rc = -1;
  *out = dv_arena_alloc(a, (size_t)(rows + 1) * sizeof(void *));
  if (*out == NULL) {
    DV_NOMEM(err);
    goto cleanup;
  }
  *n = 0;
  for (int i = 0; i < rows; i++) {
    Dvsconf__V1__SwitchSummary *sw = dv_arena_msg(a, &dvsconf__v1__switch_summary__descriptor);
    if (sw == NULL) {
      DV_NOMEM(err);
      goto cleanup;
    }
    if (row_to_info(a, r, i, &sw->latest_version, err) != 0) goto cleanup;
    sw->plane = sw->latest_version->plane;
    sw->uuid = sw->latest_version->switch_uuid;
    sw->name = sw->latest_version->switch_name;
    sw->portgroup_count = sw->latest_version->portgroup_count;
    (*out)[(*n)++] = sw;
  }
  rc = 0;
cleanup:
  PQclear(r);
  return rc;
}

/* ---------------------------------------------------------------------------
 * Imports and locks
 * ------------------------------------------------------------------------- */

int dv_store_record_import(dv_store_t *s, dv_arena_t *a, const dv_import_rec_t *rec,
                           char **import_id, dv_err_t *err) {
  char mode[8];
  snprintf(mode, sizeof mode, "%d", rec->mode);
  PGresult *r = NULL;
  int rc = -1;
  if (store_begin(s, err) != 0) return -1;
  const char *p[] = {rec->version_id, mode, rec->target_plane, rec->switch_uuid,
                     rec->switch_name, rec->plan_sha256, rec->result, rec->message,
                     rec->id_map_json};
  r = store_query(s,
                  "INSERT INTO imports (version_id, mode, target_plane, switch_uuid, switch_name,"
                  " plan_sha256, result, message, id_map) VALUES ($1, $2, $3, $4, $5, $6, $7,"
                  " $8, $9::jsonb) RETURNING id",
                  9, p, NULL, NULL, 0, PGRES_TUPLES_OK, "record an import", err);
  if (r == NULL) goto cleanup;
  *import_id = dv_arena_strdup(a, PQgetvalue(r, 0, 0));
  PQclear(r);
  r = NULL;
  if (*import_id == NULL) {
    DV_NOMEM(err);
    goto cleanup;
  }
  if (rec->continue_lineage) {
    const char *ap[] = {rec->target_plane, rec->switch_uuid, rec->version_id};
    /* The re-created switch continues the version's history, unless its
     * (plane, uuid) already is that history's own identity. */
    r = store_query(s,
                    "INSERT INTO switch_aliases (plane, uuid, switch_id)"
                    " SELECT $1, $2, v.switch_id FROM versions v WHERE v.id = $3"
                    "   AND NOT EXISTS (SELECT 1 FROM switches s WHERE s.id = v.switch_id"
                    "                   AND s.plane = $1 AND s.uuid = $2)"
                    " ON CONFLICT (plane, uuid) DO UPDATE SET switch_id = EXCLUDED.switch_id",
                    3, ap, NULL, NULL, 0, PGRES_COMMAND_OK, "record a switch alias", err);
    if (r == NULL) goto cleanup;
    PQclear(r);
    r = NULL;
  }
  if (rec->continue_lineage) dv_listcache_writing(s->lists);
  rc = store_commit(s, err);
  if (rec->continue_lineage) dv_listcache_written(s->lists);
cleanup:
  PQclear(r);
  if (rc != 0) store_rollback(s);
  return rc;
}

int dv_store_lock_switch(dv_store_t *s, const char *plane, const char *switch_key,
                         dv_err_t *err) {
  const char *p[] = {plane, switch_key};
  PGresult *r = store_query(s, "SELECT pg_try_advisory_lock(hashtextextended($1 || '/' || $2, 7))",
                            2, p, NULL, NULL, 0, PGRES_TUPLES_OK, "lock a switch for import", err);
  if (r == NULL) return -1;
  int got = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
  PQclear(r);
  if (!got)
    return dv_err_set(err, GRPC_STATUS_ABORTED,
                      "another import on switch \"%s\" of plane \"%s\" is in progress; retry later",
                      switch_key, plane);
  return 0;
}

void dv_store_unlock_switch(dv_store_t *s, const char *plane, const char *switch_key) {
  const char *p[] = {plane, switch_key};
  dv_err_t err = DV_ERR_INIT;
  /* If the connection was lost, the server already released the lock. */
  PGresult *r = store_query(s, "SELECT pg_advisory_unlock(hashtextextended($1 || '/' || $2, 7))",
                            2, p, NULL, NULL, 0, PGRES_TUPLES_OK, "unlock a switch", &err);
  PQclear(r);
}

/* ---------------------------------------------------------------------------
 * Audit
 * ------------------------------------------------------------------------- */

int dv_store_audit_append(dv_store_t *s, const dv_audit_t *ev, dv_err_t *err) {
  const char *p[AUDIT_NPARAMS];
  audit_params(ev, p);
  PGresult *r = store_query(s, AUDIT_INSERT_SQL, AUDIT_NPARAMS, p, NULL, NULL, 0, PGRES_COMMAND_OK,
                            "append to the audit log", err);
  if (r == NULL) return -1;
  PQclear(r);
  return 0;
}

int dv_store_list_audit(dv_store_t *s, dv_arena_t *a, const char *method, int64_t before_id,
                        int limit, Dvsconf__V1__AuditEvent ***out, size_t *n, bool *more,
                        dv_err_t *err) {
  char before[24], lim[16];
  snprintf(before, sizeof before, "%" PRId64, before_id);
  snprintf(lim, sizeof lim, "%d", limit + 1);
  const char *p[] = {method, before, lim};
  PGresult *r = store_query(
      s,
      "SELECT id, (extract(epoch FROM at) * 1000000)::bigint, caller, role, method, peer,"
      " request_id, target, plan_sha256, result, message FROM audit_events"
      " WHERE ($1 = '' OR method = $1) AND ($2::bigint = 0 OR id < $2::bigint)"
      " ORDER BY id DESC LIMIT $3::integer",
      3, p, NULL, NULL, 0, PGRES_TUPLES_OK, "list audit events", err);
  if (r == NULL) return -1;
  int rows, rc = -1;
  if (page_of(a, r, limit, more, &rows, (void ***)out, err) != 0) goto cleanup;
  *n = 0;
  for (int i = 0; i < rows; i++) {
    Dvsconf__V1__AuditEvent *e = dv_arena_msg(a, &dvsconf__v1__audit_event__descriptor);
    if (e == NULL || (e->at = col_time(a, r, i, 1)) == NULL) {
      DV_NOMEM(err);
      goto cleanup;
    }
    char **fields[] = {&e->id,         NULL,       &e->caller,      &e->role,
                       &e->method,     &e->peer,   &e->request_id,  &e->target,
                       &e->plan_sha256, &e->result, &e->message};
    for (int k = 0; k < 11; k++) {
      if (fields[k] == NULL) continue;
      *fields[k] = dv_arena_strdup(a, PQgetvalue(r, i, k));
      if (*fields[k] == NULL) {
        DV_NOMEM(err);
        goto cleanup;
      }
    }
    (*out)[(*n)++] = e;
  }
  rc = 0;
cleanup:
  PQclear(r);
  return rc;
}
