/* The version store and the service operations, against a real PostgreSQL
 * (PGURI) and the in-memory fake plane. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <openssl/evp.h>

#include "bigmem.h"
#include "diff.h"
#include "fake_adapter.h"
#include "listcache.h"
#include "ops.h"
#include "store.h"
#include "store_internal.h" /* pipelines, for the connection they leave */
#include "vcache.h"

static const char *pguri;

typedef struct fixture {
  dv_arena_t *a;
  dv_store_t *store;
  dv_planes_t planes;
  dv_plane_entry_t entry;
  dv_ctx_t ctx;
} fixture_t;

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  dv_err_t err = DV_ERR_INIT;
  f->a = dv_arena_new();
  if (dv_store_open(pguri, &f->store, &err) != 0 || dv_store_migrate(f->store, &err) != 0) {
    fprintf(stderr, "store: %s\n", err.msg);
    return -1;
  }
  f->entry.conf.name = "fake";
  f->entry.conf.kind = "fake";
  f->entry.conf.url = "mem://fake";
  f->entry.ops = &dv_fake_adapter;
  f->planes.v = &f->entry;
  f->planes.n = 1;
  if (dv_planes_open(&f->planes, &err) != 0) return -1;
  f->ctx = (dv_ctx_t){f->a, f->store, &f->planes};
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  dv_planes_close(&f->planes);
  dv_store_close(f->store);
  dv_arena_free(f->a);
  free(f);
  return 0;
}

static PGresult *sql(const char *q, int n, const char *const *p) {
  PGconn *c = PQconnectdb(pguri);
  PGresult *r = PQexecParams(c, q, n, NULL, p, NULL, NULL, 0);
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) fail_msg("%s: %s", q, PQerrorMessage(c));
  PQfinish(c);
  return r;
}

static Dvsconf__V1__ExportResponse *export(fixture_t *f, const char *name, dv_err_t *err) {
  Dvsconf__V1__ExportRequest req = DVSCONF__V1__EXPORT_REQUEST__INIT;
  req.plane = "fake";
  req.switch_name = (char *)name;
  Dvsconf__V1__ExportResponse *resp = NULL;
  if (dv_op_export(&f->ctx, &req, &resp, err) != 0) return NULL;
  return resp;
}

/* ListVersions answers with the encoded page (raw_reply): decoded here. */
static Dvsconf__V1__ListVersionsResponse *list(fixture_t *f,
                                               const Dvsconf__V1__ListVersionsRequest *req,
                                               dv_err_t *err) {
  Dvsconf__V1__ListVersionsResponse *out = NULL;
  f->ctx.raw_reply = NULL;
  if (dv_op_list_versions(&f->ctx, req, &out, err) != 0) return NULL;
  assert_null(out);
  assert_non_null(f->ctx.raw_reply);
  return dvsconf__v1__list_versions_response__unpack(dv_arena_allocator(f->a),
                                                      f->ctx.raw_reply_len, f->ctx.raw_reply);
}

/* What the store's own connection is doing: "idle", "idle in transaction"... */
static char *backend_state(dv_store_t *s) {
  char pid[16];
  snprintf(pid, sizeof pid, "%d", PQbackendPID(s->conn));
  const char *p[] = {pid};
  PGresult *r = sql("SELECT state FROM pg_stat_activity WHERE pid = $1", 1, p);
  static char state[64];
  snprintf(state, sizeof state, "%s", PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "(gone)");
  PQclear(r);
  return state;
}

/* Several processes starting at once on an empty database all migrate it
 * (each thread here has its own connection, as each process would). */
static void *migrate_one(void *arg) {
  int *ok = arg;
  dv_store_t *s = NULL;
  dv_err_t err = DV_ERR_INIT;
  *ok = dv_store_open(pguri, &s, &err) == 0 && dv_store_migrate(s, &err) == 0;
  if (!*ok) fprintf(stderr, "concurrent migrate: %s\n", err.msg);
  dv_store_close(s);
  return NULL;
}

/* Runs before the cmocka group (whose setup migrates): 1 when all four
 * concurrent migrations succeeded. */
static int concurrent_first_migrations(void) {
  PQclear(sql("DROP SCHEMA public CASCADE", 0, NULL));
  PQclear(sql("CREATE SCHEMA public", 0, NULL));
  pthread_t t[4];
  int ok[4], all = 1;
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, migrate_one, &ok[i]);
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    all &= ok[i];
  }
  printf("%s: four concurrent first migrations of an empty database\n", all ? "ok" : "FAILED");
  return all;
}

static void migrations_are_idempotent(void **state) {
  fixture_t *f = *state;
  dv_err_t err = DV_ERR_INIT;
  assert_int_equal(dv_store_migrate(f->store, &err), 0);
  PGresult *r = sql("SELECT count(*), max(version) FROM schema_migrations", 0, NULL);
  assert_string_equal(PQgetvalue(r, 0, 0), "4");
  assert_string_equal(PQgetvalue(r, 0, 1), "4");
  PQclear(r);
}

static void audit_log_is_append_only(void **state) {
  fixture_t *f = *state;
  dv_err_t err = DV_ERR_INIT;
  dv_audit_t ev = {"ci", "admin", "/dvsconf.v1.ConfigManager/Import", "ipv4:127.0.0.1:1", "r-1",
                   "version 1", "abc", "OK", ""};
  assert_int_equal(dv_store_audit_append(f->store, &ev, &err), 0);
  Dvsconf__V1__AuditEvent **evs;
  size_t n;
  bool more;
  assert_int_equal(dv_store_list_audit(f->store, f->a, "", 0, 10, &evs, &n, &more, &err), 0);
  assert_true(n >= 1);
  assert_string_equal(evs[0]->caller, "ci");
  assert_string_equal(evs[0]->plan_sha256, "abc");
  PGconn *c = PQconnectdb(pguri);
  PGresult *r = PQexec(c, "DELETE FROM audit_events");
  assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
  assert_non_null(strstr(PQresultErrorMessage(r), "append-only"));
  PQclear(r);
  r = PQexec(c, "UPDATE audit_events SET caller = 'x'");
  assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
  PQclear(r);
  PQfinish(c);
}

static void export_unchanged_and_history(void **state) {
  fixture_t *f = *state;
  dv_err_t err = DV_ERR_INIT;
  dv_plane_t *plane = f->entry.handle;
  fake_plane_add(plane, fake_config(f->a, "sw-hist", "uuid-hist", 20));
  long ahead = f->store->puts_ahead;
  Dvsconf__V1__ExportResponse *r1 = export(f, "sw-hist", &err);
  assert_non_null(r1);
  assert_int_equal(f->store->puts_ahead, ahead + 1); /* the lock sent while encoding */
  assert_int_equal(r1->version->number, 1);
  assert_false(r1->unchanged);
  assert_int_equal(r1->version->portgroup_count, 20);
  assert_int_equal(strlen(r1->version->checksum), 64);

  Dvsconf__V1__ExportResponse *r2 = export(f, "sw-hist", &err);
  assert_non_null(r2);
  assert_true(r2->unchanged);
  assert_string_equal(r2->version->id, r1->version->id);

  /* change one port group on the plane, export again */
  dv_switch_cfg_t *c = fake_config(f->a, "sw-hist", "uuid-hist", 20);
  c->portgroups[5]->default_port_config->vlan->vlan_id = 555;
  dv_switch_ref_t ref = {"sw-hist", ""};
  assert_int_equal(dv_fake_adapter.delete_switch(plane, &ref, &err), 0);
  fake_plane_add(plane, c);
  Dvsconf__V1__ExportResponse *r3 = export(f, "sw-hist", &err);
  assert_non_null(r3);
  assert_int_equal(r3->version->number, 2);

  /* the second version is a delta: one port group, not twenty */
  const char *p[] = {r3->version->id};
  PGresult *res = sql("SELECT base_number, octet_length(body) FROM versions WHERE id = $1", 1, p);
  assert_string_equal(PQgetvalue(res, 0, 0), "1");
  assert_true(atoi(PQgetvalue(res, 0, 1)) < 200);
  PQclear(res);

  /* list newest first, page by page */
  Dvsconf__V1__ListVersionsRequest lr = DVSCONF__V1__LIST_VERSIONS_REQUEST__INIT;
  lr.switch_uuid = "uuid-hist";
  lr.page_size = 1;
  Dvsconf__V1__ListVersionsResponse *l = list(f, &lr, &err);
  assert_non_null(l);
  assert_int_equal(l->n_versions, 1);
  assert_string_equal(l->versions[0]->id, r3->version->id);
  assert_true(l->next_page_token[0] != '\0');
  lr.page_token = l->next_page_token;
  l = list(f, &lr, &err);
  assert_non_null(l);
  assert_int_equal(l->n_versions, 1);
  assert_string_equal(l->versions[0]->id, r1->version->id);
  assert_string_equal(l->next_page_token, "");
  /* a token with another filter is refused */
  lr.switch_uuid = "";
  assert_null(list(f, &lr, &err));
  assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);

  /* diff v1 -> v2: exactly the change */
  Dvsconf__V1__DiffRequest dr = DVSCONF__V1__DIFF_REQUEST__INIT;
  dr.from_version_id = r1->version->id;
  dr.to_version_id = r3->version->id;
  Dvsconf__V1__DiffResponse *d;
  dv_err_clear(&err);
  assert_int_equal(dv_op_diff(&f->ctx, &dr, &d, &err), 0);
  assert_int_equal(d->n_changes, 1);
  assert_string_equal(d->changes[0]->path, "portgroups[\"pg-5\"].default_port_config.vlan.vlan_id");
  assert_string_equal(d->changes[0]->old_value, "105");
  assert_string_equal(d->changes[0]->new_value, "555");
  /* and v1 against the live switch */
  dr.to_version_id = "";
  dr.to_plane = "fake";
  dr.to_switch_name = "sw-hist";
  assert_int_equal(dv_op_diff(&f->ctx, &dr, &d, &err), 0);
  assert_int_equal(d->n_changes, 1);

  /* GetVersion returns the config; unknown and malformed ids */
  Dvsconf__V1__GetVersionRequest gr = DVSCONF__V1__GET_VERSION_REQUEST__INIT;
  gr.version_id = r3->version->id;
  Dvsconf__V1__Version *v;
  assert_int_equal(dv_op_get_version(&f->ctx, &gr, &v, &err), 0);
  /* the answer is the stored message's bytes, as sent on the wire */
  assert_null(v);
  assert_non_null(f->ctx.raw_reply);
  v = dvsconf__v1__version__unpack(dv_arena_allocator(f->a), f->ctx.raw_reply_len, f->ctx.raw_reply);
  assert_non_null(v);
  assert_string_equal(v->info->id, r3->version->id);
  assert_int_equal(v->config->n_portgroups, 20);
  assert_int_equal(dv_config_find_pg_by_name(v->config, "pg-5")->default_port_config->vlan->vlan_id,
                   555);
  gr.version_id = "999999999";
  assert_int_equal(dv_op_get_version(&f->ctx, &gr, &v, &err), -1);
  assert_int_equal(err.code, GRPC_STATUS_NOT_FOUND);
  dv_err_clear(&err);
  gr.version_id = "v1";
  assert_int_equal(dv_op_get_version(&f->ctx, &gr, &v, &err), -1);
  assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
}

/* The number of versions and audit records of a test's switch / request. */
static long count_of(const char *q, const char *value) {
  const char *p[] = {value};
  PGresult *r = sql(q, 1, p);
  long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
  PQclear(r);
  return n;
}

#define VERSIONS_OF "SELECT count(*) FROM versions WHERE switch_uuid = $1"
#define AUDITS_OF "SELECT count(*) FROM audit_events WHERE request_id = $1"

/* Run fn(arg) on a thread while another connection holds the history row
 * of switch `uuid`, for hold_ms; with hold_ms 0, until fn has returned,
 * which must be within 10 s (a call that waited for the lock would not).
 * *released (may be NULL): when the holder began to let go. */
static void while_held(const char *uuid, void *(*fn)(void *), void *arg, int hold_ms,
                       struct timespec *released) {
  PGconn *holder = PQconnectdb(pguri);
  const char *p[] = {uuid};
  PQclear(PQexec(holder, "BEGIN"));
  PGresult *r = PQexecParams(holder, "SELECT 1 FROM switches WHERE uuid = $1 FOR UPDATE", 1, NULL,
                             p, NULL, NULL, 0);
  assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
  assert_int_equal(PQntuples(r), 1);
  PQclear(r);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, fn, arg), 0);
  int waited = 0;
  if (hold_ms > 0) {
    usleep((useconds_t)hold_ms * 1000);
  } else {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    waited = pthread_timedjoin_np(t, NULL, &until);
  }
  if (released != NULL) clock_gettime(CLOCK_MONOTONIC, released);
  PQclear(PQexec(holder, "COMMIT"));
  PQfinish(holder);
  if (hold_ms > 0 || waited != 0) pthread_join(t, NULL);
  if (waited != 0) fail_msg("a refused call waited for another writer's lock");
}

static void terminate_backend(dv_store_t *s) {
  char pid[16];
  snprintf(pid, sizeof pid, "%d", PQbackendPID(s->conn));
  const char *p[] = {pid};
  PQclear(sql("SELECT pg_terminate_backend($1::int, 5000)", 1, p));
}

typedef struct export_call {
  dv_ctx_t *ctx;
  const Dvsconf__V1__ExportRequest *req;
  int rc;
  dv_err_t err;
} export_call_t;

static void *export_on_thread(void *arg) {
  export_call_t *e = arg;
  Dvsconf__V1__ExportResponse *resp;
  e->rc = dv_op_export(e->ctx, e->req, &resp, &e->err);
  return NULL;
}

static void bad_exports_write_nothing(void **state) {
  fixture_t *f = *state;
  dv_err_t err = DV_ERR_INIT;
  PGresult *r = sql("SELECT count(*) FROM versions", 0, NULL);
  char before[32];
  snprintf(before, sizeof before, "%s", PQgetvalue(r, 0, 0));
  PQclear(r);
  Dvsconf__V1__ExportRequest req = DVSCONF__V1__EXPORT_REQUEST__INIT;
  Dvsconf__V1__ExportResponse *resp;
  req.plane = "fake";
  assert_int_equal(dv_op_export(&f->ctx, &req, &resp, &err), -1); /* neither */
  assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
  assert_non_null(strstr(err.msg, "switch_name"));
  dv_err_clear(&err);
  req.switch_name = "a";
  req.switch_uuid = "b";
  assert_int_equal(dv_op_export(&f->ctx, &req, &resp, &err), -1); /* both */
  assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
  dv_err_clear(&err);
  req.switch_uuid = "";
  req.switch_name = "no-such-switch";
  assert_int_equal(dv_op_export(&f->ctx, &req, &resp, &err), -1);
  assert_int_equal(err.code, GRPC_STATUS_NOT_FOUND);
  assert_non_null(strstr(err.msg, "no-such-switch"));
  dv_err_clear(&err);
  req.plane = "nope";
  assert_int_equal(dv_op_export(&f->ctx, &req, &resp, &err), -1);
  assert_int_equal(err.code, GRPC_STATUS_NOT_FOUND);
  assert_non_null(strstr(err.msg, "plane"));
  r = sql("SELECT count(*) FROM versions", 0, NULL);
  assert_string_equal(PQgetvalue(r, 0, 0), before);
  PQclear(r);

  /* refused once the switch was read (and its history's lock sent ahead),
   * also while another writer holds that history: nothing stays open */
  fake_plane_add(f->entry.handle, fake_config(f->a, "sw-bad", "uuid-bad", 3));
  assert_non_null(export(f, "sw-bad", &err));
  char *names[] = {"pg-1", "no-such-pg"};
  req.plane = "fake";
  req.switch_name = "sw-bad";
  req.portgroups = names;
  req.n_portgroups = 2;
  export_call_t e = {&f->ctx, &req, 0, DV_ERR_INIT};
  for (int held = 0; held < 2; held++) {
    e.rc = 0;
    dv_err_clear(&e.err);
    if (held) while_held("uuid-bad", export_on_thread, &e, 0, NULL);
    else export_on_thread(&e);
    assert_int_equal(e.rc, -1);
    assert_int_equal(e.err.code, GRPC_STATUS_NOT_FOUND);
    assert_non_null(strstr(e.err.msg, "no-such-pg"));
    assert_string_equal(backend_state(f->store), "idle");
  }
  assert_int_equal(count_of(VERSIONS_OF, "uuid-bad"), 1);
}

/* Several writers (each with its own connection) store versions of one
 * switch at once: numbers stay 1..N, gapless and unique. */
typedef struct writer {
  int id;
  int ok;
} writer_t;

static void *write_versions(void *arg) {
  writer_t *w = arg;
  dv_store_t *s = NULL;
  dv_err_t err = DV_ERR_INIT;
  dv_arena_t *a = dv_arena_new();
  if (dv_store_open(pguri, &s, &err) != 0) goto done;
  for (int k = 0; k < 10; k++) {
    dv_switch_cfg_t *c = fake_config(a, "sw-conc", "uuid-conc", 50);
    c->portgroups[w->id]->num_ports = 100 + k; /* a distinct config per write */
    c->portgroups[49]->num_ports = w->id * 1000 + k;
    dv_put_t put = {"fake", c, 0, "", NULL, 0};
    dv_version_info_t *info;
    bool unchanged;
    if (dv_store_put_version(s, a, &put, &info, &unchanged, &err) != 0) {
      fprintf(stderr, "writer %d: %s\n", w->id, err.msg);
      goto done;
    }
  }
  w->ok = 1;
done:
  dv_store_close(s);
  dv_arena_free(a);
  return NULL;
}

static void concurrent_writers_keep_numbers_gapless(void **state) {
  pthread_t t[4];
  writer_t w[4];
  for (int i = 0; i < 4; i++) {
    w[i] = (writer_t){i, 0};
    pthread_create(&t[i], NULL, write_versions, &w[i]);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    assert_true(w[i].ok);
  }
  PGresult *r = sql("SELECT count(*), count(DISTINCT number), min(number), max(number)"
                    " FROM versions v JOIN switches s ON s.id = v.switch_id"
                    " WHERE s.uuid = 'uuid-conc'",
                    0, NULL);
  assert_string_equal(PQgetvalue(r, 0, 0), "40");
  assert_string_equal(PQgetvalue(r, 0, 1), "40");
  assert_string_equal(PQgetvalue(r, 0, 2), "1");
  assert_string_equal(PQgetvalue(r, 0, 3), "40");
  PQclear(r);
  /* every one of them reads back with a valid checksum */
  fixture_t *f = *state;
  r = sql("SELECT v.id FROM versions v JOIN switches s ON s.id = v.switch_id"
          " WHERE s.uuid = 'uuid-conc'", 0, NULL);
  for (int i = 0; i < PQntuples(r); i++) {
    dv_err_t err = DV_ERR_INIT;
    dv_version_info_t *info;
    dv_switch_cfg_t *cfg;
    assert_int_equal(dv_store_get_version(f->store, f->a, PQgetvalue(r, i, 0), &info, &cfg, &err), 0);
  }
  PQclear(r);
}

static void storage_grows_with_change(void **state) {
  fixture_t *f = *state;
  dv_err_t err = DV_ERR_INIT;
  dv_arena_t *a = dv_arena_new();
  dv_switch_cfg_t *c = fake_config(a, "sw-big", "uuid-big", 5000);
  for (int k = 0; k < 30; k++) {
    c->portgroups[(k * 37) % 5000]->default_port_config->vlan->vlan_id = 2000 + k;
    dv_put_t put = {"fake", c, 0, "", NULL, 0};
    dv_version_info_t *info;
    bool unchanged;
    assert_int_equal(dv_store_put_version(f->store, a, &put, &info, &unchanged, &err), 0);
    assert_false(unchanged);
  }
  PGresult *r = sql("SELECT sum(octet_length(body)) FILTER (WHERE number = 1),"
                    "       sum(octet_length(body)) FILTER (WHERE number > 1),"
                    "       count(*) FILTER (WHERE number = base_number)"
                    " FROM versions v JOIN switches s ON s.id = v.switch_id WHERE s.uuid = 'uuid-big'",
                    0, NULL);
  long first = atol(PQgetvalue(r, 0, 0)), rest = atol(PQgetvalue(r, 0, 1));
  print_message("5,000 port groups: first version %ld bytes, 29 more versions %ld bytes\n", first,
                rest);
  assert_string_equal(PQgetvalue(r, 0, 2), "1"); /* one whole version */
  assert_true(rest < 29 * 300);
  PQclear(r);
  /* the latest reads back exactly */
  dv_version_info_t *latest;
  assert_int_equal(dv_store_latest_for(f->store, a, "fake", "uuid-big", &latest, NULL, &err), 0);
  dv_switch_cfg_t *got;
  assert_int_equal(dv_store_get_version(f->store, a, latest->id, NULL, &got, &err), 0);
  assert_true(dv_config_equal(a, got, c));
  dv_arena_free(a);
}

static void import_modes_and_safety(void **state) {
  fixture_t *f = *state;
  dv_err_t err = DV_ERR_INIT;
  dv_plane_t *plane = f->entry.handle;
  fake_plane_add(plane, fake_config(f->a, "sw-imp", "uuid-imp", 6));
  Dvsconf__V1__ExportResponse *v1 = export(f, "sw-imp", &err);
  assert_non_null(v1);

  /* someone changes two port groups on the plane */
  dv_switch_cfg_t *changed = fake_config(f->a, "sw-imp", "uuid-imp", 6);
  changed->portgroups[1]->default_port_config->vlan->vlan_id = 901;
  changed->portgroups[2]->num_ports = 99;
  dv_switch_ref_t ref = {"sw-imp", ""};
  assert_int_equal(dv_fake_adapter.delete_switch(plane, &ref, &err), 0);
  fake_plane_add(plane, changed);

  Dvsconf__V1__ImportRequest ir = DVSCONF__V1__IMPORT_REQUEST__INIT;
  Dvsconf__V1__ImportResponse *resp;
  ir.version_id = v1->version->id;
  assert_int_equal(dv_op_import(&f->ctx, &ir, &resp, &err), -1); /* mode 0 */
  assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
  assert_non_null(strstr(err.msg, "mode"));
  dv_err_clear(&err);

  ir.mode = DVSCONF__V1__IMPORT_MODE__IMPORT_MODE_APPLY_EXISTING;
  ir.dry_run = 1;
  assert_int_equal(dv_op_import(&f->ctx, &ir, &resp, &err), 0);
  assert_int_equal(resp->n_plan, 2);
  assert_false(resp->applied);
  assert_string_equal(resp->safety_version_id, "");

  /* a failing second step leaves the switch as it was */
  ir.dry_run = 0;
  fake_plane_fail_step(plane, fake_plane_steps(plane) + 2);
  assert_int_equal(dv_op_import(&f->ctx, &ir, &resp, &err), -1);
  assert_int_equal(err.code, GRPC_STATUS_ABORTED);
  assert_non_null(strstr(err.msg, "step 2"));
  dv_switch_cfg_t *live;
  dv_err_clear(&err);
  assert_int_equal(dv_fake_adapter.read_switch(plane, &ref, f->a, &live, &err), 0);
  assert_true(dv_config_equal(f->a, live, changed));

  /* apply for real: reverted, with a safety version of the changed state;
   * the safety version does not take the call's audit record (the server
   * writes it when the import is over, with the plan's hash) */
  dv_audit_t rec = {.caller = "it", .role = "admin", .method = "Import", .peer = "test",
                    .request_id = "it-import-1", .result = "OK", .message = ""};
  f->ctx.audit = &rec;
  f->ctx.audited = false;
  assert_int_equal(dv_op_import(&f->ctx, &ir, &resp, &err), 0);
  assert_false(f->ctx.audited);
  f->ctx.audit = NULL;
  PGresult *ar = sql("SELECT count(*) FROM audit_events WHERE request_id = 'it-import-1'", 0, NULL);
  assert_string_equal(PQgetvalue(ar, 0, 0), "0");
  PQclear(ar);
  assert_true(resp->applied);
  assert_int_equal(resp->n_plan, 2);
  assert_true(resp->safety_version_id[0] != '\0');
  assert_int_equal(dv_fake_adapter.read_switch(plane, &ref, f->a, &live, &err), 0);
  dv_version_info_t *info;
  dv_switch_cfg_t *orig, *safety;
  assert_int_equal(dv_store_get_version(f->store, f->a, v1->version->id, &info, &orig, &err), 0);
  assert_true(dv_config_equal(f->a, live, orig));
  assert_int_equal(dv_store_get_version(f->store, f->a, resp->safety_version_id, &info, &safety, &err), 0);
  assert_true(dv_config_equal(f->a, safety, changed));
  /* again: nothing to do */
  assert_int_equal(dv_op_import(&f->ctx, &ir, &resp, &err), 0);
  assert_int_equal(resp->n_plan, 0);

  /* create original while it exists: ALREADY_EXISTS */
  ir.mode = DVSCONF__V1__IMPORT_MODE__IMPORT_MODE_CREATE_ORIGINAL;
  assert_int_equal(dv_op_import(&f->ctx, &ir, &resp, &err), -1);
  assert_int_equal(err.code, GRPC_STATUS_ALREADY_EXISTS);
  dv_err_clear(&err);
  /* lose it, re-create it: its next export continues the history */
  assert_int_equal(dv_fake_adapter.delete_switch(plane, &ref, &err), 0);
  assert_int_equal(dv_op_import(&f->ctx, &ir, &resp, &err), 0);
  assert_true(resp->applied);
  assert_string_equal(resp->switch_name, "sw-imp");
  assert_true(resp->n_identity_map >= 7);
  Dvsconf__V1__ExportResponse *after = export(f, "sw-imp", &err);
  assert_non_null(after);
  assert_true(after->unchanged || after->version->number > v1->version->number);

  /* create new: renamed copy, new identifiers, no hosts */
  ir.mode = DVSCONF__V1__IMPORT_MODE__IMPORT_MODE_CREATE_NEW;
  assert_int_equal(dv_op_import(&f->ctx, &ir, &resp, &err), -1);
  assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
  assert_non_null(strstr(err.msg, "new_name"));
  dv_err_clear(&err);
  ir.new_name = "sw-copy";
  ir.portgroup_prefix = "prod-";
  assert_int_equal(dv_op_import(&f->ctx, &ir, &resp, &err), 0);
  assert_true(resp->applied);
  dv_switch_ref_t cref = {"sw-copy", ""};
  dv_switch_cfg_t *copy;
  assert_int_equal(dv_fake_adapter.read_switch(plane, &cref, f->a, &copy, &err), 0);
  assert_non_null(dv_config_find_pg_by_name(copy, "prod-pg-3"));
  assert_int_equal(copy->n_host_members, 0);
  assert_string_not_equal(copy->uuid, "uuid-imp");
}

static void corrupt_version_is_data_loss_and_never_applied(void **state) {
  fixture_t *f = *state;
  dv_err_t err = DV_ERR_INIT;
  dv_plane_t *plane = f->entry.handle;
  fake_plane_add(plane, fake_config(f->a, "sw-bad", "uuid-bad", 3));
  Dvsconf__V1__ExportResponse *v = export(f, "sw-bad", &err);
  assert_non_null(v);
  const char *p[] = {v->version->id};
  PGresult *r = sql("UPDATE versions SET checksum = sha256('x') WHERE id = $1", 1, p);
  PQclear(r);
  Dvsconf__V1__GetVersionRequest gr = DVSCONF__V1__GET_VERSION_REQUEST__INIT;
  gr.version_id = v->version->id;
  Dvsconf__V1__Version *got;
  /* with a cache too: a version that fails its check is never cached */
  dv_vcache_t *cache = dv_vcache_new(1 << 20);
  dv_store_use_cache(f->store, cache, NULL);
  for (int i = 0; i < 2; i++) {
    dv_err_clear(&err);
    assert_int_equal(dv_op_get_version(&f->ctx, &gr, &got, &err), -1);
    assert_int_equal(err.code, GRPC_STATUS_DATA_LOSS);
  }
  dv_store_use_cache(f->store, NULL, NULL);
  dv_vcache_free(cache);
  dv_err_clear(&err);
  int steps = fake_plane_steps(plane);
  Dvsconf__V1__ImportRequest ir = DVSCONF__V1__IMPORT_REQUEST__INIT;
  ir.version_id = v->version->id;
  ir.mode = DVSCONF__V1__IMPORT_MODE__IMPORT_MODE_APPLY_EXISTING;
  Dvsconf__V1__ImportResponse *resp;
  assert_int_equal(dv_op_import(&f->ctx, &ir, &resp, &err), -1);
  assert_int_equal(err.code, GRPC_STATUS_DATA_LOSS);
  assert_int_equal(fake_plane_steps(plane), steps);
}

static void put_version_validates_documents(void **state) {
  fixture_t *f = *state;
  dv_err_t err = DV_ERR_INIT;
  Dvsconf__V1__PutVersionRequest req = DVSCONF__V1__PUT_VERSION_REQUEST__INIT;
  Dvsconf__V1__ExportResponse *resp;
  req.plane = "fake";
  assert_int_equal(dv_op_put_version(&f->ctx, &req, &resp, &err), -1);
  assert_string_equal(err.msg, "config: required");
  dv_switch_cfg_t *c = fake_config(f->a, "sw-put", "uuid-put", 4);
  req.config = c;
  c->portgroups[2]->default_port_config->vlan->vlan_id = 5000;
  dv_err_clear(&err);
  assert_int_equal(dv_op_put_version(&f->ctx, &req, &resp, &err), -1);
  assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
  assert_string_equal(err.msg, "config.portgroups[\"pg-2\"].default_port_config.vlan.vlan_id:"
                               " 5000 is outside 0..4094");
  c->portgroups[2]->default_port_config->vlan->vlan_id = 7;
  c->portgroups[3]->name = "pg-1";
  dv_err_clear(&err);
  assert_int_equal(dv_op_put_version(&f->ctx, &req, &resp, &err), -1);
  assert_string_equal(err.msg, "config.portgroups: name \"pg-1\" appears twice");
  c->portgroups[3]->name = "pg-3";
  dv_err_clear(&err);
  assert_int_equal(dv_op_put_version(&f->ctx, &req, &resp, &err), 0);
  assert_int_equal(resp->version->number, 1);
  assert_int_equal(dv_op_put_version(&f->ctx, &req, &resp, &err), 0);
  assert_true(resp->unchanged);
}

static size_t versions_listed(fixture_t *f, const char *uuid) {
  Dvsconf__V1__ListVersionsRequest lr = DVSCONF__V1__LIST_VERSIONS_REQUEST__INIT;
  lr.switch_uuid = (char *)uuid;
  dv_err_t err = DV_ERR_INIT;
  Dvsconf__V1__ListVersionsResponse *l = list(f, &lr, &err);
  if (l == NULL) fail_msg("ListVersions: %s", err.msg);
  return l->n_versions;
}

/* Another process's write, through a store of its own (no list cache). */
static void put_elsewhere(fixture_t *f, int n_portgroups) {
  dv_store_t *other = NULL;
  dv_err_t err = DV_ERR_INIT;
  assert_int_equal(dv_store_open(pguri, &other, &err), 0);
  dv_put_t put = {.plane = "fake", .config = fake_config(f->a, "sw-lc", "uuid-lc", n_portgroups)};
  dv_version_info_t *info;
  bool unchanged;
  assert_int_equal(dv_store_put_version(other, f->a, &put, &info, &unchanged, &err), 0);
  assert_false(unchanged);
  dv_store_close(other);
}

/* Listed within 5 s (the notification's way from the writer's commit). */
static void wait_listed(fixture_t *f, const char *uuid, size_t n) {
  for (int i = 0; i < 500 && versions_listed(f, uuid) != n; i++) usleep(10000);
  assert_int_equal(versions_listed(f, uuid), n);
}

/* The cache of ListVersions pages serves a page again only while nothing
 * was written: this process's writes show at once, another's as soon as its
 * notification arrives, and a lost listening connection drops every page. */
static void list_pages_follow_every_write(void **state) {
  fixture_t *f = *state;
  dv_err_t err = DV_ERR_INIT;
  dv_listcache_t *lc = dv_listcache_new(pguri, 1 << 20);
  assert_non_null(lc);
  dv_store_use_cache(f->store, NULL, lc);
  dv_plane_t *plane = f->entry.handle;
  fake_plane_add(plane, fake_config(f->a, "sw-lc", "uuid-lc", 2));
  assert_non_null(export(f, "sw-lc", &err));

  assert_int_equal(versions_listed(f, "uuid-lc"), 1);
  uint64_t hits = dv_listcache_hits(lc);
  assert_int_equal(versions_listed(f, "uuid-lc"), 1);
  assert_int_equal(dv_listcache_hits(lc), hits + 1); /* the same page, from memory */

  /* this process's write: seen by the very next call */
  Dvsconf__V1__PutVersionRequest put = DVSCONF__V1__PUT_VERSION_REQUEST__INIT;
  put.plane = "fake";
  put.config = fake_config(f->a, "sw-lc", "uuid-lc", 3);
  Dvsconf__V1__ExportResponse *resp;
  assert_int_equal(dv_op_put_version(&f->ctx, &put, &resp, &err), 0);
  assert_false(resp->unchanged);
  assert_int_equal(versions_listed(f, "uuid-lc"), 2);

  /* another process's write: seen once PostgreSQL notifies */
  assert_int_equal(versions_listed(f, "uuid-lc"), 2); /* cached again */
  put_elsewhere(f, 4);
  wait_listed(f, "uuid-lc", 3);

  /* the listening connection lost: what was kept is dropped (writes may
   * have gone unheard), and listening starts again */
  PQclear(sql("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
              " WHERE application_name = 'dvsconfd-listen'",
              0, NULL));
  put_elsewhere(f, 5);
  assert_int_equal(versions_listed(f, "uuid-lc"), 4);
  /* the cache listens again by itself, and serves pages again (a
   * notification still on its way may cost a miss or two) */
  bool served = false;
  for (int i = 0; i < 200 && !served; i++) {
    assert_int_equal(versions_listed(f, "uuid-lc"), 4);
    hits = dv_listcache_hits(lc);
    assert_int_equal(versions_listed(f, "uuid-lc"), 4);
    served = dv_listcache_hits(lc) > hits;
    if (!served) usleep(10000);
  }
  assert_true(served);
  put_elsewhere(f, 6);
  wait_listed(f, "uuid-lc", 5);

  dv_store_use_cache(f->store, NULL, NULL);
  dv_listcache_free(lc); /* pages handed out were copies: nothing refers to it */
}

/* A PutVersion of a fake switch of 3 port groups, audited with *rec as the
 * server would audit it. */
static void audited_put(fixture_t *f, const char *name, const char *uuid, const char *request_id,
                        dv_audit_t *rec, Dvsconf__V1__PutVersionRequest *req) {
  *rec = (dv_audit_t){.caller = "it", .role = "operator", .method = "PutVersion",
                      .peer = "test", .request_id = request_id, .result = "OK", .message = ""};
  *req = (Dvsconf__V1__PutVersionRequest)DVSCONF__V1__PUT_VERSION_REQUEST__INIT;
  req->plane = "fake";
  req->config = fake_config(f->a, name, uuid, 3);
  f->ctx.audit = rec;
  f->ctx.audited = false;
}

/* A stored version's audit record is written in the version's transaction:
 * there when the version is, absent when nothing was stored. */
static void audit_record_commits_with_the_version(void **state) {
  fixture_t *f = *state;
  dv_err_t err = DV_ERR_INIT;
  dv_audit_t rec;
  Dvsconf__V1__PutVersionRequest req;
  Dvsconf__V1__ExportResponse *resp;
  audited_put(f, "sw-audit", "uuid-audit", "it-audit-1", &rec, &req);
  req.config->portgroups[1]->default_port_config->vlan->vlan_id = 9999; /* refused */
  assert_int_equal(dv_op_put_version(&f->ctx, &req, &resp, &err), -1);
  assert_false(f->ctx.audited);
  req.config->portgroups[1]->default_port_config->vlan->vlan_id = 10;
  dv_err_clear(&err);
  assert_int_equal(dv_op_put_version(&f->ctx, &req, &resp, &err), 0);
  assert_true(f->ctx.audited);
  f->ctx.audit = NULL;
  PGresult *r = sql("SELECT count(*), min(target) FROM audit_events WHERE request_id = 'it-audit-1'",
                    0, NULL);
  assert_string_equal(PQgetvalue(r, 0, 0), "1");
  assert_string_equal(PQgetvalue(r, 0, 1), "fake/sw-audit");
  PQclear(r);
}

/* PutVersion sends its statements in two pipelines (BEGIN + lock, then
 * insert + audit + commit). A connection that died while idle is reopened
 * and the put done whole; a statement that fails in the second pipeline
 * fails the call and leaves nothing behind, neither the version nor its
 * audit record, and the connection serves the next call. */
static void put_pipelines_are_all_or_nothing(void **state) {
  fixture_t *f = *state;
  dv_err_t err = DV_ERR_INIT;
  dv_audit_t rec;
  Dvsconf__V1__PutVersionRequest req;
  Dvsconf__V1__ExportResponse *resp;
  audited_put(f, "sw-pipe", "uuid-pipe", "it-pipe-1", &rec, &req);
  assert_int_equal(dv_op_put_version(&f->ctx, &req, &resp, &err), 0);
  assert_int_equal(resp->version->number, 1);

  /* the store's connection dies while idle */
  PQclear(sql("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
              " WHERE application_name = 'dvsconfd'",
              0, NULL));
  rec.request_id = "it-pipe-2";
  req.config->portgroups[0]->default_port_config->vlan->vlan_id = 21;
  if (dv_op_put_version(&f->ctx, &req, &resp, &err) != 0) fail_msg("after reconnect: %s", err.msg);
  assert_int_equal(resp->version->number, 2);
  assert_int_equal(count_of(AUDITS_OF, "it-pipe-2"), 1);

  /* the version's insert fails inside the second pipeline */
  PQclear(sql("CREATE FUNCTION it_refuse() RETURNS trigger LANGUAGE plpgsql AS"
              " $$BEGIN IF NEW.note = 'refuse me' THEN RAISE EXCEPTION 'refused by the test';"
              " END IF; RETURN NEW; END$$",
              0, NULL));
  PQclear(sql("CREATE TRIGGER it_refuse BEFORE INSERT ON versions FOR EACH ROW"
              " EXECUTE FUNCTION it_refuse()",
              0, NULL));
  rec.request_id = "it-pipe-3";
  req.note = "refuse me";
  req.config->portgroups[0]->default_port_config->vlan->vlan_id = 22;
  assert_int_equal(dv_op_put_version(&f->ctx, &req, &resp, &err), -1);
  assert_int_equal(err.code, GRPC_STATUS_INTERNAL);
  assert_non_null(strstr(err.msg, "store a version"));
  assert_non_null(strstr(err.msg, "refused by the test"));
  assert_int_equal(count_of(VERSIONS_OF, "uuid-pipe"), 2);
  assert_int_equal(count_of(AUDITS_OF, "it-pipe-3"), 0);
  PQclear(sql("DROP TRIGGER it_refuse ON versions", 0, NULL));
  PQclear(sql("DROP FUNCTION it_refuse()", 0, NULL));

  /* the same connection goes on; the history stays gapless */
  dv_err_clear(&err);
  rec.request_id = "it-pipe-4";
  req.note = "";
  if (dv_op_put_version(&f->ctx, &req, &resp, &err) != 0) fail_msg("after a failure: %s", err.msg);
  assert_int_equal(resp->version->number, 3);
  assert_int_equal(count_of(AUDITS_OF, "it-pipe-4"), 1);
  f->ctx.audit = NULL;
}

/* A pipeline that does not end cleanly (here: a statement that cannot be
 * sent, after one that was) leaves its connection in an unknown state: it
 * is dropped, so the transaction's locks go with it, and the store goes on
 * with a new connection. */
static void unclean_pipeline_drops_its_connection(void **state) {
  (void)state;
  dv_store_t *s = NULL;
  dv_err_t err = DV_ERR_INIT;
  assert_int_equal(dv_store_open(pguri, &s, &err), 0);
  assert_int_equal(store_begin(s, &err), 0);
  PGresult *r = store_query(s, "SELECT pg_advisory_xact_lock(4242)", 0, NULL, NULL, NULL, 0,
                            PGRES_TUPLES_OK, "take a lock", &err);
  assert_non_null(r);
  PQclear(r);
  const store_stmt_t pipe[] = {
      {"SELECT 7", 0, NULL, NULL, NULL, PGRES_TUPLES_OK, "a statement sent"},
      {"SELECT 8", -1, NULL, NULL, NULL, PGRES_TUPLES_OK, "a statement libpq refuses"},
      {"COMMIT", 0, NULL, NULL, NULL, PGRES_COMMAND_OK, "commit"}};
  assert_int_equal(store_pipe_send(s, pipe, 3, &err), 0);
  assert_int_equal(store_pipe_finish(s, -1, NULL, &err), -1);
  assert_int_equal(err.code, GRPC_STATUS_UNAVAILABLE);
  store_rollback(s);
  r = sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242", 0, NULL);
  assert_string_equal(PQgetvalue(r, 0, 0), "0");
  PQclear(r);
  for (int i = 0; i < 2; i++) { /* a pipeline and a statement, twice: all well */
    dv_err_clear(&err);
    const store_stmt_t head[] = {
        {"BEGIN", 0, NULL, NULL, NULL, PGRES_COMMAND_OK, "begin"},
        {"SELECT 9", 0, NULL, NULL, NULL, PGRES_TUPLES_OK, "select"}};
    PGresult *kept = NULL;
    assert_int_equal(store_pipe_send(s, head, 2, &err), 0);
    if (store_pipe_finish(s, 1, &kept, &err) != 0) fail_msg("pipeline %d: %s", i, err.msg);
    assert_string_equal(PQgetvalue(kept, 0, 0), "9");
    PQclear(kept);
    assert_int_equal(store_commit(s, &err), 0);
    r = store_query(s, "SELECT 6", 0, NULL, NULL, NULL, 0, PGRES_TUPLES_OK, "select", &err);
    if (r == NULL) fail_msg("statement %d: %s", i, err.msg);
    PQclear(r);
  }
  dv_store_close(s);
}

/* PutVersion through intake, as the server calls it. */
static int put_packed_rc(dv_ctx_t *ctx, dv_switch_cfg_t *c, Dvsconf__V1__ExportResponse **resp,
                         dv_err_t *err) {
  Dvsconf__V1__PutVersionRequest req = DVSCONF__V1__PUT_VERSION_REQUEST__INIT;
  req.plane = "fake";
  req.config = c;
  size_t len = dvsconf__v1__put_version_request__get_packed_size(&req);
  uint8_t *buf = dv_arena_alloc(ctx->arena, len + 1);
  dvsconf__v1__put_version_request__pack(&req, buf);
  *resp = NULL;
  return dv_op_put_version_packed(ctx, buf, len, resp, err);
}

typedef struct put_call {
  dv_ctx_t *ctx;
  dv_switch_cfg_t *config;
  int rc;
  dv_err_t err;
  Dvsconf__V1__ExportResponse *resp;
  struct timespec ended;
} put_call_t;

static void *put_on_thread(void *arg) {
  put_call_t *p = arg;
  p->rc = put_packed_rc(p->ctx, p->config, &p->resp, &p->err);
  clock_gettime(CLOCK_MONOTONIC, &p->ended);
  return NULL;
}

/* The same, that must succeed: the version's id. */
static const char *put_packed(dv_ctx_t *ctx, dv_switch_cfg_t *c) {
  Dvsconf__V1__ExportResponse *resp;
  dv_err_t err = DV_ERR_INIT;
  if (put_packed_rc(ctx, c, &resp, &err) != 0) fail_msg("put: %s", err.msg);
  return resp->version->id;
}

static double ms_between(const struct timespec *t0, const struct timespec *t1) {
  return (double)(t1->tv_sec - t0->tv_sec) * 1e3 + (double)(t1->tv_nsec - t0->tv_nsec) / 1e6;
}

/* PutVersion, as the server calls it, sends BEGIN and the lock of the
 * switch's history as soon as it knows the switch, and decodes the port
 * groups while PostgreSQL runs them: the put goes on from there, also when
 * it has to wait for the lock. A request refused after that leaves no
 * transaction open, and does not wait for a lock that another writer holds
 * (also when the connection had died while idle); any other statement on
 * the store rolls back a round trip sent ahead. */
static void put_locks_ahead_while_decoding(void **state) {
  fixture_t *f = *state;
  dv_store_t *s = f->store;
  dv_err_t err = DV_ERR_INIT;
  Dvsconf__V1__ExportResponse *resp;
  dv_switch_cfg_t *c = fake_config(f->a, "sw-ahead", "uuid-ahead", 5);
  long ahead = s->puts_ahead;
  put_packed(&f->ctx, c);
  c->portgroups[1]->default_port_config->vlan->vlan_id = 11;
  put_packed(&f->ctx, c);
  assert_int_equal(s->puts_ahead, ahead + 2);

  /* refused once the port groups are decoded */
  c->portgroups[2]->default_port_config->vlan->vlan_id = 5000;
  assert_int_equal(put_packed_rc(&f->ctx, c, &resp, &err), -1);
  assert_int_equal(err.code, GRPC_STATUS_INVALID_ARGUMENT);
  assert_string_equal(backend_state(s), "idle");

  /* the same, while another writer holds the switch's history */
  put_call_t p = {&f->ctx, c, 0, DV_ERR_INIT, NULL};
  while_held("uuid-ahead", put_on_thread, &p, 0, NULL);
  assert_int_equal(p.rc, -1);
  assert_int_equal(p.err.code, GRPC_STATUS_INVALID_ARGUMENT);
  assert_string_equal(backend_state(s), "idle");

  /* a put that waits for the lock (longer than a refusal would) goes on
   * from it once it is released */
  c->portgroups[2]->default_port_config->vlan->vlan_id = 12;
  p = (put_call_t){&f->ctx, c, 0, DV_ERR_INIT, NULL};
  struct timespec released;
  while_held("uuid-ahead", put_on_thread, &p, 150, &released);
  if (p.rc != 0) fail_msg("put behind a lock: %s", p.err.msg);
  assert_true(ms_between(&released, &p.ended) > 0);
  assert_int_equal(p.resp->version->number, 3);
  assert_int_equal(s->puts_ahead, ahead + 3);

  /* a round trip sent ahead, then another statement: rolled back first */
  assert_int_equal(dv_store_put_begin(s, "fake", "uuid-ahead", &err), 0);
  assert_string_equal(backend_state(s), "idle in transaction");
  dv_audit_t rec = {.caller = "it", .role = "operator", .method = "PutVersion", .peer = "test",
                    .request_id = "it-ahead-1", .target = "fake/sw-ahead", .result = "NOT_FOUND",
                    .message = "refused"};
  if (dv_store_audit_append(s, &rec, &err) != 0) fail_msg("audit after a begin: %s", err.msg);
  assert_string_equal(backend_state(s), "idle");
  assert_int_equal(count_of(AUDITS_OF, "it-ahead-1"), 1);

  /* sent ahead for another switch than the one put: rolled back, then put */
  assert_int_equal(dv_store_put_begin(s, "fake", "uuid-elsewhere", &err), 0);
  Dvsconf__V1__PutVersionRequest req = DVSCONF__V1__PUT_VERSION_REQUEST__INIT;
  req.plane = "fake";
  req.config = c;
  c->portgroups[2]->default_port_config->vlan->vlan_id = 13;
  if (dv_op_put_version(&f->ctx, &req, &resp, &err) != 0) fail_msg("put: %s", err.msg);
  assert_int_equal(resp->version->number, 4);
  assert_int_equal(s->puts_ahead, ahead + 3);
  assert_string_equal(backend_state(s), "idle");

  /* The connection died while idle, and the switch's latest version is
   * cached (nothing else touches the connection first): what was sent
   * ahead is sent again on a new connection for a put, and never again for
   * a request refused. */
  dv_vcache_t *cache = dv_vcache_new(16 << 20);
  dv_arena_t *a = dv_arena_new(); /* holds cache references: freed before the cache */
  dv_store_use_cache(s, cache, NULL);
  dv_ctx_t ctx = f->ctx;
  ctx.arena = a;
  c->portgroups[2]->default_port_config->vlan->vlan_id = 14;
  put_packed(&ctx, c); /* cached */
  terminate_backend(s);
  c->portgroups[2]->default_port_config->vlan->vlan_id = 15;
  dv_err_clear(&err);
  if (put_packed_rc(&ctx, c, &resp, &err) != 0) fail_msg("put after a lost connection: %s", err.msg);
  assert_int_equal(resp->version->number, 6);
  assert_int_equal(s->puts_ahead, ahead + 5);
  assert_string_equal(backend_state(s), "idle");
  terminate_backend(s);
  c->portgroups[2]->default_port_config->vlan->vlan_id = 5000;
  p = (put_call_t){&ctx, c, 0, DV_ERR_INIT, NULL};
  while_held("uuid-ahead", put_on_thread, &p, 0, NULL);
  assert_int_equal(p.rc, -1);
  assert_int_equal(p.err.code, GRPC_STATUS_INVALID_ARGUMENT);
  dv_store_use_cache(s, NULL, NULL);
  dv_arena_free(a);
  dv_vcache_free(cache);
}

/* Every digest is the SHA-256 of its port group's bytes, and every block
 * digest the SHA-256 of its block's digests. */
static void assert_digests(const dv_wire_cfg_t *w) {
  assert_non_null(w->digests);
  assert_non_null(w->block_digests);
  for (size_t i = 0; i < w->n_pgs; i++) {
    uint8_t md[32];
    unsigned int n = 0;
    assert_int_equal(EVP_Digest(w->pgs[i].data, w->pgs[i].len, md, &n, EVP_sha256(), NULL), 1);
    assert_memory_equal(w->digests + i * DV_WIRE_DIGEST_LEN, md, 32);
  }
  for (size_t k = 0; k < dv_wire_blocks(w->n_pgs); k++) {
    size_t first = k * DV_WIRE_BLOCK, count = w->n_pgs - first;
    if (count > DV_WIRE_BLOCK) count = DV_WIRE_BLOCK;
    uint8_t md[32];
    unsigned int n = 0;
    assert_int_equal(EVP_Digest(w->digests + first * DV_WIRE_DIGEST_LEN,
                                count * DV_WIRE_DIGEST_LEN, md, &n, EVP_sha256(), NULL),
                     1);
    assert_memory_equal(w->block_digests + k * DV_WIRE_DIGEST_LEN, md, 32);
  }
}

/* The split kept with cached version `id`: there, with digests that are
 * its port groups' own, and naming the cached config as the bytes it was
 * taken from (what intake compares a document with as a whole). */
static void assert_kept_with_digests(dv_vcache_t *cache, dv_arena_t *a, const char *id) {
  const uint8_t *v;
  size_t len;
  int64_t lineage;
  const void *aux = NULL;
  assert_int_equal(dv_vcache_get_ref(cache, strtoll(id, NULL, 10), a, &v, &len, &lineage, &aux), 1);
  assert_non_null(aux);
  assert_digests(aux);
  const dv_wire_cfg_t *w = aux;
  const uint8_t *cfg;
  size_t cfg_len;
  dv_err_t err = DV_ERR_INIT;
  assert_int_equal(dv_wire_field(v, len, 2, &cfg, &cfg_len, &err), 0);
  assert_ptr_equal(w->buf, cfg);
  assert_int_equal(w->buf_len, cfg_len);
}

/* Cached versions keep a digest per port group, taken from the previous
 * version for what did not change (whichever way the version came: intake
 * or a plain config) and made whole when a version is read back; Diff
 * through the digests says what the bytes say. */
static void cached_splits_carry_port_group_digests(void **state) {
  fixture_t *f = *state;
  dv_err_t err = DV_ERR_INIT;
  dv_vcache_t *cache = dv_vcache_new(16 << 20), *other_cache = dv_vcache_new(16 << 20);
  dv_arena_t *a = dv_arena_new(); /* holds cache references: freed before the caches */
  dv_store_use_cache(f->store, cache, NULL);
  dv_ctx_t ctx = f->ctx;
  ctx.arena = a;
  dv_switch_cfg_t *c = fake_config(a, "sw-dig", "uuid-dig", 150); /* blocks: 64, 64, 22 */
  const char *id[4];
  id[0] = put_packed(&ctx, c);
  assert_kept_with_digests(cache, a, id[0]);
  c->portgroups[7]->default_port_config->vlan->vlan_id = 77;
  c->portgroups[140]->default_port_config->vlan->vlan_id = 140; /* block 1 equal between */
  id[1] = put_packed(&ctx, c);
  assert_kept_with_digests(cache, a, id[1]);
  c->portgroups[10] = fake_config(a, "x", "x", 1)->portgroups[0]; /* one gone, one new */
  c->portgroups[10]->name = "pg-new";
  c->portgroups[10]->key = "key-new";
  c->portgroups[20]->description = "changed";
  id[2] = put_packed(&ctx, c);
  assert_kept_with_digests(cache, a, id[2]);
  c->portgroups[30]->default_port_config->vlan->vlan_id = 30;
  dv_put_t put = {"fake", c, 0, "", NULL, 0}; /* no intake: the store splits it */
  dv_version_info_t *info;
  bool unchanged;
  assert_int_equal(dv_store_put_version(f->store, a, &put, &info, &unchanged, &err), 0);
  id[3] = info->id;
  assert_kept_with_digests(cache, a, id[3]);
  const dv_wire_cfg_t *w[4];
  int64_t lineage;
  for (int k = 0; k < 4; k++) {
    assert_int_equal(dv_store_get_config_split(f->store, a, id[k], &w[k], &lineage, &err), 0);
    assert_digests(w[k]);
  }
  /* read back by another process: digests made on the way in */
  dv_store_t *other = NULL;
  assert_int_equal(dv_store_open(pguri, &other, &err), 0);
  dv_store_use_cache(other, other_cache, NULL);
  const dv_wire_cfg_t *again;
  assert_int_equal(dv_store_get_config_split(other, a, id[2], &again, &lineage, &err), 0);
  assert_digests(again);
  dv_store_close(other);
  /* the same changes with and without them */
  for (int k = 1; k < 4; k++) {
    dv_wire_cfg_t x = *w[0], y = *w[k];
    dv_change_t **with, **without;
    size_t n_with, n_without;
    assert_int_equal(dv_diff_split(a, w[0], w[k], true, &with, &n_with, &err), 0);
    x.digests = y.digests = x.block_digests = y.block_digests = NULL;
    assert_int_equal(dv_diff_split(a, &x, &y, true, &without, &n_without, &err), 0);
    assert_int_equal(n_with, n_without);
    assert_true(n_with >= (size_t)k);
    for (size_t i = 0; i < n_with; i++) {
      assert_int_equal(with[i]->kind, without[i]->kind);
      assert_string_equal(with[i]->path, without[i]->path);
      assert_string_equal(with[i]->old_value, without[i]->old_value);
      assert_string_equal(with[i]->new_value, without[i]->new_value);
    }
  }
  dv_store_use_cache(f->store, NULL, NULL);
  dv_arena_free(a);
  dv_vcache_free(cache);
  dv_vcache_free(other_cache);
}

/* The fixture's context with an arena of its own and a version cache of
 * `bytes` on the fixture's store; cached_ctx_done undoes it. */
static dv_ctx_t cached_ctx(fixture_t *f, size_t bytes, dv_vcache_t **cache, dv_arena_t **a) {
  *cache = dv_vcache_new(bytes);
  *a = dv_arena_new(); /* holds cache references: freed before the cache */
  dv_store_use_cache(f->store, *cache, NULL);
  dv_ctx_t ctx = f->ctx;
  ctx.arena = *a;
  return ctx;
}

static void cached_ctx_done(fixture_t *f, dv_vcache_t *cache, dv_arena_t *a) {
  dv_store_use_cache(f->store, NULL, NULL);
  dv_arena_free(a);
  dv_vcache_free(cache);
}

/* A big switch put version after version as PutVersion puts it (intake,
 * a cache): each checksum is hashed on from the marks kept with the
 * previous version (model.h: dv_sha256_marked), wherever the change is,
 * and is the SHA-256 of the version's canonical bytes; a store without a
 * cache reads every version back, verified against it. */
static void checksums_resumed_from_marks_are_the_bytes_own(void **state) {
  fixture_t *f = *state;
  dv_err_t err = DV_ERR_INIT;
  dv_vcache_t *cache;
  dv_arena_t *a;
  dv_ctx_t ctx = cached_ctx(f, 64 << 20, &cache, &a);
  enum { N = 3000, K = 6 };
  dv_switch_cfg_t *c = fake_config(a, "sw-marks", "uuid-marks", N);
  const char *id[K];
  const int at[K] = {0, N - 1, N / 2, 0, N / 3, 7}; /* where each version changes */
  for (int k = 0; k < K; k++) {
    c->portgroups[at[k]]->default_port_config->vlan->vlan_id = 3000 + k;
    id[k] = put_packed(&ctx, c);
    const uint8_t *v;
    size_t len;
    int64_t lineage;
    const void *aux = NULL;
    int64_t vid = strtoll(id[k], NULL, 10);
    assert_int_equal(dv_vcache_get_ref(cache, vid, a, &v, &len, &lineage, &aux), 1);
    const dv_wire_cfg_t *kept = aux;
    assert_non_null(kept);
    assert_true(kept->buf_len > 4 * DV_SHA_MARK_STEP); /* several marks */
    assert_non_null(kept->sha_marks);
  }
  dv_store_t *cold = NULL;
  assert_int_equal(dv_store_open(pguri, &cold, &err), 0);
  for (int k = 0; k < K; k++) {
    dv_version_info_t *info;
    dv_switch_cfg_t *decoded;
    uint8_t *canon;
    size_t len;
    char sum[DV_SHA256_HEX_LEN + 1];
    if (dv_store_get_version(cold, a, id[k], &info, &decoded, &err) != 0)
      fail_msg("version %d: %s", k, err.msg);
    assert_int_equal(dv_config_encode(a, decoded, &canon, &len, &err), 0);
    dv_sha256_hex(canon, len, sum);
    assert_string_equal(info->checksum, sum);
  }
  dv_store_close(cold);
  cached_ctx_done(f, cache, a);
}

/* Version `id`, read by a store without a cache: its config's canonical
 * bytes are those of `c`, and its checksum theirs. */
static void stored_as(dv_arena_t *a, const char *id, dv_switch_cfg_t *c) {
  dv_err_t err = DV_ERR_INIT;
  dv_store_t *cold = NULL;
  uint8_t *want, *got;
  size_t want_len, got_len;
  dv_version_info_t *info;
  dv_switch_cfg_t *read;
  char sum[DV_SHA256_HEX_LEN + 1];
  assert_int_equal(dv_config_encode(a, c, &want, &want_len, &err), 0);
  assert_int_equal(dv_store_open(pguri, &cold, &err), 0);
  if (dv_store_get_version(cold, a, id, &info, &read, &err) != 0) fail_msg("%s: %s", id, err.msg);
  assert_int_equal(dv_config_encode(a, read, &got, &got_len, &err), 0);
  assert_int_equal(got_len, want_len);
  assert_memory_equal(got, want, want_len);
  dv_sha256_hex(want, want_len, sum);
  assert_string_equal(info->checksum, sum);
  dv_store_close(cold);
}

/* PutVersion's usual document (the latest version with a run of port
 * groups replaced) is stored from the run intake found: its delta read off
 * it (layout.c), its split made after the reply, with digests. Each kind
 * of run reads back as sent, stored as a delta. When another process
 * stored a version since the one the run replaces in, the delta is made
 * against that version instead, from the whole split. */
static void a_run_replaced_is_stored_as_sent(void **state) {
  fixture_t *f = *state;
  dv_err_t err = DV_ERR_INIT;
  dv_vcache_t *cache;
  dv_arena_t *a;
  dv_ctx_t ctx = cached_ctx(f, 64 << 20, &cache, &a);
  enum { N = 300 };
  dv_switch_cfg_t *c = fake_config(a, "sw-run", "uuid-run", N);
  dv_config_canonicalize(c); /* sent as GetVersion gives it: taken whole from the 2nd on */
  const char *first = put_packed(&ctx, c);
  for (int k = 0; k < 5; k++) {
    dv_pg_cfg_t **pg = c->portgroups;
    switch (k) {
      case 0: pg[40]->default_port_config->vlan->vlan_id = 400; break;     /* in place */
      case 1: memmove(pg + 10, pg + 11, (--c->n_portgroups - 10) * sizeof *pg); break;
      case 2: pg[20]->name = "pg-renamed"; break;                          /* not in place */
      case 3: pg[5]->num_ports = 77, pg[6]->num_ports = 78; break;         /* two neighbours */
      case 4: pg[c->n_portgroups - 1]->description = "last"; break;
    }
    const char *id = put_packed(&ctx, c);
    assert_string_not_equal(id, first);
    stored_as(a, id, c);
    assert_kept_with_digests(cache, a, id);
    const char *p[] = {id};
    PGresult *r = sql("SELECT base_number < number FROM versions WHERE id = $1", 1, p);
    assert_string_equal(PQgetvalue(r, 0, 0), "t"); /* a delta */
    PQclear(r);
  }
  /* another process stores a version; this one's cache still has the
   * previous as the latest */
  dv_store_t *other = NULL;
  assert_int_equal(dv_store_open(pguri, &other, &err), 0);
  dv_switch_cfg_t *theirs = dv_msg_clone(a, &c->base);
  theirs->portgroups[100] = dv_msg_clone(a, &c->portgroups[100]->base);
  theirs->portgroups[100]->default_port_config->vlan->vlan_id = 1000;
  dv_put_t put = {"fake", theirs, 0, "", NULL, 0};
  dv_version_info_t *info;
  bool unchanged;
  assert_int_equal(dv_store_put_version(other, a, &put, &info, &unchanged, &err), 0);
  dv_store_close(other);
  c->portgroups[200]->default_port_config->vlan->vlan_id = 2000; /* not theirs: 100 reverts */
  const char *id = put_packed(&ctx, c);
  assert_int_equal(strtoll(id, NULL, 10), strtoll(info->id, NULL, 10) + 1);
  stored_as(a, id, c);
  assert_kept_with_digests(cache, a, id);
  /* the switch's history gone from the database (restored from an older
   * dump, say) while this process still has its latest version: a run
   * against it is stored whole, as version 1, and cached with its split */
  const char *u[] = {"uuid-run"};
  PQclear(sql("DELETE FROM versions WHERE switch_id = (SELECT id FROM switches WHERE uuid = $1)",
              1, u));
  PQclear(sql("UPDATE switches SET latest_number = 0 WHERE uuid = $1", 1, u));
  c->portgroups[201]->default_port_config->vlan->vlan_id = 2001;
  Dvsconf__V1__ExportResponse *resp;
  assert_int_equal(put_packed_rc(&ctx, c, &resp, &err), 0);
  assert_int_equal(resp->version->number, 1);
  stored_as(a, resp->version->id, c);
  assert_kept_with_digests(cache, a, resp->version->id);
  cached_ctx_done(f, cache, a);
}

/* A cache big enough for a version but not for it with its split's room
 * beside it (one block: store.c, cache_new_version) keeps the version,
 * and the split in a block of its own. */
static void a_small_cache_keeps_a_version_without_the_room(void **state) {
  fixture_t *f = *state;
  dv_err_t err = DV_ERR_INIT;
  dv_arena_t *a = dv_arena_new();
  dv_ctx_t ctx = f->ctx;
  ctx.arena = a;
  dv_switch_cfg_t *c = fake_config(a, "sw-small", "uuid-small", 400);
  uint8_t *canon;
  size_t canon_len;
  assert_int_equal(dv_config_encode(a, c, &canon, &canon_len, &err), 0);
  /* an eighth of it (what one entry may take) holds the version: its
   * info is far below 4 KiB; its split takes more than that */
  size_t max = 8 * (canon_len + 4096);
  assert_true(max / 8 < DV_BIG_MIN); /* counted as they are (bigmem.h) */
  dv_vcache_t *cache = dv_vcache_new(max);
  dv_store_use_cache(f->store, cache, NULL);
  const char *id = put_packed(&ctx, c);
  c->portgroups[9]->default_port_config->vlan->vlan_id = 9;
  const char *next = put_packed(&ctx, c);
  assert_kept_with_digests(cache, a, id);
  assert_kept_with_digests(cache, a, next);
  cached_ctx_done(f, cache, a);
}

/* The config bytes of version id read packed through store `st` (the
 * wire-level fold when it is not cached). */
static void packed_config(dv_store_t *st, dv_arena_t *a, const char *id, const uint8_t **cfg,
                          size_t *len) {
  const uint8_t *v;
  size_t vlen;
  int64_t lineage;
  dv_err_t err = DV_ERR_INIT;
  if (dv_store_get_version_packed(st, a, id, &v, &vlen, &lineage, &err) != 0)
    fail_msg("read %s: %s", id, err.msg);
  assert_int_equal(dv_wire_field(v, vlen, 2, cfg, len, &err), 0);
}

/* A version read packed is folded at the wire level, from the whole
 * version in the cache when it is there (a read keeps the whole version it
 * decompressed): byte for byte the canonical encoding the decoding read
 * gives, through a settings change and removed, added, renamed, changed
 * and keyless port groups. */
static void reads_fold_at_the_wire_level(void **state) {
  fixture_t *f = *state;
  dv_err_t err = DV_ERR_INIT;
  dv_arena_t *a = dv_arena_new();
  dv_switch_cfg_t *c = fake_config(a, "sw-fold", "uuid-fold", 40);
  const char *id[8];
  for (int k = 0; k < 8; k++) {
    if (k == 1) c->portgroups[3]->default_port_config->vlan->vlan_id = 33;
    if (k == 2) c->n_portgroups--; /* the last one removed */
    if (k == 3) c->portgroups[5]->name = "renamed";
    if (k == 4) c->max_mtu = 9000;
    if (k == 5) { /* one added */
      dv_pg_cfg_t **more = dv_arena_alloc(a, (c->n_portgroups + 1) * sizeof *more);
      memcpy(more, c->portgroups, c->n_portgroups * sizeof *more);
      more[c->n_portgroups] = fake_config(a, "x", "x", 1)->portgroups[0];
      more[c->n_portgroups]->key = "key-added";
      more[c->n_portgroups]->name = "added";
      c->portgroups = more;
      c->n_portgroups++;
    }
    if (k == 6) c->portgroups[7]->key = ""; /* known by its name now: sorted first */
    if (k == 7) c->portgroups[7]->name = "zz-keyless"; /* and moved among the keyless */
    dv_put_t put = {"fake", c, 0, "", NULL, 0};
    dv_version_info_t *info;
    bool unchanged;
    assert_int_equal(dv_store_put_version(f->store, a, &put, &info, &unchanged, &err), 0);
    assert_false(unchanged);
    id[k] = info->id;
  }
  dv_store_t *cold = NULL, *warm = NULL; /* no cache; a cache holding version 1 */
  dv_vcache_t *cache = dv_vcache_new(16 << 20);
  assert_int_equal(dv_store_open(pguri, &cold, &err), 0);
  assert_int_equal(dv_store_open(pguri, &warm, &err), 0);
  dv_store_use_cache(warm, cache, NULL);
  const uint8_t *first;
  size_t first_len;
  packed_config(warm, a, id[0], &first, &first_len);
  for (int k = 0; k < 8; k++) {
    dv_switch_cfg_t *decoded;
    uint8_t *want;
    size_t want_len;
    assert_int_equal(dv_store_get_version(cold, a, id[k], NULL, &decoded, &err), 0);
    assert_int_equal(dv_config_encode(a, decoded, &want, &want_len, &err), 0);
    const uint8_t *got[2];
    size_t got_len[2];
    packed_config(cold, a, id[k], &got[0], &got_len[0]);
    packed_config(warm, a, id[k], &got[1], &got_len[1]);
    for (int i = 0; i < 2; i++) {
      assert_int_equal(got_len[i], want_len);
      assert_memory_equal(got[i], want, want_len);
    }
  }
  /* proof that the whole version is kept and used: reading version 2
   * caches version 1, the whole one; with its stored body destroyed, that
   * store still reads version 4 exactly, one without it reports the damage */
  dv_store_t *warm2 = NULL;
  dv_vcache_t *cache2 = dv_vcache_new(16 << 20);
  assert_int_equal(dv_store_open(pguri, &warm2, &err), 0);
  dv_store_use_cache(warm2, cache2, NULL);
  packed_config(warm2, a, id[2], &first, &first_len);
  const char *p[] = {id[0]};
  PQclear(sql("UPDATE versions SET body = '\\x00ff'::bytea WHERE id = $1", 1, p));
  const uint8_t *got, *again;
  size_t got_len, again_len;
  packed_config(warm2, a, id[4], &got, &got_len);
  packed_config(warm, a, id[4], &again, &again_len); /* cached earlier */
  assert_int_equal(got_len, again_len);
  assert_memory_equal(got, again, got_len);
  const uint8_t *v;
  size_t vlen;
  int64_t lineage;
  dv_err_clear(&err);
  assert_int_equal(dv_store_get_version_packed(cold, a, id[4], &v, &vlen, &lineage, &err), -1);
  assert_int_equal(err.code, GRPC_STATUS_DATA_LOSS);
  dv_store_close(cold);
  dv_store_close(warm);
  dv_store_close(warm2);
  dv_arena_free(a);
  dv_vcache_free(cache);
  dv_vcache_free(cache2);
}

static void database_down_is_unavailable(void **state) {
  dv_store_t *s = NULL;
  dv_err_t err = DV_ERR_INIT;
  assert_int_equal(dv_store_open("postgresql://postgres@127.0.0.1:1/none", &s, &err), -1);
  assert_int_equal(err.code, GRPC_STATUS_UNAVAILABLE);
  assert_non_null(s);
  dv_err_clear(&err);
  dv_arena_t *a = dv_arena_new();
  dv_version_info_t *info;
  assert_int_equal(dv_store_get_version(s, a, "1", &info, NULL, &err), -1);
  assert_int_equal(err.code, GRPC_STATUS_UNAVAILABLE);
  dv_arena_free(a);
  dv_store_close(s);
}

int main(void) {
  pguri = getenv("PGURI");
  if (pguri == NULL) {
    fprintf(stderr, "PGURI is not set: this test needs a PostgreSQL database\n");
    return 1;
  }
  /* the database is this test's own (tests/run.sh makes one per suite):
   * the first test starts from an empty schema, so a rerun does too */
  if (!concurrent_first_migrations()) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(migrations_are_idempotent),
      cmocka_unit_test(audit_log_is_append_only),
      cmocka_unit_test(export_unchanged_and_history),
      cmocka_unit_test(bad_exports_write_nothing),
      cmocka_unit_test(concurrent_writers_keep_numbers_gapless),
      cmocka_unit_test(storage_grows_with_change),
      cmocka_unit_test(import_modes_and_safety),
      cmocka_unit_test(corrupt_version_is_data_loss_and_never_applied),
      cmocka_unit_test(put_version_validates_documents),
      cmocka_unit_test(list_pages_follow_every_write),
      cmocka_unit_test(audit_record_commits_with_the_version),
      cmocka_unit_test(put_pipelines_are_all_or_nothing),
      cmocka_unit_test(unclean_pipeline_drops_its_connection),
      cmocka_unit_test(put_locks_ahead_while_decoding),
      cmocka_unit_test(cached_splits_carry_port_group_digests),
      cmocka_unit_test(checksums_resumed_from_marks_are_the_bytes_own),
      cmocka_unit_test(a_small_cache_keeps_a_version_without_the_room),
      cmocka_unit_test(a_run_replaced_is_stored_as_sent),
      cmocka_unit_test(reads_fold_at_the_wire_level),
      cmocka_unit_test(database_down_is_unavailable),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
