/* An in-memory management plane for unit tests of the service logic. It is
 * not a kind the configuration can name: tests build a dv_planes_t with it
 * directly. It follows adapter.h's contract (undo on a failed step). */
#ifndef DV_FAKE_ADAPTER_H
#define DV_FAKE_ADAPTER_H

#include "adapters/adapter.h"
#include "planes.h"

extern const dv_adapter_ops_t dv_fake_adapter;

/* Put a switch on the plane (copied). */
void fake_plane_add(dv_plane_t *p, const dv_switch_cfg_t *cfg);
/* Make the n-th executed step (1-based) of the next apply fail; 0: none. */
void fake_plane_fail_step(dv_plane_t *p, int n);
/* Number of apply steps executed so far (including undo steps). */
int fake_plane_steps(dv_plane_t *p);

/* A test config: switch `name` with n port groups pg-0..pg-(n-1), VLAN 100+i. */
dv_switch_cfg_t *fake_config(dv_arena_t *a, const char *name, const char *uuid, int n);

#endif
