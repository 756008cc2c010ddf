/* dv_store: the version store, in PostgreSQL. libpq is used in storage/
 * only. See storage/README.md for the schema and the storage layout.
 *
 * One dv_store_t is one database connection: it belongs to one thread at a
 * time (the service keeps one per worker thread). A lost connection makes
 * the call fail with UNAVAILABLE; the next call reconnects by itself.
 *
 * Every function returns 0 or -1 with *err set; everything it returns is
 * allocated in the caller's arena. A failed call writes nothing: each
 * writing function runs in one transaction. */
#ifndef DV_STORE_H
#define DV_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "err.h"
#include "model.h"
#include "wire.h"

typedef struct dv_store dv_store_t;
typedef Dvsconf__V1__VersionInfo dv_version_info_t;

/* Connect (or remember conninfo and fail with UNAVAILABLE when the database
 * is down: *out is still set, later calls retry). */
int dv_store_open(const char *conninfo, dv_store_t **out, dv_err_t *err);
void dv_store_close(dv_store_t *s); /* NULL-safe */

/* Cancel the statement this store's connection is running, if it has run
 * for at least min_running_ms (from any thread; the owner's call then fails
 * and its transaction rolls back). Used when a graceful stop runs out of
 * time: once for every statement, then for those still running after a
 * second (a call that was between statements at the first cancel may go
 * on to wait on a lock). */
void dv_store_cancel(dv_store_t *s, int min_running_ms);

/* Read versions through a shared cache of verified versions (vcache.h), and
 * tell a shared cache of ListVersions pages (listcache.h) of every write.
 * Either may be NULL; both must outlive the store. */
struct dv_vcache;
struct dv_listcache;
void dv_store_use_cache(dv_store_t *s, struct dv_vcache *cache, struct dv_listcache *lists);
struct dv_listcache *dv_store_lists(const dv_store_t *s); /* NULL-safe */

/* A version just stored is kept in the cache (the switch's next version is
 * stored against it). That is work the caller need not wait for: with
 * deferral on, dv_store_put_version leaves it (pointing into its arena) and
 * dv_store_after_reply() does it, which the owner must call before that
 * arena is freed; the server calls it once the reply is on its way. Off (the
 * default), it is done before dv_store_put_version returns. */
void dv_store_defer_caching(dv_store_t *s, bool on);
void dv_store_after_reply(dv_store_t *s); /* NULL-safe; nothing pending: no-op */

/* Apply the numbered schema migrations not yet applied, under an advisory
 * lock, so two processes starting at once are safe. */
int dv_store_migrate(dv_store_t *s, dv_err_t *err);

typedef struct dv_label {
  const char *key;
  const char *value;
} dv_label_t;

typedef struct dv_audit {
  const char *caller, *role, *method, *peer, *request_id, *target, *plan_sha256, *result,
      *message;
} dv_audit_t;

/* A new version for put_version. */
typedef struct dv_put {
  const char *plane;
  dv_switch_cfg_t *config; /* canonicalized in place; uuid and name set */
  int scope;               /* Dvsconf__V1__ExportScope */
  const char *note;
  const dv_label_t *labels;
  size_t n_labels;
  /* When set, the config's canonical encoding and its split (intake.h),
   * already checked: config then holds the switch's own fields only, and
   * is not encoded again. */
  const uint8_t *canon;
  size_t canon_len;
  const dv_wire_cfg_t *canon_split;
  /* Or canon's split as a run of port groups replaced in a version's split
   * (wire.h): the delta is read off it when that version is the latest,
   * and the whole split made after the reply. */
  const dv_wire_run_t *canon_run;
  /* When set, appended to the audit log in the same transaction. */
  const dv_audit_t *audit;
} dv_put_t;

/* Send the first round trip of a put of (plane, uuid)'s next version now:
 * the transaction begins and PostgreSQL locks the switch's history and
 * reads its latest version while the caller still prepares the version.
 * The next dv_store_put_version of that switch on this store goes on from
 * there. dv_store_put_abandon, or any other statement on the store, rolls
 * it back. Errors only mean that nothing was sent ahead (no connection is
 * opened for it). */
int dv_store_put_begin(dv_store_t *s, const char *plane, const char *uuid, dv_err_t *err);

/* Roll back what dv_store_put_begin sent, if no put went on from it (the
 * request was refused). A lock that PostgreSQL is still waiting for after
 * a few milliseconds, because another writer holds it, is cancelled rather
 * than waited for. NULL-safe; nothing sent ahead: a no-op. */
void dv_store_put_abandon(dv_store_t *s);

/* Store config as the next version of its switch (found by plane + uuid,
 * or an alias recorded by a create-original import), unless it equals the
 * switch's latest version: then *unchanged = true and *out is that version.
 * Version numbers are gapless and unique under concurrent writers. */
int dv_store_put_version(dv_store_t *s, dv_arena_t *a, const dv_put_t *put,
                         dv_version_info_t **out, bool *unchanged, dv_err_t *err);

/* Read one version; its checksum is verified (DATA_LOSS on mismatch).
 * NOT_FOUND when absent, INVALID_ARGUMENT when id is malformed. */
int dv_store_get_version(dv_store_t *s, dv_arena_t *a, const char *id,
                         dv_version_info_t **info, dv_switch_cfg_t **config, dv_err_t *err);

/* The same, with the lineage id of the version's switch (to tell "same
 * switch history"). */
int dv_store_get_version_lineage(dv_store_t *s, dv_arena_t *a, const char *id,
                                 dv_version_info_t **info, dv_switch_cfg_t **config,
                                 int64_t *lineage, dv_err_t *err);

/* The packed Version message {info, config} of a version, verified (from
 * the cache when it is there, without decoding), and its lineage id. */
int dv_store_get_version_packed(dv_store_t *s, dv_arena_t *a, const char *id,
                                const uint8_t **version, size_t *version_len, int64_t *lineage,
                                dv_err_t *err);

/* The split of the latest version of the switch (plane, uuid), as
 * dv_store_get_config_split gives it; *split = NULL when there is none. */
int dv_store_latest_split(dv_store_t *s, dv_arena_t *a, const char *plane, const char *uuid,
                          const dv_wire_cfg_t **split, dv_err_t *err);

/* A version's config split into settings and port groups (wire.h), verified,
 * and its lineage id. The split is made once per cached version and kept
 * with it, so diffs and deltas against a version do not repeat it. */
int dv_store_get_config_split(dv_store_t *s, dv_arena_t *a, const char *id,
                              const dv_wire_cfg_t **split, int64_t *lineage, dv_err_t *err);

/* Latest stored version of a live switch (NULL when none). */
int dv_store_latest_for(dv_store_t *s, dv_arena_t *a, const char *plane, const char *uuid,
                        dv_version_info_t **out, int64_t *lineage, dv_err_t *err);

typedef struct dv_list_filter {
  const char *plane;       /* "" = any */
  const char *switch_uuid; /* "" = any */
  const char *switch_name; /* "" = any */
} dv_list_filter_t;

/* Newest first, at most limit rows with id below before_id (0 = from the
 * newest). *more is set when more rows follow. */
int dv_store_list_versions(dv_store_t *s, dv_arena_t *a, const dv_list_filter_t *f,
                           int64_t before_id, int limit, dv_version_info_t ***out, size_t *n,
                           bool *more, dv_err_t *err);

/* Switches known to the store (filter by plane, "" = all), each with its
 * latest version. */
int dv_store_list_switches(dv_store_t *s, dv_arena_t *a, const char *plane,
                           Dvsconf__V1__SwitchSummary ***out, size_t *n, dv_err_t *err);

/* Record an import; for a create-original import also record that
 * (plane, new_uuid) continues the lineage of the version's switch, so that
 * its next export continues the same history. Returns the import id. */
typedef struct dv_import_rec {
  const char *version_id;
  int mode;
  const char *target_plane;
  const char *switch_uuid;
  const char *switch_name;
  const char *plan_sha256; /* hex */
  const char *result;      /* OK, or the status name */
  const char *message;
  const char *id_map_json; /* JSON array of identity pairs, or "[]" */
  bool continue_lineage;   /* create-original */
} dv_import_rec_t;

int dv_store_record_import(dv_store_t *s, dv_arena_t *a, const dv_import_rec_t *rec,
                           char **import_id, dv_err_t *err);

/* Serialize imports on one switch across processes: a session advisory
 * lock on (plane, switch). try_lock fails with ABORTED when another import
 * holds it. */
int dv_store_lock_switch(dv_store_t *s, const char *plane, const char *switch_key, dv_err_t *err);
void dv_store_unlock_switch(dv_store_t *s, const char *plane, const char *switch_key);

/* The audit log (append-only): one record (dv_audit_t, above). */
int dv_store_audit_append(dv_store_t *s, const dv_audit_t *ev, dv_err_t *err);

/* Newest first; method "" = all. */
int dv_store_list_audit(dv_store_t *s, dv_arena_t *a, const char *method, int64_t before_id,
                        int limit, Dvsconf__V1__AuditEvent ***out, size_t *n, bool *more,
                        dv_err_t *err);

/* Page tokens: opaque, bound to the filter they were made for. */
char *dv_page_token_make(dv_arena_t *a, const dv_list_filter_t *f, int64_t last_id);
int dv_page_token_parse(const char *token, const dv_list_filter_t *f, int64_t *last_id,
                        dv_err_t *err);

/* Version ids are opaque strings; internally a positive integer. */
int dv_version_id_parse(const char *id, int64_t *out, dv_err_t *err);

#endif
