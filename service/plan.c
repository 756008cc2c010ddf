#include "plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "diff.h"
#include "strmap.h"

typedef struct builder {
  dv_arena_t *a;
  dv_step_t *steps;
  size_t n, cap;
  int failed;
} builder_t;

static dv_step_t *push(builder_t *b, dv_step_kind_t kind, const char *object, const char *desc) {
  if (b->failed) return NULL;
  if (b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 16;
    dv_step_t *s = dv_arena_alloc(b->a, cap * sizeof *s);
    if (s == NULL) {
      b->failed = 1;
      return NULL;
    }
    if (b->n) memcpy(s, b->steps, b->n * sizeof *s);
    b->steps = s;
    b->cap = cap;
  }
  if (object == NULL || desc == NULL) {
    b->failed = 1;
    return NULL;
  }
  dv_step_t *s = &b->steps[b->n++];
  memset(s, 0, sizeof *s);
  s->kind = kind;
  s->object = object;
  s->description = desc;
  return s;
}

/* "vlan.vlan_id 20 -> 10; security.mac_changes false -> true (and 2 more)" */
static char *describe_change(dv_arena_t *a, const dv_pg_cfg_t *from, const dv_pg_cfg_t *to) {
  dv_switch_cfg_t x = DVSCONF__V1__SWITCH_CONFIG__INIT, y = DVSCONF__V1__SWITCH_CONFIG__INIT;
  dv_pg_cfg_t fx = *from, ty = *to;
  fx.key = ty.key = (char *)"";
  fx.name = ty.name = (char *)"pg";
  dv_pg_cfg_t *px = &fx, *py = &ty;
  x.portgroups = &px;
  x.n_portgroups = 1;
  y.portgroups = &py;
  y.n_portgroups = 1;
  dv_change_t **ch;
  size_t n;
  dv_err_t err = DV_ERR_INIT;
  if (dv_diff_configs(a, &x, &y, false, &ch, &n, &err) != 0) return NULL;
  char *s = dv_arena_strdup(a, "");
  if (strcmp(from->name, to->name) != 0)
    s = dv_arena_printf(a, "rename \"%s\" -> \"%s\"", from->name, to->name);
  size_t shown = 0;
  for (size_t i = 0; i < n && s != NULL && shown < 3; i++, shown++) {
    const char *p = ch[i]->path + strlen("portgroups[\"pg\"].");
    s = dv_arena_printf(a, "%s%s%s %s -> %s", s, s[0] ? "; " : "", p,
                        ch[i]->old_value[0] ? ch[i]->old_value : "\"\"",
                        ch[i]->new_value[0] ? ch[i]->new_value : "\"\"");
  }
  if (s != NULL && n > shown) s = dv_arena_printf(a, "%s (and %zu more)", s, n - shown);
  return s;
}

static int cmp_step(const void *p, const void *q) {
  const dv_step_t *a = p, *b = q;
  static const int rank[] = {
      [DV_STEP_CREATE_SWITCH] = 0,      [DV_STEP_RECONFIGURE_SWITCH] = 1,
      [DV_STEP_ADD_HOST] = 2,           [DV_STEP_ADD_PORTGROUP] = 3,
      [DV_STEP_RECONFIGURE_PORTGROUP] = 4, [DV_STEP_REMOVE_PORTGROUP] = 5,
      [DV_STEP_REMOVE_HOST] = 6,
  };
  if (rank[a->kind] != rank[b->kind]) return rank[a->kind] - rank[b->kind];
  return strcmp(a->object, b->object);
}

static void plan_hosts(builder_t *b, const dv_switch_cfg_t *target, const dv_switch_cfg_t *live) {
  dv_strmap_t *have = dv_strmap_new(b->a, live ? live->n_host_members : 0);
  dv_strmap_t *want = dv_strmap_new(b->a, target->n_host_members);
  if (have == NULL || want == NULL) {
    b->failed = 1;
    return;
  }
  for (size_t i = 0; live && i < live->n_host_members; i++)
    dv_strmap_put(have, live->host_members[i], (void *)1);
  for (size_t i = 0; i < target->n_host_members; i++) {
    const char *h = target->host_members[i];
    dv_strmap_put(want, h, (void *)1);
    if (dv_strmap_get(have, h)) continue;
    dv_step_t *s = push(b, DV_STEP_ADD_HOST, h, dv_arena_printf(b->a, "add host %s", h));
    if (s) s->host = h;
  }
  for (size_t i = 0; live && i < live->n_host_members; i++) {
    const char *h = live->host_members[i];
    if (dv_strmap_get(want, h)) continue;
    dv_step_t *s = push(b, DV_STEP_REMOVE_HOST, h, dv_arena_printf(b->a, "remove host %s", h));
    if (s) s->host = h;
  }
}

static char *pg_summary(dv_arena_t *a, const dv_pg_cfg_t *pg) {
  const Dvsconf__V1__VlanSpec *v =
      pg->default_port_config ? pg->default_port_config->vlan : NULL;
  const char *vlan = "no VLAN";
  if (v != NULL && v->kind == DVSCONF__V1__VLAN_KIND__VLAN_KIND_VLAN)
    vlan = dv_arena_printf(a, "VLAN %d", v->vlan_id);
  else if (v != NULL && v->kind == DVSCONF__V1__VLAN_KIND__VLAN_KIND_TRUNK)
    vlan = "VLAN trunk";
  else if (v != NULL && v->kind == DVSCONF__V1__VLAN_KIND__VLAN_KIND_PVLAN)
    vlan = dv_arena_printf(a, "private VLAN %d", v->pvlan_id);
  return dv_arena_printf(a, "%d ports, %s, %s", pg->num_ports,
                         pg->binding_type[0] ? pg->binding_type : "default binding", vlan);
}

static dv_plan_t finish(builder_t *b, const dv_switch_cfg_t *target, const dv_switch_cfg_t *live) {
  if (b->n > 1) qsort(b->steps, b->n, sizeof(dv_step_t), cmp_step);
  dv_plan_t p = {b->steps, b->n, target, live};
  return p;
}

int dv_plan_apply(dv_arena_t *a, const dv_switch_cfg_t *target, const dv_switch_cfg_t *live,
                  const dv_plan_opts_t *o, dv_plan_t *out, dv_err_t *err) {
  builder_t b = {a, NULL, 0, 0, 0};
  if (o->settings && !dv_switch_settings_equal(a, target, live))
    push(&b, DV_STEP_RECONFIGURE_SWITCH, live->name,
         dv_arena_printf(a, "reconfigure switch settings of %s", live->name));
  if (o->hosts) plan_hosts(&b, target, live);

  if (o->portgroups) {
    size_t nl = live->n_portgroups;
    char *used = dv_arena_alloc(a, nl + 1);
    dv_strmap_t *by_key = dv_strmap_new(a, nl), *by_name = dv_strmap_new(a, nl);
    const dv_pg_cfg_t **match = dv_arena_alloc(a, (target->n_portgroups + 1) * sizeof(void *));
    if (used == NULL || by_key == NULL || by_name == NULL || match == NULL) return DV_NOMEM(err);
    for (size_t j = 0; j < nl; j++) {
      if (live->portgroups[j]->key[0])
        dv_strmap_put(by_key, live->portgroups[j]->key, (void *)(j + 1));
      dv_strmap_put(by_name, live->portgroups[j]->name, (void *)(j + 1));
    }
    for (int pass = o->same_history ? 0 : 1; pass < 2; pass++) {
      for (size_t i = 0; i < target->n_portgroups; i++) {
        const dv_pg_cfg_t *pg = target->portgroups[i];
        if (match[i] != NULL) continue;
        void *hit = pass == 0 ? (pg->key[0] ? dv_strmap_get(by_key, pg->key) : NULL)
                              : dv_strmap_get(by_name, pg->name);
        size_t j = (size_t)(uintptr_t)hit;
        if (j == 0 || used[j - 1]) continue;
        used[j - 1] = 1;
        match[i] = live->portgroups[j - 1];
      }
    }
    for (size_t i = 0; i < target->n_portgroups; i++) {
      const dv_pg_cfg_t *pg = target->portgroups[i];
      if (match[i] == NULL) {
        dv_step_t *s = push(&b, DV_STEP_ADD_PORTGROUP, pg->name,
                            dv_arena_printf(a, "add port group %s (%s)", pg->name, pg_summary(a, pg)));
        if (s) s->new_pg = pg;
        continue;
      }
      if (dv_pg_equal(a, pg, match[i], true, false)) continue;
      dv_pg_cfg_t *np = dv_arena_alloc(a, sizeof *np);
      if (np == NULL) return DV_NOMEM(err);
      *np = *pg;
      np->key = match[i]->key; /* the live object is the one reconfigured */
      char *what = describe_change(a, match[i], np);
      dv_step_t *s = push(&b, DV_STEP_RECONFIGURE_PORTGROUP, match[i]->name,
                          what ? dv_arena_printf(a, "reconfigure port group %s: %s",
                                                 match[i]->name, what)
                               : NULL);
      if (s) {
        s->new_pg = np;
        s->old_pg = match[i];
      }
    }
    for (size_t j = 0; o->prune && j < nl; j++) {
      if (used[j]) continue;
      const dv_pg_cfg_t *pg = live->portgroups[j];
      dv_step_t *s = push(&b, DV_STEP_REMOVE_PORTGROUP, pg->name,
                          dv_arena_printf(a, "remove port group %s (%s)", pg->name, pg->key));
      if (s) s->old_pg = pg;
    }
  }
  if (b.failed) return DV_NOMEM(err);
  *out = finish(&b, target, live);
  return 0;
}

int dv_plan_create(dv_arena_t *a, const dv_switch_cfg_t *target, bool hosts, dv_plan_t *out,
                   dv_err_t *err) {
  builder_t b = {a, NULL, 0, 0, 0};
  push(&b, DV_STEP_CREATE_SWITCH, target->name,
       dv_arena_printf(a, "create switch %s%s%s with %zu port groups", target->name,
                       target->datacenter[0] ? " in datacenter " : "", target->datacenter,
                       target->n_portgroups));
  if (hosts) plan_hosts(&b, target, NULL);
  for (size_t i = 0; i < target->n_portgroups; i++) {
    const dv_pg_cfg_t *pg = target->portgroups[i];
    dv_step_t *s = push(&b, DV_STEP_ADD_PORTGROUP, pg->name,
                        dv_arena_printf(a, "add port group %s (%s)", pg->name, pg_summary(a, pg)));
    if (s) s->new_pg = pg;
  }
  if (b.failed) return DV_NOMEM(err);
  *out = finish(&b, target, NULL);
  return 0;
}

void dv_plan_sha256(const dv_plan_t *plan, char out[DV_SHA256_HEX_LEN + 1]) {
  unsigned char md[32] = {0};
  unsigned int mdlen = 0;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1) {
    for (size_t i = 0; i < plan->n_steps; i++) {
      char kind[16];
      int n = snprintf(kind, sizeof kind, "%d\t", plan->steps[i].kind);
      EVP_DigestUpdate(ctx, kind, (size_t)n);
      EVP_DigestUpdate(ctx, plan->steps[i].object, strlen(plan->steps[i].object));
      EVP_DigestUpdate(ctx, "\t", 1);
      EVP_DigestUpdate(ctx, plan->steps[i].description, strlen(plan->steps[i].description));
      EVP_DigestUpdate(ctx, "\n", 1);
    }
    EVP_DigestFinal_ex(ctx, md, &mdlen);
  }
  EVP_MD_CTX_free(ctx);
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  out[DV_SHA256_HEX_LEN] = '\0';
}
