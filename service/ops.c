#include "ops.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "diff.h"
#include "intake.h"
#include "listcache.h"
#include "plan.h"
#include "strmap.h"
#include "validate.h"
#include "wire.h"

#define NEW(c, type) dv_arena_msg((c)->arena, &type##__descriptor)

/* ---------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------- */

/* Exactly one of name, uuid (when required). */
static int switch_ref(const char *name_field, const char *name, const char *uuid_field,
                      const char *uuid, bool required, dv_switch_ref_t *ref, dv_err_t *err) {
  bool has_name = name && name[0], has_uuid = uuid && uuid[0];
  if (has_name && has_uuid)
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "%s, %s: give exactly one, not both",
                      name_field, uuid_field);
  if (required && !has_name && !has_uuid)
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "%s, %s: give exactly one", name_field,
                      uuid_field);
  if (dv_validate_name(name_field, name, false, err) != 0 ||
      dv_validate_name(uuid_field, uuid, false, err) != 0)
    return -1;
  ref->name = has_name ? name : "";
  ref->uuid = has_uuid ? uuid : "";
  return 0;
}

/* Read a live switch's configuration through its plane's adapter. */
static int read_live(dv_ctx_t *c, dv_plane_entry_t *p, const dv_switch_ref_t *ref,
                     dv_switch_cfg_t **out, dv_err_t *err) {
  if (dv_plane_read_switch(p, ref, c->arena, out, err) != 0) return -1;
  dv_config_canonicalize(*out);
  return 0;
}

static int pg_name_wanted(const Dvsconf__V1__ExportRequest *req, const char *name) {
  for (size_t i = 0; i < req->n_portgroups; i++)
    if (strcmp(req->portgroups[i], name) == 0) return 1;
  return 0;
}

/* Apply an export's scope and port-group selection to a live config. */
static int select_scope(dv_ctx_t *c, const Dvsconf__V1__ExportRequest *req, dv_switch_cfg_t *cfg,
                        dv_err_t *err) {
  for (size_t i = 0; i < req->n_portgroups; i++)
    if (dv_config_find_pg_by_name(cfg, req->portgroups[i]) == NULL)
      return dv_err_set(err, GRPC_STATUS_NOT_FOUND,
                        "portgroups[%zu]: port group \"%s\" not found on switch \"%s\"", i,
                        req->portgroups[i], cfg->name);
  if (req->scope == DVSCONF__V1__EXPORT_SCOPE__EXPORT_SCOPE_SWITCH_ONLY) {
    cfg->n_portgroups = 0;
  } else if (req->n_portgroups > 0) {
    size_t k = 0;
    for (size_t i = 0; i < cfg->n_portgroups; i++)
      if (pg_name_wanted(req, cfg->portgroups[i]->name)) cfg->portgroups[k++] = cfg->portgroups[i];
    cfg->n_portgroups = k;
  }
  if (req->scope == DVSCONF__V1__EXPORT_SCOPE__EXPORT_SCOPE_PORTGROUPS_ONLY) {
    /* keep the identity, drop the switch-level settings */
    dv_switch_cfg_t *s = NEW(c, dvsconf__v1__switch_config);
    if (s == NULL) return DV_NOMEM(err);
    s->name = cfg->name;
    s->uuid = cfg->uuid;
    s->datacenter = cfg->datacenter;
    s->portgroups = cfg->portgroups;
    s->n_portgroups = cfg->n_portgroups;
    *cfg = *s;
  }
  return 0;
}

/* ---------------------------------------------------------------------------
 * Export
 * ------------------------------------------------------------------------- */

#define DV_MAX_LABELS 256

/* Labels of Export and PutVersion (their entry types differ, their fields
 * do not): at most DV_MAX_LABELS, keys name-like and unique; into *out. */
static int take_labels(dv_ctx_t *c, Dvsconf__V1__ExportRequest__LabelsEntry *const *in, size_t n,
                       dv_label_t **out, dv_err_t *err) {
  if (n > DV_MAX_LABELS)
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "labels: at most %d (got %zu)",
                      DV_MAX_LABELS, n);
  dv_label_t *labels = dv_arena_alloc(c->arena, (n + 1) * sizeof *labels);
  dv_strmap_t *seen = dv_strmap_new(c->arena, n);
  if (labels == NULL || seen == NULL) return DV_NOMEM(err);
  for (size_t i = 0; i < n; i++) {
    char field[64];
    snprintf(field, sizeof field, "labels[%zu].key", i);
    if (dv_validate_name(field, in[i]->key, true, err) != 0) return -1;
    if (dv_strmap_get(seen, in[i]->key) != NULL)
      return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "labels: key \"%.128s\" appears twice",
                        in[i]->key);
    if (dv_strmap_put(seen, in[i]->key, (void *)1) != 0) return DV_NOMEM(err);
    labels[i].key = in[i]->key;
    labels[i].value = in[i]->value;
  }
  *out = labels;
  return 0;
}

/* Store a version (or find it unchanged), with the call's audit record in
 * the same transaction: one commit, and never a version without its record. */
static int store_put(dv_ctx_t *c, dv_put_t *put, dv_version_info_t **out, bool *unchanged,
                     dv_err_t *err) {
  if (c->audit != NULL) {
    c->audit->target = c->audit_target;
    put->audit = c->audit;
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int rc = dv_store_put_version(c->store, c->arena, put, out, unchanged, err);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  c->store_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
  if (rc != 0) return -1;
  c->audited = c->audit != NULL;
  return 0;
}

/* Store a live config as a new version (or find it unchanged). */
static int store_config(dv_ctx_t *c, const char *plane, dv_switch_cfg_t *cfg, int scope,
                        const char *note, const dv_label_t *labels, size_t n_labels,
                        dv_version_info_t **out, bool *unchanged, dv_err_t *err) {
  dv_put_t put = {plane, cfg, scope, note, labels, n_labels};
  return store_put(c, &put, out, unchanged, err);
}

static int export(dv_ctx_t *c, const Dvsconf__V1__ExportRequest *req,
                  Dvsconf__V1__ExportResponse **out, dv_err_t *err) {
  dv_switch_ref_t ref;
  if (switch_ref("switch_name", req->switch_name, "switch_uuid", req->switch_uuid, true, &ref,
                 err) != 0)
    return -1;
  if (req->scope < 0 || req->scope > DVSCONF__V1__EXPORT_SCOPE__EXPORT_SCOPE_PORTGROUPS_ONLY)
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "scope: unknown value %d", req->scope);
  if (req->scope == DVSCONF__V1__EXPORT_SCOPE__EXPORT_SCOPE_SWITCH_ONLY && req->n_portgroups > 0)
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT,
                      "portgroups: must be empty with EXPORT_SCOPE_SWITCH_ONLY");
  c->audit_target = dv_arena_printf(c->arena, "%s/%s", req->plane,
                                    ref.name[0] ? ref.name : ref.uuid);
  dv_label_t *labels;
  if (take_labels(c, req->labels, req->n_labels, &labels, err) != 0) return -1;
  dv_plane_entry_t *p = dv_planes_find(c->planes, req->plane, "plane", err);
  if (p == NULL) return -1;

  dv_switch_cfg_t *cfg;
  if (read_live(c, p, &ref, &cfg, err) != 0) return -1;
  /* PostgreSQL locks the switch's history while the config is encoded
   * (dv_store_put_begin) */
  dv_err_t ignored = DV_ERR_INIT;
  if (cfg->uuid[0] != '\0') (void)dv_store_put_begin(c->store, p->conf.name, cfg->uuid, &ignored);
  if (select_scope(c, req, cfg, err) != 0) return -1;
  Dvsconf__V1__ExportResponse *r = NEW(c, dvsconf__v1__export_response);
  if (r == NULL) return DV_NOMEM(err);
  bool unchanged;
  if (store_config(c, p->conf.name, cfg, req->scope, req->note, labels, req->n_labels,
                   &r->version, &unchanged, err) != 0)
    return -1;
  r->unchanged = unchanged;
  *out = r;
  return 0;
}

int dv_op_export(dv_ctx_t *c, const Dvsconf__V1__ExportRequest *req,
                 Dvsconf__V1__ExportResponse **out, dv_err_t *err) {
  int rc = export(c, req, out, err);
  dv_store_put_abandon(c->store); /* sent ahead for an export refused after all */
  return rc;
}

/* PutVersion's checks of the request's own fields but the plane's name
 * (checked first): scope, labels (into *labels), a plane dvsconfd knows. */
static int put_checks(dv_ctx_t *c, const Dvsconf__V1__PutVersionRequest *req,
                      dv_label_t **labels, dv_err_t *err) {
  if (req->scope < 0 || req->scope > DVSCONF__V1__EXPORT_SCOPE__EXPORT_SCOPE_PORTGROUPS_ONLY)
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "scope: unknown value %d", req->scope);
  if (take_labels(c, (Dvsconf__V1__ExportRequest__LabelsEntry *const *)req->labels, req->n_labels,
                  labels, err) != 0)
    return -1;
  /* a version of a plane dvsconfd does not know could never be applied */
  if (dv_planes_find(c->planes, req->plane, "plane", err) == NULL) return -1;
  return 0;
}

static int put_stored(dv_ctx_t *c, dv_put_t *put, Dvsconf__V1__ExportResponse **out,
                      dv_err_t *err) {
  Dvsconf__V1__ExportResponse *r = NEW(c, dvsconf__v1__export_response);
  if (r == NULL) return DV_NOMEM(err);
  bool unchanged;
  if (store_put(c, put, &r->version, &unchanged, err) != 0) return -1;
  r->unchanged = unchanged;
  *out = r;
  return 0;
}

int dv_op_put_version(dv_ctx_t *c, const Dvsconf__V1__PutVersionRequest *req,
                      Dvsconf__V1__ExportResponse **out, dv_err_t *err) {
  if (dv_validate_name("plane", req->plane, true, err) != 0) return -1;
  if (req->config == NULL) return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "config: required");
  c->audit_target = dv_arena_printf(c->arena, "%s/%s", req->plane, req->config->name);
  dv_label_t *labels;
  if (put_checks(c, req, &labels, err) != 0 || dv_validate_config(req->config, err) != 0)
    return -1;
  dv_put_t put = {req->plane, req->config, req->scope, req->note, labels, req->n_labels};
  return put_stored(c, &put, out, err);
}

static int put_packed(dv_ctx_t *c, const uint8_t *bytes, size_t len,
                      Dvsconf__V1__ExportResponse **out, dv_err_t *err) {
  /* The config apart, the request is small: decoded as usual. The config
   * goes through intake.h, which decodes only the port groups that the
   * switch's latest version does not already hold. */
  const uint8_t *doc = NULL;
  size_t doc_len = 0, rest_len;
  uint8_t *rest;
  Dvsconf__V1__PutVersionRequest *req = NULL;
  dv_intake_t in;
  int rc = dv_wire_cut_field(c->arena, bytes, len, 2, &doc, &doc_len, &rest, &rest_len);
  if (rc < 0) return DV_NOMEM(err);
  if (rc == 0)
    req = dvsconf__v1__put_version_request__unpack(dv_arena_allocator(c->arena), rest_len, rest);
  if (req == NULL) goto whole;
  /* the request's own fields first, then the document, as for any request */
  dv_label_t *labels;
  if (dv_validate_strings(&req->base, err) != 0 ||
      dv_validate_name("plane", req->plane, true, err) != 0 ||
      put_checks(c, req, &labels, err) != 0)
    return -1;
  rc = dv_intake_open(c->arena, doc, doc_len, &in, err);
  /* decoded even when refused: named in the audit log, if it is text */
  if (in.settings != NULL && dv_utf8_valid(in.settings->name, strlen(in.settings->name)))
    c->audit_target = dv_arena_printf(c->arena, "%s/%s", req->plane, in.settings->name);
  if (rc != 0) goto done;
  /* Only a shortcut: without it every port group is decoded and checked,
   * and a database that cannot be reached says so when the version is
   * stored. */
  const dv_wire_cfg_t *known = NULL;
  dv_err_t ignored = DV_ERR_INIT;
  if (dv_store_latest_split(c->store, c->arena, req->plane, in.settings->uuid, &known,
                            &ignored) != 0)
    known = NULL;
  /* PostgreSQL locks the switch's history while the port groups are
   * decoded (dv_store_put_begin) */
  if (in.settings->uuid[0] != '\0')
    (void)dv_store_put_begin(c->store, req->plane, in.settings->uuid, &ignored);
  if ((rc = dv_intake_finish(c->arena, &in, known, err)) != 0) goto done;
  /* taken whole: the store reads its delta off the run (intake.h) */
  dv_put_t put = {req->plane, in.settings, req->scope, req->note, labels, req->n_labels,
                  in.canon, in.canon_len, in.as_known_changed ? NULL : &in.split,
                  in.as_known_changed ? &in.run : NULL};
  return put_stored(c, &put, out, err);
done:
  if (rc < 0) return -1;
whole: /* what intake does not read at the wire level: decoded whole, as any request */
  req = dvsconf__v1__put_version_request__unpack(dv_arena_allocator(c->arena), len, bytes);
  if (req == NULL)
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "request: not a valid %s message",
                      dvsconf__v1__put_version_request__descriptor.name);
  if (dv_validate_strings(&req->base, err) != 0) return -1;
  return dv_op_put_version(c, req, out, err);
}

int dv_op_put_version_packed(dv_ctx_t *c, const uint8_t *bytes, size_t len,
                             Dvsconf__V1__ExportResponse **out, dv_err_t *err) {
  int rc = put_packed(c, bytes, len, out, err);
  dv_store_put_abandon(c->store); /* sent ahead for a request refused after all */
  return rc;
}

/* ---------------------------------------------------------------------------
 * Versions
 * ------------------------------------------------------------------------- */

/* What a ListVersions page depends on, as bytes: each filter value
 * (length-prefixed), the position and the page size. */
static uint8_t *list_key(dv_arena_t *a, const dv_list_filter_t *f, int64_t before, int limit,
                         size_t *len) {
  const char *parts[] = {f->plane, f->switch_uuid, f->switch_name};
  size_t n = sizeof before + sizeof limit;
  for (size_t i = 0; i < 3; i++) n += sizeof(uint32_t) + strlen(parts[i]);
  uint8_t *key = dv_arena_alloc_raw(a, n), *o = key;
  if (key == NULL) return NULL;
  for (size_t i = 0; i < 3; i++) {
    uint32_t l = (uint32_t)strlen(parts[i]);
    memcpy(o, &l, sizeof l);
    memcpy(o + sizeof l, parts[i], l);
    o += sizeof l + l;
  }
  memcpy(o, &before, sizeof before);
  memcpy(o + sizeof before, &limit, sizeof limit);
  *len = n;
  return key;
}

int dv_op_list_versions(dv_ctx_t *c, const Dvsconf__V1__ListVersionsRequest *req,
                        Dvsconf__V1__ListVersionsResponse **out, dv_err_t *err) {
  if (dv_validate_name("plane", req->plane, false, err) != 0 ||
      dv_validate_name("switch_uuid", req->switch_uuid, false, err) != 0 ||
      dv_validate_name("switch_name", req->switch_name, false, err) != 0)
    return -1;
  if (req->page_size < 0)
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "page_size: must not be negative (%d)",
                      req->page_size);
  if (req->page_size > DV_MAX_PAGE_SIZE)
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "page_size: at most %d (got %d)",
                      DV_MAX_PAGE_SIZE, req->page_size);
  int limit = req->page_size ? req->page_size : DV_DEFAULT_PAGE_SIZE;
  dv_list_filter_t f = {req->plane, req->switch_uuid, req->switch_name};
  int64_t before = 0;
  if (req->page_token[0] && dv_page_token_parse(req->page_token, &f, &before, err) != 0) return -1;

  /* Pages stay right until the next write: answer from the cache of them
   * when it has this one, else read it and keep its encoding there. */
  size_t key_len;
  uint8_t *key = list_key(c->arena, &f, before, limit, &key_len);
  if (key == NULL) return DV_NOMEM(err);
  int64_t gen;
  *out = NULL;
  if (dv_listcache_get(dv_store_lists(c->store), key, key_len, c->arena, &c->raw_reply,
                       &c->raw_reply_len, &gen))
    return 0;
  Dvsconf__V1__ListVersionsResponse *r = NEW(c, dvsconf__v1__list_versions_response);
  if (r == NULL) return DV_NOMEM(err);
  bool more;
  if (dv_store_list_versions(c->store, c->arena, &f, before, limit, &r->versions, &r->n_versions,
                             &more, err) != 0)
    return -1;
  if (more && r->n_versions > 0) {
    int64_t last = strtoll(r->versions[r->n_versions - 1]->id, NULL, 10);
    r->next_page_token = dv_page_token_make(c->arena, &f, last);
    if (r->next_page_token == NULL) return DV_NOMEM(err);
  }
  size_t len = dvsconf__v1__list_versions_response__get_packed_size(r);
  uint8_t *page = dv_arena_alloc_raw(c->arena, len + 1);
  if (page == NULL) return DV_NOMEM(err);
  dvsconf__v1__list_versions_response__pack(r, page);
  dv_listcache_put(dv_store_lists(c->store), key, key_len, gen, page, len);
  c->raw_reply = page;
  c->raw_reply_len = len;
  return 0;
}

int dv_op_get_version(dv_ctx_t *c, const Dvsconf__V1__GetVersionRequest *req,
                      Dvsconf__V1__Version **out, dv_err_t *err) {
  /* The reply is the stored Version's verified bytes as they are: versions
   * never change, so there is nothing to decode or encode again. */
  const uint8_t *v;
  size_t len;
  if (dv_store_get_version_packed(c->store, c->arena, req->version_id, &v, &len, NULL, err) != 0)
    return -1;
  c->raw_reply = v;
  c->raw_reply_len = len;
  *out = NULL;
  return 0;
}

/* ---------------------------------------------------------------------------
 * Diff
 * ------------------------------------------------------------------------- */

/* A version's canonical config, split into settings and port groups,
 * verified, and its lineage. */
static int version_split(dv_ctx_t *c, const char *field, const char *id, const dv_wire_cfg_t **cfg,
                         int64_t *lineage, dv_err_t *err) {
  int64_t vid;
  if (dv_version_id_parse(id, &vid, err) != 0) {
    dv_err_prefix(err, "%s", field);
    return -1;
  }
  return dv_store_get_config_split(c->store, c->arena, id, cfg, lineage, err);
}

int dv_op_diff(dv_ctx_t *c, const Dvsconf__V1__DiffRequest *req, Dvsconf__V1__DiffResponse **out,
               dv_err_t *err) {
  bool to_version = req->to_version_id[0] != '\0';
  bool to_live = req->to_plane[0] || req->to_switch_name[0] || req->to_switch_uuid[0];
  if (to_version && to_live)
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT,
                      "to_version_id, to_plane: give a version or a live switch, not both");
  if (!to_version && !to_live)
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT,
                      "to_version_id, to_plane: give a version or a live switch to compare with");
  const dv_wire_cfg_t *from, *to;
  int64_t from_lineage, to_lineage = -1;
  if (version_split(c, "from_version_id", req->from_version_id, &from, &from_lineage, err) != 0)
    return -1;
  if (to_version) {
    if (version_split(c, "to_version_id", req->to_version_id, &to, &to_lineage, err) != 0)
      return -1;
  } else {
    dv_switch_ref_t ref;
    dv_switch_cfg_t *live;
    if (switch_ref("to_switch_name", req->to_switch_name, "to_switch_uuid", req->to_switch_uuid,
                   true, &ref, err) != 0)
      return -1;
    dv_plane_entry_t *p = dv_planes_find(c->planes, req->to_plane, "to_plane", err);
    if (p == NULL || read_live(c, p, &ref, &live, err) != 0) return -1;
    dv_version_info_t *latest;
    uint8_t *live_bytes;
    size_t live_len;
    dv_wire_cfg_t *w = dv_arena_alloc_raw(c->arena, sizeof *w);
    if (w == NULL) return DV_NOMEM(err);
    if (dv_store_latest_for(c->store, c->arena, p->conf.name, live->uuid, &latest, &to_lineage,
                            err) != 0 ||
        dv_config_encode(c->arena, live, &live_bytes, &live_len, err) != 0 ||
        dv_wire_split_config_lite(c->arena, live_bytes, live_len, w, err) != 0)
      return -1;
    to = w;
  }
  Dvsconf__V1__DiffResponse *r = NEW(c, dvsconf__v1__diff_response);
  if (r == NULL) return DV_NOMEM(err);
  if (dv_diff_split(c->arena, from, to, from_lineage == to_lineage, &r->changes, &r->n_changes,
                    err) != 0)
    return -1;
  *out = r;
  return 0;
}

/* ---------------------------------------------------------------------------
 * Import
 * ------------------------------------------------------------------------- */

/* The plan into the response, and its hash for the import record and the
 * audit log. */
static int plan_to_response(dv_ctx_t *c, const dv_plan_t *plan, Dvsconf__V1__ImportResponse *r,
                            dv_err_t *err) {
  char *sha = dv_arena_alloc(c->arena, DV_SHA256_HEX_LEN + 1);
  r->plan = dv_arena_alloc(c->arena, (plan->n_steps + 1) * sizeof(void *));
  if (r->plan == NULL || sha == NULL) return DV_NOMEM(err);
  dv_plan_sha256(plan, sha);
  c->audit_plan_sha256 = sha;
  for (size_t i = 0; i < plan->n_steps; i++) {
    Dvsconf__V1__PlanStep *s = NEW(c, dvsconf__v1__plan_step);
    if (s == NULL) return DV_NOMEM(err);
    s->kind = (Dvsconf__V1__PlanStepKind)plan->steps[i].kind;
    s->object = (char *)plan->steps[i].object;
    s->description = (char *)plan->steps[i].description;
    r->plan[r->n_plan++] = s;
  }
  return 0;
}

static int created_to_response(dv_ctx_t *c, const dv_created_t *cr, Dvsconf__V1__ImportResponse *r,
                               dv_err_t *err) {
  r->switch_uuid = (char *)cr->uuid;
  r->switch_name = (char *)cr->name;
  r->identity_map = dv_arena_alloc(c->arena, (cr->n_ids + 1) * sizeof(void *));
  r->warnings = dv_arena_alloc(c->arena, (cr->n_warnings + 1) * sizeof(char *));
  if (r->identity_map == NULL || r->warnings == NULL) return DV_NOMEM(err);
  for (size_t i = 0; i < cr->n_ids; i++) {
    Dvsconf__V1__IdentityMapping *m = NEW(c, dvsconf__v1__identity_mapping);
    if (m == NULL) return DV_NOMEM(err);
    m->object = (char *)cr->ids[i].object;
    m->name = (char *)cr->ids[i].name;
    m->original_id = (char *)cr->ids[i].original_id;
    m->new_id = (char *)cr->ids[i].new_id;
    r->identity_map[r->n_identity_map++] = m;
  }
  for (size_t i = 0; i < cr->n_warnings; i++) r->warnings[r->n_warnings++] = (char *)cr->warnings[i];
  return 0;
}

static char *id_map_json(dv_arena_t *a, const Dvsconf__V1__ImportResponse *r) {
  json_t *arr = json_array();
  if (arr == NULL) return NULL;
  for (size_t i = 0; i < r->n_identity_map; i++) {
    const Dvsconf__V1__IdentityMapping *m = r->identity_map[i];
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "object", m->object, "name", m->name,
                          "original_id", m->original_id, "new_id", m->new_id);
    if (o == NULL || json_array_append_new(arr, o) != 0) {
      json_decref(arr);
      return NULL;
    }
  }
  char *s = json_dumps(arr, JSON_COMPACT);
  json_decref(arr);
  char *out = s ? dv_arena_strdup(a, s) : NULL;
  free(s);
  return out;
}

/* Record the import (and, for create-original, the lineage alias). */
static int record(dv_ctx_t *c, const Dvsconf__V1__ImportRequest *req, const char *plane,
                  Dvsconf__V1__ImportResponse *r, const dv_err_t *result, dv_err_t *err) {
  char *ids = id_map_json(c->arena, r);
  if (ids == NULL) return DV_NOMEM(err);
  bool ok = result == NULL || result->code == GRPC_STATUS_OK;
  dv_import_rec_t rec = {
      .version_id = req->version_id,
      .mode = req->mode,
      .target_plane = plane,
      .switch_uuid = r->switch_uuid,
      .switch_name = r->switch_name,
      .plan_sha256 = c->audit_plan_sha256,
      .result = ok ? "OK" : dv_status_name(result->code),
      .message = ok ? "" : result->msg,
      .id_map_json = ids,
      .continue_lineage = ok && req->mode == DVSCONF__V1__IMPORT_MODE__IMPORT_MODE_CREATE_ORIGINAL,
  };
  return dv_store_record_import(c->store, c->arena, &rec, &r->import_id, err);
}

/* The config a CREATE_NEW import makes: new name, no identifiers, port
 * groups renamed, hosts only when asked. */
static int template_config(dv_ctx_t *c, const Dvsconf__V1__ImportRequest *req,
                           const dv_switch_cfg_t *version, dv_switch_cfg_t **out, dv_err_t *err) {
  dv_switch_cfg_t *cfg = dv_msg_clone(c->arena, &version->base);
  if (cfg == NULL) return DV_NOMEM(err);
  for (size_t i = 0; i < req->n_portgroup_renames; i++) {
    char field[80];
    snprintf(field, sizeof field, "portgroup_renames[\"%.40s\"]", req->portgroup_renames[i]->key);
    if (dv_config_find_pg_by_name(cfg, req->portgroup_renames[i]->key) == NULL)
      return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT,
                        "%s: the version has no port group of that name", field);
    if (dv_validate_name(field, req->portgroup_renames[i]->value, true, err) != 0) return -1;
  }
  cfg->name = req->new_name;
  cfg->uuid = (char *)"";
  if (!req->include_hosts) cfg->n_host_members = 0;
  for (size_t i = 0; i < cfg->n_portgroups; i++) {
    dv_pg_cfg_t *pg = cfg->portgroups[i];
    const char *renamed = NULL;
    for (size_t k = 0; k < req->n_portgroup_renames; k++)
      if (strcmp(req->portgroup_renames[k]->key, pg->name) == 0)
        renamed = req->portgroup_renames[k]->value;
    pg->name = renamed ? (char *)renamed
                       : dv_arena_printf(c->arena, "%s%s", req->portgroup_prefix, pg->name);
    pg->key = (char *)"";
    if (pg->name == NULL) return DV_NOMEM(err);
  }
  for (size_t i = 0; i < cfg->n_portgroups; i++)
    for (size_t j = 0; j < i; j++)
      if (strcmp(cfg->portgroups[i]->name, cfg->portgroups[j]->name) == 0)
        return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT,
                          "portgroup_renames: two port groups would both be named \"%s\"",
                          cfg->portgroups[i]->name);
  *out = cfg;
  return 0;
}

/* ALREADY_EXISTS when the target plane has a switch of that name or uuid. */
static int check_absent(dv_ctx_t *c, dv_plane_entry_t *p, const dv_switch_cfg_t *cfg,
                        dv_err_t *err) {
  dv_switch_brief_t *sw;
  size_t n;
  if (dv_plane_list_switches(p, c->arena, &sw, &n, err) != 0) return -1;
  for (size_t i = 0; i < n; i++) {
    if (strcmp(sw[i].name, cfg->name) == 0 || (cfg->uuid[0] && strcmp(sw[i].uuid, cfg->uuid) == 0))
      return dv_err_set(err, GRPC_STATUS_ALREADY_EXISTS,
                        "switch \"%s\" already exists on plane \"%s\" (uuid %s)", sw[i].name,
                        p->conf.name, sw[i].uuid);
  }
  return 0;
}

static int import_create(dv_ctx_t *c, const Dvsconf__V1__ImportRequest *req,
                         const dv_version_info_t *info, const dv_switch_cfg_t *version,
                         dv_plane_entry_t *p, Dvsconf__V1__ImportResponse *r, dv_err_t *err) {
  bool original = req->mode == DVSCONF__V1__IMPORT_MODE__IMPORT_MODE_CREATE_ORIGINAL;
  const dv_switch_cfg_t *cfg = version;
  dv_switch_cfg_t *tmpl = NULL;
  if (!original) {
    if (dv_validate_name("new_name", req->new_name, true, err) != 0) {
      dv_err_prefix(err, "IMPORT_MODE_CREATE_NEW");
      return -1;
    }
    if (dv_validate_name("portgroup_prefix", req->portgroup_prefix, false, err) != 0) return -1;
    if (template_config(c, req, version, &tmpl, err) != 0) return -1;
    cfg = tmpl;
  }
  if (info->scope != DVSCONF__V1__EXPORT_SCOPE__EXPORT_SCOPE_ALL)
    return dv_err_set(err, GRPC_STATUS_FAILED_PRECONDITION,
                      "version %s holds only part of a switch (scope %s): create needs a whole switch",
                      info->id, info->scope == 1 ? "EXPORT_SCOPE_SWITCH_ONLY" : "EXPORT_SCOPE_PORTGROUPS_ONLY");
  bool hosts = original || req->include_hosts;
  dv_plan_t plan;
  if (dv_plan_create(c->arena, cfg, hosts, &plan, err) != 0 ||
      plan_to_response(c, &plan, r, err) != 0)
    return -1;
  r->switch_name = cfg->name;
  r->switch_uuid = original ? cfg->uuid : (char *)"";
  if (check_absent(c, p, cfg, err) != 0) return -1;
  if (req->dry_run) return 0;

  if (dv_store_lock_switch(c->store, p->conf.name, cfg->name, err) != 0) return -1;
  dv_create_opts_t opts = {original, hosts, req->target_datacenter};
  dv_created_t created;
  dv_err_t result = DV_ERR_INIT;
  int rc = dv_plane_create_switch(p, cfg, &opts, c->arena, &created, &result);
  if (rc != 0) {
    dv_err_t ignored = DV_ERR_INIT;
    record(c, req, p->conf.name, r, &result, &ignored);
    *err = result;
  } else {
    r->applied = true;
    rc = created_to_response(c, &created, r, err);
    if (rc == 0) rc = record(c, req, p->conf.name, r, NULL, err);
    if (rc != 0)
      dv_err_prefix(err, "switch \"%s\" was created on plane \"%s\" (uuid %s) but recording the"
                         " import failed", created.name, p->conf.name, created.uuid);
  }
  dv_store_unlock_switch(c->store, p->conf.name, cfg->name);
  return rc;
}

static int import_apply(dv_ctx_t *c, const Dvsconf__V1__ImportRequest *req,
                        const dv_version_info_t *info, const dv_switch_cfg_t *version,
                        int64_t version_lineage, dv_plane_entry_t *p,
                        Dvsconf__V1__ImportResponse *r, dv_err_t *err) {
  dv_switch_ref_t ref;
  if (switch_ref("target_switch_name", req->target_switch_name, "target_switch_uuid",
                 req->target_switch_uuid, false, &ref, err) != 0)
    return -1;
  bool explicit_target = ref.name[0] || ref.uuid[0];
  if (!explicit_target) ref.uuid = info->switch_uuid;

  int rc = -1;
  const char *locked = NULL;
  dv_switch_cfg_t *live;
  if (read_live(c, p, &ref, &live, err) != 0) {
    /* the version's own switch may have been re-created with a new uuid */
    if (explicit_target || err->code != GRPC_STATUS_NOT_FOUND) return -1;
    dv_err_clear(err);
    dv_switch_ref_t by_name = {info->switch_name, ""};
    if (read_live(c, p, &by_name, &live, err) != 0) return -1;
  }
  /* One import at a time per switch, across processes. Whatever changed
   * the switch between this read and the lock is caught by apply_plan,
   * which aborts when the switch no longer matches what was planned. */
  if (!req->dry_run) {
    if (dv_store_lock_switch(c->store, p->conf.name, live->uuid, err) != 0) return -1;
    locked = live->uuid;
  }
  dv_version_info_t *latest;
  int64_t live_lineage = -2;
  if (dv_store_latest_for(c->store, c->arena, p->conf.name, live->uuid, &latest, &live_lineage,
                          err) != 0)
    goto cleanup;
  dv_plan_opts_t o = {
      .same_history = live_lineage == version_lineage,
      .prune = req->prune,
      .hosts = req->include_hosts && info->scope != DVSCONF__V1__EXPORT_SCOPE__EXPORT_SCOPE_PORTGROUPS_ONLY,
      .settings = info->scope != DVSCONF__V1__EXPORT_SCOPE__EXPORT_SCOPE_PORTGROUPS_ONLY,
      .portgroups = info->scope != DVSCONF__V1__EXPORT_SCOPE__EXPORT_SCOPE_SWITCH_ONLY,
  };
  dv_plan_t plan;
  if (dv_plan_apply(c->arena, version, live, &o, &plan, err) != 0 ||
      plan_to_response(c, &plan, r, err) != 0)
    goto cleanup;
  r->switch_uuid = live->uuid;
  r->switch_name = live->name;
  if (req->dry_run) {
    rc = 0;
    goto cleanup;
  }
  if (plan.n_steps > 0) {
    /* Safety first: the switch as it is now becomes a version. */
    dv_switch_cfg_t *snap = dv_msg_clone(c->arena, &live->base);
    if (snap == NULL) {
      DV_NOMEM(err);
      goto cleanup;
    }
    const dv_label_t labs[] = {{"dvsconf.safety", "before-import"}};
    char *note = dv_arena_printf(c->arena, "state before applying version %s", info->id);
    dv_version_info_t *safety;
    bool unchanged;
    if (note == NULL) {
      DV_NOMEM(err);
      goto cleanup;
    }
    if (store_config(c, p->conf.name, snap, DVSCONF__V1__EXPORT_SCOPE__EXPORT_SCOPE_ALL, note,
                     labs, 1, &safety, &unchanged, err) != 0) {
      dv_err_prefix(err, "nothing applied: saving the switch's current state failed");
      goto cleanup;
    }
    r->safety_version_id = safety->id;
    dv_switch_ref_t live_ref = {"", live->uuid};
    dv_err_t result = DV_ERR_INIT;
    if (dv_plane_apply_plan(p, &live_ref, &plan, c->arena, &result) != 0) {
      dv_err_t ignored = DV_ERR_INIT;
      record(c, req, p->conf.name, r, &result, &ignored);
      *err = result;
      dv_err_prefix(err, "import of version %s into switch \"%s\" (state before: version %s)",
                    info->id, live->name, safety->id);
      goto cleanup;
    }
  }
  r->applied = true;
  if (record(c, req, p->conf.name, r, NULL, err) != 0) {
    dv_err_prefix(err, "the plan was applied to switch \"%s\" but recording the import failed",
                  live->name);
    goto cleanup;
  }
  rc = 0;
cleanup:
  if (locked != NULL) dv_store_unlock_switch(c->store, p->conf.name, locked);
  return rc;
}

int dv_op_import(dv_ctx_t *c, const Dvsconf__V1__ImportRequest *req,
                 Dvsconf__V1__ImportResponse **out, dv_err_t *err) {
  if (req->mode < DVSCONF__V1__IMPORT_MODE__IMPORT_MODE_CREATE_ORIGINAL ||
      req->mode > DVSCONF__V1__IMPORT_MODE__IMPORT_MODE_APPLY_EXISTING)
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT,
                      "mode: must be IMPORT_MODE_CREATE_ORIGINAL, IMPORT_MODE_CREATE_NEW or"
                      " IMPORT_MODE_APPLY_EXISTING (got %d)",
                      req->mode);
  /* An import's record says what was applied (its plan's hash, its result):
   * the server writes it when the import is over, not with the safety
   * version stored on the way. */
  c->audit = NULL;
  bool apply = req->mode == DVSCONF__V1__IMPORT_MODE__IMPORT_MODE_APPLY_EXISTING;
  bool create_new = req->mode == DVSCONF__V1__IMPORT_MODE__IMPORT_MODE_CREATE_NEW;
  if (!apply && (req->target_switch_name[0] || req->target_switch_uuid[0]))
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT,
                      "target_switch_name, target_switch_uuid: only with IMPORT_MODE_APPLY_EXISTING");
  if (!create_new && (req->new_name[0] || req->portgroup_prefix[0] || req->n_portgroup_renames))
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT,
                      "new_name, portgroup_prefix, portgroup_renames: only with IMPORT_MODE_CREATE_NEW");
  if (!apply && req->prune)
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "prune: only with IMPORT_MODE_APPLY_EXISTING");

  dv_version_info_t *info;
  dv_switch_cfg_t *version;
  int64_t lineage;
  if (dv_store_get_version_lineage(c->store, c->arena, req->version_id, &info, &version, &lineage,
                                   err) != 0)
    return -1;
  const char *plane = req->target_plane[0] ? req->target_plane : info->plane;
  c->audit_target = dv_arena_printf(c->arena, "version %s -> plane %s, mode %d", req->version_id,
                                    plane, req->mode);
  dv_plane_entry_t *p = dv_planes_find(c->planes, plane, "target_plane", err);
  if (p == NULL) return -1;
  Dvsconf__V1__ImportResponse *r = NEW(c, dvsconf__v1__import_response);
  if (r == NULL) return DV_NOMEM(err);
  int rc = apply ? import_apply(c, req, info, version, lineage, p, r, err)
                 : import_create(c, req, info, version, p, r, err);
  if (rc != 0) return -1;
  *out = r;
  return 0;
}

/* ---------------------------------------------------------------------------
 * Planes and switches
 * ------------------------------------------------------------------------- */

int dv_op_list_planes(dv_ctx_t *c, const Dvsconf__V1__ListPlanesRequest *req,
                      Dvsconf__V1__ListPlanesResponse **out, dv_err_t *err) {
  (void)req;
  Dvsconf__V1__ListPlanesResponse *r = NEW(c, dvsconf__v1__list_planes_response);
  if (r == NULL) return DV_NOMEM(err);
  r->planes = dv_arena_alloc(c->arena, (c->planes->n + 1) * sizeof(void *));
  if (r->planes == NULL) return DV_NOMEM(err);
  for (size_t i = 0; i < c->planes->n; i++) {
    Dvsconf__V1__Plane *p = NEW(c, dvsconf__v1__plane);
    if (p == NULL) return DV_NOMEM(err);
    p->name = (char *)c->planes->v[i].conf.name;
    p->kind = (char *)c->planes->v[i].conf.kind;
    /* never credentials: drop any user:password@ from the URL */
    const char *url = c->planes->v[i].conf.url;
    const char *scheme_end = strstr(url, "://");
    const char *at = scheme_end ? strchr(scheme_end + 3, '@') : NULL;
    const char *slash = scheme_end ? strchr(scheme_end + 3, '/') : NULL;
    if (at != NULL && (slash == NULL || at < slash))
      p->url = dv_arena_printf(c->arena, "%.*s%s", (int)(scheme_end + 3 - url), url, at + 1);
    else
      p->url = (char *)url;
    if (p->url == NULL) return DV_NOMEM(err);
    r->planes[r->n_planes++] = p;
  }
  *out = r;
  return 0;
}

int dv_op_list_switches(dv_ctx_t *c, const Dvsconf__V1__ListSwitchesRequest *req,
                        Dvsconf__V1__ListSwitchesResponse **out, dv_err_t *err) {
  Dvsconf__V1__ListSwitchesResponse *r = NEW(c, dvsconf__v1__list_switches_response);
  if (r == NULL) return DV_NOMEM(err);
  if (!req->live) {
    if (req->plane[0] && dv_planes_find(c->planes, req->plane, "plane", err) == NULL) return -1;
    if (dv_store_list_switches(c->store, c->arena, req->plane, &r->switches, &r->n_switches,
                               err) != 0)
      return -1;
    *out = r;
    return 0;
  }
  dv_plane_entry_t *p = dv_planes_find(c->planes, req->plane, "plane", err);
  if (p == NULL) return -1;
  dv_switch_brief_t *sw;
  size_t n;
  if (dv_plane_list_switches(p, c->arena, &sw, &n, err) != 0) return -1;
  r->switches = dv_arena_alloc(c->arena, (n + 1) * sizeof(void *));
  if (r->switches == NULL) return DV_NOMEM(err);
  for (size_t i = 0; i < n; i++) {
    Dvsconf__V1__SwitchSummary *s = NEW(c, dvsconf__v1__switch_summary);
    if (s == NULL) return DV_NOMEM(err);
    s->plane = (char *)p->conf.name;
    s->uuid = (char *)sw[i].uuid;
    s->name = (char *)sw[i].name;
    s->portgroup_count = sw[i].portgroup_count;
    if (dv_store_latest_for(c->store, c->arena, p->conf.name, sw[i].uuid, &s->latest_version,
                            NULL, err) != 0)
      return -1;
    r->switches[r->n_switches++] = s;
  }
  *out = r;
  return 0;
}

/* ---------------------------------------------------------------------------
 * Audit
 * ------------------------------------------------------------------------- */

int dv_op_list_audit_events(dv_ctx_t *c, const Dvsconf__V1__ListAuditEventsRequest *req,
                            Dvsconf__V1__ListAuditEventsResponse **out, dv_err_t *err) {
  if (req->page_size < 0 || req->page_size > DV_MAX_PAGE_SIZE)
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "page_size: must be 0..%d (got %d)",
                      DV_MAX_PAGE_SIZE, req->page_size);
  if (dv_validate_name("method", req->method, false, err) != 0) return -1;
  int limit = req->page_size ? req->page_size : DV_DEFAULT_PAGE_SIZE;
  dv_list_filter_t f = {"\x01audit", req->method, ""};
  int64_t before = 0;
  if (req->page_token[0] && dv_page_token_parse(req->page_token, &f, &before, err) != 0) return -1;
  Dvsconf__V1__ListAuditEventsResponse *r = NEW(c, dvsconf__v1__list_audit_events_response);
  if (r == NULL) return DV_NOMEM(err);
  bool more;
  if (dv_store_list_audit(c->store, c->arena, req->method, before, limit, &r->events,
                          &r->n_events, &more, err) != 0)
    return -1;
  if (more && r->n_events > 0) {
    r->next_page_token =
        dv_page_token_make(c->arena, &f, strtoll(r->events[r->n_events - 1]->id, NULL, 10));
    if (r->next_page_token == NULL) return DV_NOMEM(err);
  }
  *out = r;
  return 0;
}
