#include "planes.h"

#include <string.h>

static const dv_adapter_ops_t *const shipped[] = {&dv_vsphere_adapter};

const dv_adapter_ops_t *dv_adapter_find(const char *kind) {
  for (size_t i = 0; i < sizeof shipped / sizeof shipped[0]; i++)
    if (strcmp(shipped[i]->kind, kind) == 0) return shipped[i];
  return NULL;
}

int dv_adapter_check(const dv_adapter_ops_t *ops, dv_err_t *err) {
  if (ops->api_version != DV_ADAPTER_API_VERSION)
    return dv_err_set(err, GRPC_STATUS_INTERNAL, "adapter %s: API version %d, want %d", ops->kind,
                      ops->api_version, DV_ADAPTER_API_VERSION);
  if (ops->open == NULL || ops->close == NULL || ops->list_switches == NULL ||
      ops->read_switch == NULL || ops->create_switch == NULL || ops->apply_plan == NULL ||
      ops->delete_switch == NULL)
    return dv_err_set(err, GRPC_STATUS_INTERNAL, "adapter %s: a required slot is missing",
                      ops->kind);
  return 0;
}

int dv_planes_open(dv_planes_t *planes, dv_err_t *err) {
  for (size_t i = 0; i < planes->n; i++) {
    dv_plane_entry_t *p = &planes->v[i];
    if (dv_adapter_check(p->ops, err) != 0) return -1;
    p->handle = p->ops->open(&p->conf, err);
    if (p->handle == NULL) {
      dv_err_prefix(err, "plane \"%s\"", p->conf.name);
      return -1;
    }
  }
  return 0;
}

void dv_planes_close(dv_planes_t *planes) {
  for (size_t i = 0; i < planes->n; i++) {
    if (planes->v[i].handle != NULL) planes->v[i].ops->close(planes->v[i].handle);
    planes->v[i].handle = NULL;
  }
}

dv_plane_entry_t *dv_planes_find(dv_planes_t *planes, const char *name, const char *field,
                                 dv_err_t *err) {
  if (name == NULL || name[0] == '\0') {
    dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "%s: required", field);
    return NULL;
  }
  for (size_t i = 0; i < planes->n; i++)
    if (strcmp(planes->v[i].conf.name, name) == 0) return &planes->v[i];
  dv_err_set(err, GRPC_STATUS_NOT_FOUND, "%s: plane \"%.128s\" is not configured", field, name);
  return NULL;
}

int dv_plane_list_switches(dv_plane_entry_t *p, dv_arena_t *a, dv_switch_brief_t **out, size_t *n,
                           dv_err_t *err) {
  return p->ops->list_switches(p->handle, a, out, n, err);
}

int dv_plane_read_switch(dv_plane_entry_t *p, const dv_switch_ref_t *ref, dv_arena_t *a,
                         dv_switch_cfg_t **out, dv_err_t *err) {
  return p->ops->read_switch(p->handle, ref, a, out, err);
}

int dv_plane_create_switch(dv_plane_entry_t *p, const dv_switch_cfg_t *cfg,
                           const dv_create_opts_t *opts, dv_arena_t *a, dv_created_t *out,
                           dv_err_t *err) {
  return p->ops->create_switch(p->handle, cfg, opts, a, out, err);
}

int dv_plane_apply_plan(dv_plane_entry_t *p, const dv_switch_ref_t *ref, const dv_plan_t *plan,
                        dv_arena_t *a, dv_err_t *err) {
  return p->ops->apply_plan(p->handle, ref, plan, a, err);
}
