#include "fake_adapter.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SWITCHES 64

struct dv_plane {
  pthread_mutex_t mu;
  dv_arena_t *arena; /* switch configs live here (old versions are simply kept) */
  dv_switch_cfg_t *sw[MAX_SWITCHES];
  int n;
  int next_id;
  int fail_step;
  int steps;
};

static dv_plane_t *fake_open(const dv_plane_conf_t *conf, dv_err_t *err) {
  dv_plane_t *p = calloc(1, sizeof *p);
  if (p == NULL || (p->arena = dv_arena_new()) == NULL) {
    free(p);
    DV_NOMEM(err);
    return NULL;
  }
  pthread_mutex_init(&p->mu, NULL);
  p->next_id = 100;
  return p;
}

static void fake_close(dv_plane_t *p) {
  if (p == NULL) return;
  dv_arena_free(p->arena);
  pthread_mutex_destroy(&p->mu);
  free(p);
}

static int find(dv_plane_t *p, const dv_switch_ref_t *ref) {
  for (int i = 0; i < p->n; i++) {
    if (p->sw[i] == NULL) continue;
    if (ref->uuid[0] ? strcmp(p->sw[i]->uuid, ref->uuid) == 0 : strcmp(p->sw[i]->name, ref->name) == 0)
      return i;
  }
  return -1;
}

void fake_plane_add(dv_plane_t *p, const dv_switch_cfg_t *cfg) {
  pthread_mutex_lock(&p->mu);
  p->sw[p->n++] = dv_msg_clone(p->arena, &cfg->base);
  pthread_mutex_unlock(&p->mu);
}

void fake_plane_fail_step(dv_plane_t *p, int n) {
  p->fail_step = n;
}

int fake_plane_steps(dv_plane_t *p) {
  return p->steps;
}

static int fake_list(dv_plane_t *p, dv_arena_t *a, dv_switch_brief_t **out, size_t *n,
                     dv_err_t *err) {
  pthread_mutex_lock(&p->mu);
  *out = dv_arena_alloc(a, (size_t)(p->n + 1) * sizeof **out);
  *n = 0;
  for (int i = 0; *out && i < p->n; i++) {
    if (p->sw[i] == NULL) continue;
    (*out)[*n].uuid = dv_arena_strdup(a, p->sw[i]->uuid);
    (*out)[*n].name = dv_arena_strdup(a, p->sw[i]->name);
    (*out)[*n].portgroup_count = (int)p->sw[i]->n_portgroups;
    (*n)++;
  }
  pthread_mutex_unlock(&p->mu);
  return *out ? 0 : DV_NOMEM(err);
}

static int fake_read(dv_plane_t *p, const dv_switch_ref_t *ref, dv_arena_t *a,
                     dv_switch_cfg_t **out, dv_err_t *err) {
  pthread_mutex_lock(&p->mu);
  int i = find(p, ref);
  *out = i >= 0 ? dv_msg_clone(a, &p->sw[i]->base) : NULL;
  pthread_mutex_unlock(&p->mu);
  if (i < 0)
    return dv_err_set(err, GRPC_STATUS_NOT_FOUND, "switch \"%s\" not found on the fake plane",
                      ref->uuid[0] ? ref->uuid : ref->name);
  return *out ? 0 : DV_NOMEM(err);
}

static int fake_create(dv_plane_t *p, const dv_switch_cfg_t *cfg, const dv_create_opts_t *opts,
                       dv_arena_t *a, dv_created_t *out, dv_err_t *err) {
  pthread_mutex_lock(&p->mu);
  dv_switch_ref_t ref = {cfg->name, ""};
  int rc = 0;
  if (find(p, &ref) >= 0) {
    rc = dv_err_set(err, GRPC_STATUS_ALREADY_EXISTS, "switch \"%s\" exists", cfg->name);
    goto done;
  }
  dv_switch_cfg_t *c = dv_msg_clone(p->arena, &cfg->base);
  c->uuid = opts->keep_identity && cfg->uuid[0] ? c->uuid
                                                  : dv_arena_printf(p->arena, "fake-uuid-%d", p->next_id++);
  if (!opts->include_hosts) c->n_host_members = 0;
  memset(out, 0, sizeof *out);
  out->uuid = dv_arena_strdup(a, c->uuid);
  out->name = dv_arena_strdup(a, c->name);
  out->ids = dv_arena_alloc(a, (c->n_portgroups + 1) * sizeof *out->ids);
  out->ids[out->n_ids++] = (dv_id_pair_t){"switch", out->name, dv_arena_strdup(a, cfg->uuid), out->uuid};
  for (size_t i = 0; i < c->n_portgroups; i++) {
    char *orig = c->portgroups[i]->key;
    /* the fake keeps keys when asked, like a plane that allows it */
    if (!(opts->keep_identity && orig[0]))
      c->portgroups[i]->key = dv_arena_printf(p->arena, "pg-key-%d", p->next_id++);
    out->ids[out->n_ids++] = (dv_id_pair_t){"portgroup", dv_arena_strdup(a, c->portgroups[i]->name),
                                            dv_arena_strdup(a, orig), dv_arena_strdup(a, c->portgroups[i]->key)};
  }
  p->sw[p->n++] = c;
done:
  pthread_mutex_unlock(&p->mu);
  return rc;
}

/* One step on config c (a private copy); returns 0 or -1. */
static int run_step(dv_plane_t *p, dv_switch_cfg_t *c, const dv_step_t *s, const dv_plan_t *plan,
                    dv_err_t *err) {
  p->steps++;
  if (p->fail_step > 0 && p->steps == p->fail_step)
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "injected fault");
  switch (s->kind) {
    case DV_STEP_RECONFIGURE_PORTGROUP:
      for (size_t i = 0; i < c->n_portgroups; i++)
        if (strcmp(c->portgroups[i]->key, s->old_pg->key) == 0) {
          c->portgroups[i] = dv_msg_clone(p->arena, &s->new_pg->base);
          return 0;
        }
      return dv_err_set(err, GRPC_STATUS_NOT_FOUND, "port group %s gone", s->old_pg->key);
    case DV_STEP_ADD_PORTGROUP: {
      dv_pg_cfg_t **v = dv_arena_alloc(p->arena, (c->n_portgroups + 1) * sizeof *v);
      memcpy(v, c->portgroups, c->n_portgroups * sizeof *v);
      v[c->n_portgroups] = dv_msg_clone(p->arena, &s->new_pg->base);
      v[c->n_portgroups]->key = dv_arena_printf(p->arena, "pg-key-%d", p->next_id++);
      c->portgroups = v;
      c->n_portgroups++;
      return 0;
    }
    case DV_STEP_REMOVE_PORTGROUP:
      for (size_t i = 0; i < c->n_portgroups; i++)
        if (strcmp(c->portgroups[i]->key, s->old_pg->key) == 0) {
          c->portgroups[i] = c->portgroups[--c->n_portgroups];
          return 0;
        }
      return 0;
    case DV_STEP_RECONFIGURE_SWITCH: {
      dv_switch_cfg_t t = *plan->target;
      t.name = c->name;
      t.uuid = c->uuid;
      t.datacenter = c->datacenter;
      t.host_members = c->host_members;
      t.n_host_members = c->n_host_members;
      t.portgroups = c->portgroups;
      t.n_portgroups = c->n_portgroups;
      *c = t;
      return 0;
    }
    case DV_STEP_ADD_HOST: {
      char **v = dv_arena_alloc(p->arena, (c->n_host_members + 1) * sizeof *v);
      memcpy(v, c->host_members, c->n_host_members * sizeof *v);
      v[c->n_host_members] = dv_arena_strdup(p->arena, s->host);
      c->host_members = v;
      c->n_host_members++;
      return 0;
    }
    case DV_STEP_REMOVE_HOST:
      for (size_t i = 0; i < c->n_host_members; i++)
        if (strcmp(c->host_members[i], s->host) == 0) {
          c->host_members[i] = c->host_members[--c->n_host_members];
          return 0;
        }
      return 0;
    default:
      return dv_err_set(err, GRPC_STATUS_INTERNAL, "unexpected step kind %d", s->kind);
  }
}

static int fake_apply(dv_plane_t *p, const dv_switch_ref_t *ref, const dv_plan_t *plan,
                      dv_arena_t *a, dv_err_t *err) {
  pthread_mutex_lock(&p->mu);
  int i = find(p, ref), rc = 0;
  if (i < 0) {
    rc = dv_err_set(err, GRPC_STATUS_NOT_FOUND, "switch not found");
    goto done;
  }
  dv_switch_cfg_t *now = dv_msg_clone(a, &p->sw[i]->base);
  dv_switch_cfg_t *expected = dv_msg_clone(a, &plan->expected_live->base);
  if (!dv_config_equal(a, now, expected)) {
    rc = dv_err_set(err, GRPC_STATUS_ABORTED, "switch \"%s\" changed since the plan was made",
                    p->sw[i]->name);
    goto done;
  }
  /* Steps run on a copy, which replaces the switch only when all succeed:
   * the fake's "undo" is simply not committing the copy. */
  dv_switch_cfg_t *work = dv_msg_clone(p->arena, &p->sw[i]->base);
  for (size_t k = 0; k < plan->n_steps; k++) {
    if (run_step(p, work, &plan->steps[k], plan, err) != 0) {
      dv_err_t inner = *err;
      dv_err_clear(err);
      rc = dv_err_set(err, GRPC_STATUS_ABORTED, "step %zu (%s) failed: %s; steps 1-%zu undone",
                      k + 1, plan->steps[k].description, inner.msg, k);
      goto done;
    }
  }
  p->sw[i] = work;
done:
  p->fail_step = 0;
  pthread_mutex_unlock(&p->mu);
  return rc;
}

static int fake_delete(dv_plane_t *p, const dv_switch_ref_t *ref, dv_err_t *err) {
  pthread_mutex_lock(&p->mu);
  int i = find(p, ref);
  if (i >= 0) p->sw[i] = NULL;
  pthread_mutex_unlock(&p->mu);
  return i >= 0 ? 0 : dv_err_set(err, GRPC_STATUS_NOT_FOUND, "switch not found");
}

const dv_adapter_ops_t dv_fake_adapter = {
    .api_version = DV_ADAPTER_API_VERSION,
    .kind = "fake",
    .keeps = DV_KEEP_SWITCH_NAME | DV_KEEP_SWITCH_UUID | DV_KEEP_PORTGROUP_NAME |
             DV_KEEP_PORTGROUP_KEY | DV_KEEP_HOSTS,
    .open = fake_open,
    .close = fake_close,
    .list_switches = fake_list,
    .read_switch = fake_read,
    .create_switch = fake_create,
    .apply_plan = fake_apply,
    .delete_switch = fake_delete,
};

dv_switch_cfg_t *fake_config(dv_arena_t *a, const char *name, const char *uuid, int n) {
  dv_switch_cfg_t *c = dv_arena_msg(a, &dvsconf__v1__switch_config__descriptor);
  c->name = dv_arena_strdup(a, name);
  c->uuid = dv_arena_strdup(a, uuid);
  c->datacenter = dv_arena_strdup(a, "DC0");
  c->description = dv_arena_strdup(a, "test switch");
  c->max_mtu = 1500;
  c->host_members = dv_arena_alloc(a, 2 * sizeof(char *));
  c->host_members[0] = dv_arena_strdup(a, "esx-b");
  c->host_members[1] = dv_arena_strdup(a, "esx-a");
  c->n_host_members = 2;
  c->portgroups = dv_arena_alloc(a, (size_t)(n + 1) * sizeof(void *));
  for (int i = 0; i < n; i++) {
    dv_pg_cfg_t *pg = dv_arena_msg(a, &dvsconf__v1__portgroup_config__descriptor);
    pg->key = dv_arena_printf(a, "dvportgroup-%d", 1000 + i);
    pg->name = dv_arena_printf(a, "pg-%d", i);
    pg->num_ports = 8;
    pg->binding_type = dv_arena_strdup(a, "earlyBinding");
    pg->default_port_config = dv_arena_msg(a, &dvsconf__v1__port_settings__descriptor);
    pg->default_port_config->vlan = dv_arena_msg(a, &dvsconf__v1__vlan_spec__descriptor);
    pg->default_port_config->vlan->kind = DVSCONF__V1__VLAN_KIND__VLAN_KIND_VLAN;
    pg->default_port_config->vlan->vlan_id = 100 + i;
    c->portgroups[c->n_portgroups++] = pg;
  }
  return c;
}
