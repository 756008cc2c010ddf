/* The configured management planes, and the only way the service calls an
 * adapter: small wrappers that add the plane's name to errors. */
#ifndef DV_PLANES_H
#define DV_PLANES_H

#include "adapters/adapter.h"

typedef struct dv_plane_entry {
  dv_plane_conf_t conf;
  const dv_adapter_ops_t *ops;
  dv_plane_t *handle;
} dv_plane_entry_t;

typedef struct dv_planes {
  dv_plane_entry_t *v;
  size_t n;
} dv_planes_t;

/* Open a handle for every entry (checks each adapter table first). */
int dv_planes_open(dv_planes_t *planes, dv_err_t *err);
void dv_planes_close(dv_planes_t *planes);

/* NOT_FOUND naming the plane when it is not configured. */
dv_plane_entry_t *dv_planes_find(dv_planes_t *planes, const char *name, const char *field,
                                 dv_err_t *err);

int dv_plane_list_switches(dv_plane_entry_t *p, dv_arena_t *a, dv_switch_brief_t **out, size_t *n,
                           dv_err_t *err);
int dv_plane_read_switch(dv_plane_entry_t *p, const dv_switch_ref_t *ref, dv_arena_t *a,
                         dv_switch_cfg_t **out, dv_err_t *err);
int dv_plane_create_switch(dv_plane_entry_t *p, const dv_switch_cfg_t *cfg,
                           const dv_create_opts_t *opts, dv_arena_t *a, dv_created_t *out,
                           dv_err_t *err);
int dv_plane_apply_plan(dv_plane_entry_t *p, const dv_switch_ref_t *ref, const dv_plan_t *plan,
                        dv_arena_t *a, dv_err_t *err);

#endif
