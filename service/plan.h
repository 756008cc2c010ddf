/* Import plans: the ordered steps that take a live switch (or nothing) to
 * a stored configuration. Built here, for every plane kind alike; executed
 * by the plane's adapter (adapter.h, apply_plan / create_switch). */
#ifndef DV_PLAN_H
#define DV_PLAN_H

#include <stdbool.h>

#include "adapters/adapter.h"

typedef struct dv_plan_opts {
  bool same_history;    /* live is of the version's own history: match port groups by key first */
  bool prune;           /* remove live port groups the target lacks */
  bool hosts;           /* make host membership match too */
  bool settings;        /* make switch-level settings match */
  bool portgroups;      /* make port groups match */
} dv_plan_opts_t;

/* Steps to make `live` match `target`, fewest operations: switch settings
 * when they differ, hosts to add, port groups to add, port groups to
 * reconfigure (only those that differ), port groups to remove (prune), hosts
 * to remove. Reconfigure steps carry the live key in old_pg and the target
 * settings, with the live key, in new_pg. An empty plan means "already
 * equal". */
int dv_plan_apply(dv_arena_t *a, const dv_switch_cfg_t *target, const dv_switch_cfg_t *live,
                  const dv_plan_opts_t *opts, dv_plan_t *out, dv_err_t *err);

/* Steps to create `target` from nothing (the plan shown for CREATE_*). */
int dv_plan_create(dv_arena_t *a, const dv_switch_cfg_t *target, bool hosts, dv_plan_t *out,
                   dv_err_t *err);

/* Hex SHA-256 of the plan's steps, as recorded with the import. */
void dv_plan_sha256(const dv_plan_t *plan, char out[DV_SHA256_HEX_LEN + 1]);

#endif
