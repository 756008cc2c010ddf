/* The management-plane adapter contract.
 *
 * dvsconf talks to a management plane (vCenter, the OVN northbound database)
 * only through one dv_adapter_ops_t table per plane kind. A plane configured
 * in the service's config file names its kind; dv_adapter_find() returns the
 * table, checked once at registration (every required slot present).
 * Callers use the dv_plane_* wrappers in planes.h, never ops->x directly.
 *
 * Conventions for every slot:
 *  - Return 0 on success, -1 on failure with *err filled: a gRPC status code
 *    for our caller and a message naming the plane and the object, e.g.
 *      NOT_FOUND            switch "dvs-9" not found on plane "lab"
 *      ALREADY_EXISTS       a switch or port group of that name exists
 *      INVALID_ARGUMENT     the plane rejected a value (InvalidArgument)
 *      FAILED_PRECONDITION  the plane refused our login, or an object is in use
 *      UNAVAILABLE          the plane cannot be reached, or timed out
 *      ABORTED              a plan step failed and was undone, or the switch
 *                           changed between plan and apply
 *      DATA_LOSS            a step failed and undoing it failed too: the
 *                           message says exactly what state the switch is in
 *    Credentials never appear in a message.
 *  - Memory: everything a slot returns (configs, lists, strings) is allocated
 *    in the arena the caller passes, and lives as long as that arena. Inputs
 *    are borrowed for the duration of the call.
 *  - Threading: one dv_plane_t handle is shared by every RPC thread; every
 *    slot but open/close must be safe to call concurrently on it.
 *  - Timeouts: every network call has a timeout (conf->timeout_ms); a slot
 *    never blocks forever.
 *  - Writes are all-or-nothing from the caller's view: create_switch removes
 *    what it created when a later step fails; apply_plan undoes the steps it
 *    made when a step fails (ABORTED), and fails with DATA_LOSS only when the
 *    undo itself fails.
 */
#ifndef DV_ADAPTER_H
#define DV_ADAPTER_H

#include <stdbool.h>
#include <stddef.h>

#include "../arena.h"
#include "../err.h"
#include "../model.h"

#define DV_ADAPTER_API_VERSION 1

/* Which identity "create original" can preserve on a plane kind. */
enum {
  DV_KEEP_SWITCH_NAME = 1u << 0,
  DV_KEEP_SWITCH_UUID = 1u << 1,
  DV_KEEP_PORTGROUP_NAME = 1u << 2,
  DV_KEEP_PORTGROUP_KEY = 1u << 3,
  DV_KEEP_HOSTS = 1u << 4,
};

/* One configured plane, as read from the config file. Strings are owned by
 * the service's configuration and outlive every handle. */
typedef struct dv_plane_conf {
  const char *name;      /* unique; what requests name */
  const char *kind;      /* "vsphere" */
  const char *url;       /* e.g. https://vc.example/sdk; never credentials */
  const char *username;
  const char *password;  /* read from a file or an environment variable */
  const char *ca_file;   /* NULL: system CAs */
  bool insecure;         /* skip TLS verification (labs only) */
  int timeout_ms;        /* per network call */
} dv_plane_conf_t;

/* Names one switch on a plane: exactly one of name, uuid is non-empty. */
typedef struct dv_switch_ref {
  const char *name;
  const char *uuid;
} dv_switch_ref_t;

typedef struct dv_switch_brief {
  const char *uuid;
  const char *name;
  int portgroup_count;
} dv_switch_brief_t;

typedef struct dv_plane dv_plane_t; /* an adapter's private handle */

/* Options for create_switch. */
typedef struct dv_create_opts {
  bool keep_identity;     /* CREATE_ORIGINAL: try to keep uuid and keys */
  bool include_hosts;     /* add cfg->host_members */
  const char *datacenter; /* NULL or "": cfg->datacenter, else the first one */
} dv_create_opts_t;

/* One original -> new identifier pair (CREATE_*). */
typedef struct dv_id_pair {
  const char *object; /* "switch" or "portgroup" */
  const char *name;
  const char *original_id;
  const char *new_id;
} dv_id_pair_t;

typedef struct dv_created {
  const char *uuid;   /* the new switch's uuid */
  const char *name;
  dv_id_pair_t *ids;  /* identity map: switch first, then port groups */
  size_t n_ids;
  const char **warnings; /* what could not be preserved; arena strings */
  size_t n_warnings;
} dv_created_t;

/* A plan: the ordered steps that make a live switch match a target. Built
 * by the service (plan.h); executed by apply_plan. */
typedef enum dv_step_kind {
  DV_STEP_CREATE_SWITCH = 1,
  DV_STEP_RECONFIGURE_SWITCH = 2, /* switch-level settings from plan->target */
  DV_STEP_ADD_HOST = 3,
  DV_STEP_REMOVE_HOST = 4,
  DV_STEP_ADD_PORTGROUP = 5,
  DV_STEP_RECONFIGURE_PORTGROUP = 6,
  DV_STEP_REMOVE_PORTGROUP = 7,
} dv_step_kind_t; /* values equal Dvsconf__V1__PlanStepKind */

typedef struct dv_step {
  dv_step_kind_t kind;
  const char *object;           /* switch, port group or host name */
  const char *description;      /* one line, for people */
  const dv_pg_cfg_t *new_pg;    /* ADD_PORTGROUP, RECONFIGURE_PORTGROUP */
  const dv_pg_cfg_t *old_pg;    /* RECONFIGURE_PORTGROUP (live key), REMOVE_PORTGROUP */
  const char *host;             /* ADD_HOST, REMOVE_HOST */
} dv_step_t;

typedef struct dv_plan {
  dv_step_t *steps;
  size_t n_steps;
  const dv_switch_cfg_t *target;        /* what the switch must look like */
  const dv_switch_cfg_t *expected_live; /* what it looked like when planned */
} dv_plan_t;

/* Open a handle for one plane. Must not need the plane to be reachable
 * (connect lazily): the service starts while a vCenter is down. */
typedef dv_plane_t *(*dv_adapter_open_fn)(const dv_plane_conf_t *conf, dv_err_t *err);

/* Log out and free the handle. NULL-safe. No call may be in flight. */
typedef void (*dv_adapter_close_fn)(dv_plane_t *p);

/* Every switch on the plane. */
typedef int (*dv_adapter_list_switches_fn)(dv_plane_t *p, dv_arena_t *a, dv_switch_brief_t **out,
                                           size_t *n_out, dv_err_t *err);

/* Read one switch's whole configuration (settings, host members, every
 * port group but the uplink port group). NOT_FOUND when absent. */
typedef int (*dv_adapter_read_switch_fn)(dv_plane_t *p, const dv_switch_ref_t *ref, dv_arena_t *a,
                                         dv_switch_cfg_t **out, dv_err_t *err);

/* Create a switch from cfg: its settings, every port group in cfg (with
 * cfg's names), and host members when opts->include_hosts. ALREADY_EXISTS
 * when a switch or port group of that name exists (nothing created). On a
 * failure after the switch was made, removes what it made. */
typedef int (*dv_adapter_create_switch_fn)(dv_plane_t *p, const dv_switch_cfg_t *cfg,
                                           const dv_create_opts_t *opts, dv_arena_t *a,
                                           dv_created_t *out, dv_err_t *err);

/* Execute plan on the switch ref names. First re-reads the switch: when it
 * no longer equals plan->expected_live, ABORTED and nothing applied. Then
 * runs the steps in order; when step i fails, undoes steps i-1..0 and
 * returns ABORTED naming step i (DATA_LOSS if the undo failed, saying what
 * is left). */
typedef int (*dv_adapter_apply_plan_fn)(dv_plane_t *p, const dv_switch_ref_t *ref,
                                        const dv_plan_t *plan, dv_arena_t *a, dv_err_t *err);

/* Delete a switch and its port groups (port groups first). */
typedef int (*dv_adapter_delete_switch_fn)(dv_plane_t *p, const dv_switch_ref_t *ref,
                                           dv_err_t *err);

typedef struct dv_adapter_ops {
  int api_version; /* DV_ADAPTER_API_VERSION */
  const char *kind;
  unsigned keeps;  /* DV_KEEP_* that create_switch(keep_identity) preserves */
  dv_adapter_open_fn open;
  dv_adapter_close_fn close;
  dv_adapter_list_switches_fn list_switches;
  dv_adapter_read_switch_fn read_switch;
  dv_adapter_create_switch_fn create_switch;
  dv_adapter_apply_plan_fn apply_plan;
  dv_adapter_delete_switch_fn delete_switch;
} dv_adapter_ops_t;

/* The tables of the shipped plane kinds. */
extern const dv_adapter_ops_t dv_vsphere_adapter;

/* Look up a shipped kind by name; NULL when unknown. */
const dv_adapter_ops_t *dv_adapter_find(const char *kind);

/* Check that every slot is set and the API version matches: 0 or -1. */
int dv_adapter_check(const dv_adapter_ops_t *ops, dv_err_t *err);

#endif
