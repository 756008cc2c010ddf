/* The schema, as numbered migrations. A migration is a list of statements
 * run in one transaction; once released, a migration never changes: a new
 * schema change is a new number appended at the end. */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

static const char *const m001[] = {
    /* A switch's history ("lineage"), found by the identity it was first
     * exported with, or by an alias recorded when an import re-created it. */
    "CREATE TABLE switches ("
    "  id            bigserial PRIMARY KEY,"
    "  plane         text NOT NULL,"
    "  uuid          text NOT NULL,"
    "  name          text NOT NULL,"
    "  latest_number bigint NOT NULL DEFAULT 0,"
    "  created_at    timestamptz NOT NULL DEFAULT now(),"
    "  UNIQUE (plane, uuid))",
    "CREATE TABLE switch_aliases ("
    "  plane      text NOT NULL,"
    "  uuid       text NOT NULL,"
    "  switch_id  bigint NOT NULL REFERENCES switches (id),"
    "  created_at timestamptz NOT NULL DEFAULT now(),"
    "  PRIMARY KEY (plane, uuid))",
    /* Every version. body is a whole canonical SwitchConfig when
     * number = base_number, else a store.Delta against number - 1.
     * chain_bytes: body bytes of the deltas from base_number to here. */
    "CREATE TABLE versions ("
    "  id              bigserial PRIMARY KEY,"
    "  switch_id       bigint NOT NULL REFERENCES switches (id),"
    "  number          bigint NOT NULL CHECK (number > 0),"
    "  plane           text NOT NULL,"
    "  switch_uuid     text NOT NULL,"
    "  switch_name     text NOT NULL,"
    "  created_at      timestamptz NOT NULL DEFAULT now(),"
    "  checksum        bytea NOT NULL CHECK (octet_length(checksum) = 32),"
    "  note            text NOT NULL DEFAULT '',"
    "  labels          jsonb NOT NULL DEFAULT '{}',"
    "  scope           smallint NOT NULL,"
    "  portgroup_count integer NOT NULL,"
    "  base_number     bigint NOT NULL CHECK (base_number <= number),"
    "  chain_bytes     bigint NOT NULL,"
    "  codec           smallint NOT NULL,"
    "  body            bytea NOT NULL,"
    "  UNIQUE (switch_id, number))",
    /* Bodies are compressed by the store itself (codec 1 = zlib): keep
     * PostgreSQL from compressing them again. */
    "ALTER TABLE versions ALTER COLUMN body SET STORAGE EXTERNAL",
    "CREATE INDEX versions_switch_id_id ON versions (switch_id, id)",
    "CREATE TABLE imports ("
    "  id           bigserial PRIMARY KEY,"
    "  created_at   timestamptz NOT NULL DEFAULT now(),"
    "  version_id   bigint NOT NULL REFERENCES versions (id),"
    "  mode         smallint NOT NULL,"
    "  target_plane text NOT NULL,"
    "  switch_uuid  text NOT NULL,"
    "  switch_name  text NOT NULL,"
    "  plan_sha256  text NOT NULL,"
    "  result       text NOT NULL,"
    "  message      text NOT NULL,"
    "  id_map       jsonb NOT NULL DEFAULT '[]')",
    NULL,
};

static const char *const m002[] = {
    /* The audit log: append-only, enforced by the database itself. */
    "CREATE TABLE audit_events ("
    "  id          bigserial PRIMARY KEY,"
    "  at          timestamptz NOT NULL DEFAULT now(),"
    "  caller      text NOT NULL,"
    "  role        text NOT NULL,"
    "  method      text NOT NULL,"
    "  peer        text NOT NULL,"
    "  request_id  text NOT NULL,"
    "  target      text NOT NULL,"
    "  plan_sha256 text NOT NULL,"
    "  result      text NOT NULL,"
    "  message     text NOT NULL)",
    "CREATE INDEX audit_events_method_id ON audit_events (method, id)",
    "CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS"
    " $$BEGIN RAISE EXCEPTION 'audit_events is append-only'; END$$",
    "CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events"
    " FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()",
    NULL,
};

static const char *const m003[] = {
    /* Storage is the product: indexes that no query needs go. Listing a
     * switch's history uses UNIQUE (switch_id, number); the audit log is
     * listed newest first by its primary key. */
    "DROP INDEX versions_switch_id_id",
    "DROP INDEX audit_events_method_id",
    NULL,
};

static const char *const m004[] = {
    /* Every change to what ListVersions can show is announced, whoever makes
     * it, so that each dvsconfd's cache of pages (listcache.h) learns of it.
     * NOTIFY is transactional: heard at commit, never for a rollback. */
    "CREATE FUNCTION dvsconf_notify_versions() RETURNS trigger LANGUAGE plpgsql AS"
    " $$BEGIN PERFORM pg_notify('dvsconf_versions', ''); RETURN NULL; END$$",
    "CREATE TRIGGER versions_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON versions"
    " FOR EACH STATEMENT EXECUTE FUNCTION dvsconf_notify_versions()",
    "CREATE TRIGGER switches_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON switches"
    " FOR EACH STATEMENT EXECUTE FUNCTION dvsconf_notify_versions()",
    "CREATE TRIGGER switch_aliases_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE"
    " ON switch_aliases FOR EACH STATEMENT EXECUTE FUNCTION dvsconf_notify_versions()",
    NULL,
};

static const char *const *const migrations[] = {m001, m002, m003, m004};
#define N_MIGRATIONS (sizeof migrations / sizeof migrations[0])

/* Any constant: the advisory lock that serializes migrating processes. */
#define MIGRATE_LOCK_KEY "74657001"

int dv_store_migrate(dv_store_t *s, dv_err_t *err) {
  PGresult *r = NULL;
  int rc = -1;
  if (store_begin(s, err) != 0) return -1;
  const char *lock[] = {MIGRATE_LOCK_KEY};
  r = store_query(s, "SELECT pg_advisory_xact_lock($1::bigint)", 1, lock, NULL, NULL, 0,
                  PGRES_TUPLES_OK, "take the migration lock", err);
  if (r == NULL) goto cleanup;
  PQclear(r);
  r = store_query(s,
                  "CREATE TABLE IF NOT EXISTS schema_migrations ("
                  " version integer PRIMARY KEY,"
                  " applied_at timestamptz NOT NULL DEFAULT now())",
                  0, NULL, NULL, NULL, 0, PGRES_COMMAND_OK, "create schema_migrations", err);
  if (r == NULL) goto cleanup;
  PQclear(r);
  r = store_query(s, "SELECT coalesce(max(version), 0) FROM schema_migrations", 0, NULL, NULL,
                  NULL, 0, PGRES_TUPLES_OK, "read schema_migrations", err);
  if (r == NULL) goto cleanup;
  long have = strtol(PQgetvalue(r, 0, 0), NULL, 10);
  PQclear(r);
  r = NULL;
  if (have > (long)N_MIGRATIONS) {
    dv_err_set(err, GRPC_STATUS_FAILED_PRECONDITION,
               "database schema is at version %ld, newer than this dvsconfd knows (%zu)", have,
               N_MIGRATIONS);
    goto cleanup;
  }
  for (size_t m = (size_t)have; m < N_MIGRATIONS; m++) {
    for (const char *const *stmt = migrations[m]; *stmt != NULL; stmt++) {
      r = store_query(s, *stmt, 0, NULL, NULL, NULL, 0, PGRES_COMMAND_OK, "apply migration",
                      err);
      if (r == NULL) {
        dv_err_prefix(err, "migration %zu", m + 1);
        goto cleanup;
      }
      PQclear(r);
    }
    char num[16];
    snprintf(num, sizeof num, "%zu", m + 1);
    const char *p[] = {num};
    r = store_query(s, "INSERT INTO schema_migrations (version) VALUES ($1::integer)", 1, p,
                    NULL, NULL, 0, PGRES_COMMAND_OK, "record migration", err);
    if (r == NULL) goto cleanup;
    PQclear(r);
  }
  r = NULL;
  rc = store_commit(s, err);
cleanup:
  if (r != NULL) PQclear(r);
  if (rc != 0) store_rollback(s);
  return rc;
}
