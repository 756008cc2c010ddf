/* vsphere: the adapter for vCenter distributed virtual switches, over the
 * vSphere Web Services API (vim25 SOAP; transport in vsphere_soap.c).
 *
 * Model mapping (SwitchConfig <- VMwareDVSConfigInfo, PortgroupConfig <-
 * DVPortgroupConfigInfo):
 *   name, uuid, description          config.name/uuid/description
 *   contact_name, contact_info       config.contact.name/contact
 *   max_mtu                          config.maxMtu (0: not set)
 *   uplink_port_names                config.uplinkPortPolicy.uplinkPortName[]
 *   num_standalone_ports             config.numStandalonePorts
 *   link_discovery                   config.linkDiscoveryProtocolConfig
 *   default_port_config              config.defaultPortConfig (VMwareDVSPortSetting):
 *     vlan      VlanIdSpec (NONE when 0, else VLAN) / TrunkVlanSpec / PvlanSpec
 *     security  securityPolicy allowPromiscuous/macChanges/forgedTransmits
 *     teaming   uplinkTeamingPolicy policy/notifySwitches/rollingOrder/uplinkPortOrder
 *     in/out_shaping  in/outShapingPolicy enabled/averageBandwidth/peakBandwidth/burstSize
 *   host_members                     summary.hostMember, as host names
 *   datacenter                       name of the Datacenter above the switch
 *   portgroups (uplink ones skipped) key, name, description, numPorts,
 *                                    type (binding_type), autoExpand, defaultPortConfig
 * A policy absent from vCenter's answer stays unset (NULL); empty strings and
 * zeros are "not set". Policies we write carry inherited=false.
 *
 * Writes send FULL specs (vcsim replaces a port group's whole config) with
 * the object's current configVersion, and poll the task.
 *
 * Known limits: identity (switch uuid, port group keys) cannot be chosen on
 * create; policies inherited from the switch are read as their effective
 * values and written back as explicit ones; host members are added without
 * physical NICs (the model does not carry uplink-to-pNIC assignments). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "vsphere_soap.h"

#define VS_PG_BATCH 200 /* port group specs per AddDVPortgroup_Task */

struct dv_plane {
  vs_client_t *client;
};

typedef struct vs_pg {
  vs_moref_t ref;
  dv_pg_cfg_t *cfg;
  const char *config_version;
  bool uplink;
  bool cv_stale; /* reconfigured since read: fetch configVersion again */
} vs_pg_t;

/* An object and its name (hosts, port groups, networks), and its parent
 * when it was asked for. */
typedef struct vs_named {
  vs_moref_t ref;
  const char *name;
  vs_moref_t parent;
} vs_named_t;

/* One switch as read, with what writes to it need. */
typedef struct vs_live {
  vs_moref_t ref; /* type as vCenter gave it: sent back the same */
  vs_moref_t parent;
  dv_switch_cfg_t *cfg; /* portgroups: the non-uplink ones */
  const char *config_version;
  bool cv_stale;
  vs_moref_t *uplink_refs;
  size_t n_uplink_refs, cap_uplink_refs;
  vs_pg_t **pgs; /* every port group, uplink ones too */
  size_t n_pgs, cap_pgs;
  vs_moref_t *member_refs;
  size_t n_member_refs, cap_member_refs;
} vs_live_t;

/* A switch as listed. */
typedef struct vs_brief {
  vs_moref_t ref;
  const char *name, *uuid;
  size_t n_pg, n_uplink; /* zero unless listed with counts */
} vs_brief_t;

#define MSG(a, type, desc) ((type *)dv_arena_msg((a), &(desc)))

/* Make room for one more element of size sz in an arena array. */
static int grow(dv_arena_t *a, void **arr, size_t n, size_t *cap, size_t sz) {
  if (n < *cap) return 0;
  size_t ncap = *cap ? *cap * 2 : 8;
  void *p = dv_arena_alloc(a, ncap * sz);
  if (p == NULL) return -1;
  if (n > 0) memcpy(p, *arr, n * sz);
  *arr = p;
  *cap = ncap;
  return 0;
}

static int push_str(dv_arena_t *a, char ***arr, size_t *n, size_t *cap, const char *s) {
  char *d = dv_arena_strdup(a, s);
  return d != NULL ? dv_arena_push(a, (void ***)arr, n, cap, d) : -1;
}

/* ref's strings copied into a (NULL ones as ""). */
static int moref_copy(dv_arena_t *a, vs_moref_t ref, vs_moref_t *out) {
  out->type = dv_arena_strdup(a, ref.type);
  out->value = dv_arena_strdup(a, ref.value);
  return out->type != NULL && out->value != NULL ? 0 : -1;
}

static int push_moref(dv_arena_t *a, vs_moref_t **arr, size_t *n, size_t *cap, const xmlNode *el) {
  if (grow(a, (void **)arr, *n, cap, sizeof **arr) != 0) return -1;
  if (vs_moref_dup(a, el, &(*arr)[*n]) != 0) return -1;
  (*n)++;
  return 0;
}

static bool moref_eq(vs_moref_t x, vs_moref_t y) {
  return strcmp(x.value, y.value) == 0 && strcmp(x.type, y.type) == 0;
}

static const char *what(dv_arena_t *a, const char *kind, const char *name) {
  const char *w = dv_arena_printf(a, "%s \"%s\"", kind, name != NULL ? name : "");
  return w != NULL ? w : kind;
}

/* --- reading: XML -> model ------------------------------------------------ */

static bool policy_bool(const xmlNode *pol) {
  return vs_bool(vs_child(pol, "value"));
}

static int64_t policy_long(const xmlNode *pol) {
  return (int64_t)vs_int(vs_child(pol, "value"));
}

static int map_vlan(dv_arena_t *a, const xmlNode *v, Dvsconf__V1__VlanSpec **out) {
  const char *t = vs_xsi_type(v);
  Dvsconf__V1__VlanSpec *vl = MSG(a, Dvsconf__V1__VlanSpec, dvsconf__v1__vlan_spec__descriptor);
  if (vl == NULL) return -1;
  if (strcmp(t, "VmwareDistributedVirtualSwitchVlanIdSpec") == 0) {
    vl->vlan_id = (int32_t)vs_int(vs_child(v, "vlanId"));
    vl->kind = vl->vlan_id != 0 ? DVSCONF__V1__VLAN_KIND__VLAN_KIND_VLAN
                                : DVSCONF__V1__VLAN_KIND__VLAN_KIND_NONE;
  } else if (strcmp(t, "VmwareDistributedVirtualSwitchTrunkVlanSpec") == 0) {
    vl->kind = DVSCONF__V1__VLAN_KIND__VLAN_KIND_TRUNK;
    size_t cap = 0;
    for (const xmlNode *r = vs_first(v); r != NULL; r = vs_next(r)) {
      if (!vs_is(r, "vlanId")) continue;
      Dvsconf__V1__NumericRange *nr =
          MSG(a, Dvsconf__V1__NumericRange, dvsconf__v1__numeric_range__descriptor);
      if (nr == NULL) return -1;
      nr->start = (int32_t)vs_int(vs_child(r, "start"));
      nr->end = (int32_t)vs_int(vs_child(r, "end"));
      if (dv_arena_push(a, (void ***)&vl->trunk_ranges, &vl->n_trunk_ranges, &cap, nr) != 0)
        return -1;
    }
  } else if (strcmp(t, "VmwareDistributedVirtualSwitchPvlanSpec") == 0) {
    vl->kind = DVSCONF__V1__VLAN_KIND__VLAN_KIND_PVLAN;
    vl->pvlan_id = (int32_t)vs_int(vs_child(v, "pvlanId"));
  } else {
    vl = NULL; /* a VLAN kind we do not model: not set */
  }
  *out = vl;
  return 0;
}

static int map_shaping(dv_arena_t *a, const xmlNode *n, Dvsconf__V1__ShapingPolicy **out) {
  Dvsconf__V1__ShapingPolicy *sp =
      MSG(a, Dvsconf__V1__ShapingPolicy, dvsconf__v1__shaping_policy__descriptor);
  if (sp == NULL) return -1;
  sp->enabled = policy_bool(vs_child(n, "enabled"));
  sp->average_bandwidth = policy_long(vs_child(n, "averageBandwidth"));
  sp->peak_bandwidth = policy_long(vs_child(n, "peakBandwidth"));
  sp->burst_size = policy_long(vs_child(n, "burstSize"));
  *out = sp;
  return 0;
}

static int map_teaming(dv_arena_t *a, const xmlNode *n, Dvsconf__V1__TeamingPolicy **out) {
  Dvsconf__V1__TeamingPolicy *tp =
      MSG(a, Dvsconf__V1__TeamingPolicy, dvsconf__v1__teaming_policy__descriptor);
  if (tp == NULL) return -1;
  if ((tp->policy = vs_text_dup(a, vs_child(vs_child(n, "policy"), "value"))) == NULL) return -1;
  tp->notify_switches = policy_bool(vs_child(n, "notifySwitches"));
  tp->rolling_order = policy_bool(vs_child(n, "rollingOrder"));
  size_t cap_a = 0, cap_s = 0;
  const xmlNode *order = vs_child(n, "uplinkPortOrder");
  for (const xmlNode *c = vs_first(order); c != NULL; c = vs_next(c)) {
    if (vs_is(c, "activeUplinkPort") &&
        push_str(a, &tp->active_uplinks, &tp->n_active_uplinks, &cap_a, vs_text(c)) != 0)
      return -1;
    if (vs_is(c, "standbyUplinkPort") &&
        push_str(a, &tp->standby_uplinks, &tp->n_standby_uplinks, &cap_s, vs_text(c)) != 0)
      return -1;
  }
  *out = tp;
  return 0;
}

/* VMwareDVSPortSetting -> PortSettings; *out stays NULL when nothing we model is set. */
static int map_settings(dv_arena_t *a, const xmlNode *dpc, dv_port_settings_t **out) {
  *out = NULL;
  if (dpc == NULL) return 0;
  dv_port_settings_t *ps = MSG(a, dv_port_settings_t, dvsconf__v1__port_settings__descriptor);
  if (ps == NULL) return -1;
  for (const xmlNode *c = vs_first(dpc); c != NULL; c = vs_next(c)) {
    int rc = 0;
    if (vs_is(c, "vlan")) {
      rc = map_vlan(a, c, &ps->vlan);
    } else if (vs_is(c, "securityPolicy")) {
      Dvsconf__V1__SecurityPolicy *sp =
          MSG(a, Dvsconf__V1__SecurityPolicy, dvsconf__v1__security_policy__descriptor);
      if (sp == NULL) return -1;
      sp->allow_promiscuous = policy_bool(vs_child(c, "allowPromiscuous"));
      sp->mac_changes = policy_bool(vs_child(c, "macChanges"));
      sp->forged_transmits = policy_bool(vs_child(c, "forgedTransmits"));
      ps->security = sp;
    } else if (vs_is(c, "uplinkTeamingPolicy")) {
      rc = map_teaming(a, c, &ps->teaming);
    } else if (vs_is(c, "inShapingPolicy")) {
      rc = map_shaping(a, c, &ps->in_shaping);
    } else if (vs_is(c, "outShapingPolicy")) {
      rc = map_shaping(a, c, &ps->out_shaping);
    }
    if (rc != 0) return -1;
  }
  if (ps->vlan || ps->security || ps->teaming || ps->in_shaping || ps->out_shaping) *out = ps;
  return 0;
}

/* DVPortgroupConfigInfo -> vs_pg_t. */
static int map_pg(dv_arena_t *a, const xmlNode *config, vs_pg_t *pg) {
  dv_pg_cfg_t *c = MSG(a, dv_pg_cfg_t, dvsconf__v1__portgroup_config__descriptor);
  if (c == NULL) return -1;
  pg->cfg = c;
  pg->config_version = "";
  for (const xmlNode *n = vs_first(config); n != NULL; n = vs_next(n)) {
    char **dst = NULL;
    if (vs_is(n, "key")) dst = &c->key;
    else if (vs_is(n, "name")) dst = &c->name;
    else if (vs_is(n, "description")) dst = &c->description;
    else if (vs_is(n, "type")) dst = &c->binding_type;
    else if (vs_is(n, "numPorts")) c->num_ports = (int32_t)vs_int(n);
    else if (vs_is(n, "autoExpand")) c->auto_expand = vs_bool(n);
    else if (vs_is(n, "uplink")) pg->uplink = vs_bool(n);
    else if (vs_is(n, "configVersion") && (pg->config_version = vs_text_dup(a, n)) == NULL) return -1;
    else if (vs_is(n, "defaultPortConfig") && map_settings(a, n, &c->default_port_config) != 0)
      return -1;
    if (dst != NULL && (*dst = vs_text_dup(a, n)) == NULL) return -1;
  }
  return 0;
}

/* VMwareDVSConfigInfo -> the switch-level fields of live->cfg. */
static int map_switch_config(dv_arena_t *a, const xmlNode *config, vs_live_t *live) {
  dv_switch_cfg_t *c = live->cfg;
  size_t cap_up = 0;
  for (const xmlNode *n = vs_first(config); n != NULL; n = vs_next(n)) {
    char **dst = NULL;
    if (vs_is(n, "name")) dst = &c->name;
    else if (vs_is(n, "uuid")) dst = &c->uuid;
    else if (vs_is(n, "description")) dst = &c->description;
    else if (vs_is(n, "maxMtu")) c->max_mtu = (int32_t)vs_int(n);
    else if (vs_is(n, "numStandalonePorts")) c->num_standalone_ports = (int32_t)vs_int(n);
    else if (vs_is(n, "configVersion")) {
      if ((live->config_version = vs_text_dup(a, n)) == NULL) return -1;
    } else if (vs_is(n, "contact")) {
      if ((c->contact_name = vs_text_dup(a, vs_child(n, "name"))) == NULL ||
          (c->contact_info = vs_text_dup(a, vs_child(n, "contact"))) == NULL)
        return -1;
    } else if (vs_is(n, "uplinkPortPolicy")) {
      for (const xmlNode *u = vs_first(n); u != NULL; u = vs_next(u))
        if (vs_is(u, "uplinkPortName") &&
            push_str(a, &c->uplink_port_names, &c->n_uplink_port_names, &cap_up, vs_text(u)) != 0)
          return -1;
    } else if (vs_is(n, "uplinkPortgroup")) {
      if (push_moref(a, &live->uplink_refs, &live->n_uplink_refs, &live->cap_uplink_refs, n) != 0)
        return -1;
    } else if (vs_is(n, "linkDiscoveryProtocolConfig")) {
      const char *proto = vs_child_text(n, "protocol"), *op = vs_child_text(n, "operation");
      if (proto[0] != '\0' || op[0] != '\0') {
        Dvsconf__V1__LinkDiscovery *ld =
            MSG(a, Dvsconf__V1__LinkDiscovery, dvsconf__v1__link_discovery__descriptor);
        if (ld == NULL || (ld->protocol = dv_arena_strdup(a, proto)) == NULL ||
            (ld->operation = dv_arena_strdup(a, op)) == NULL)
          return -1;
        c->link_discovery = ld;
      }
    } else if (vs_is(n, "defaultPortConfig")) {
      if (map_settings(a, n, &c->default_port_config) != 0) return -1;
    }
    if (dst != NULL && (*dst = vs_text_dup(a, n)) == NULL) return -1;
  }
  return 0;
}

/* --- writing: model -> XML ------------------------------------------------ */

static void put_bool_policy(vs_buf_t *b, const char *name, bool v) {
  vs_buf_printf(b, "<%s><inherited>false</inherited><value>%s</value></%s>", name,
                v ? "true" : "false", name);
}

static void put_long_policy(vs_buf_t *b, const char *name, long long v) {
  vs_buf_printf(b, "<%s><inherited>false</inherited><value>%lld</value></%s>", name, v, name);
}

static void put_shaping(vs_buf_t *b, const char *name, const Dvsconf__V1__ShapingPolicy *sp) {
  if (sp == NULL) return;
  vs_buf_printf(b, "<%s><inherited>false</inherited>", name);
  put_bool_policy(b, "enabled", sp->enabled);
  put_long_policy(b, "averageBandwidth", sp->average_bandwidth);
  put_long_policy(b, "peakBandwidth", sp->peak_bandwidth);
  put_long_policy(b, "burstSize", sp->burst_size);
  vs_buf_printf(b, "</%s>", name);
}

static void put_vlan(vs_buf_t *b, const Dvsconf__V1__VlanSpec *v) {
  if (v == NULL) return;
  switch (v->kind) {
    case DVSCONF__V1__VLAN_KIND__VLAN_KIND_TRUNK:
      vs_buf_puts(b, "<vlan xsi:type=\"VmwareDistributedVirtualSwitchTrunkVlanSpec\">"
                     "<inherited>false</inherited>");
      for (size_t i = 0; i < v->n_trunk_ranges; i++)
        vs_buf_printf(b, "<vlanId><start>%d</start><end>%d</end></vlanId>",
                      v->trunk_ranges[i]->start, v->trunk_ranges[i]->end);
      vs_buf_puts(b, "</vlan>");
      break;
    case DVSCONF__V1__VLAN_KIND__VLAN_KIND_PVLAN:
      vs_buf_printf(b,
                    "<vlan xsi:type=\"VmwareDistributedVirtualSwitchPvlanSpec\">"
                    "<inherited>false</inherited><pvlanId>%d</pvlanId></vlan>",
                    v->pvlan_id);
      break;
    default: /* NONE is VLAN id 0 */
      vs_buf_printf(b,
                    "<vlan xsi:type=\"VmwareDistributedVirtualSwitchVlanIdSpec\">"
                    "<inherited>false</inherited><vlanId>%d</vlanId></vlan>",
                    v->kind == DVSCONF__V1__VLAN_KIND__VLAN_KIND_VLAN ? v->vlan_id : 0);
      break;
  }
}

/* A VMwareDVSPortSetting, its elements in WSDL order. */
static void put_settings(vs_buf_t *b, const char *name, const dv_port_settings_t *ps) {
  if (ps == NULL) return;
  vs_buf_printf(b, "<%s xsi:type=\"VMwareDVSPortSetting\">", name);
  put_shaping(b, "inShapingPolicy", ps->in_shaping);
  put_shaping(b, "outShapingPolicy", ps->out_shaping);
  put_vlan(b, ps->vlan);
  if (ps->teaming != NULL) {
    const Dvsconf__V1__TeamingPolicy *tp = ps->teaming;
    vs_buf_puts(b, "<uplinkTeamingPolicy><inherited>false</inherited>");
    if (tp->policy != NULL && tp->policy[0] != '\0') {
      vs_buf_puts(b, "<policy><inherited>false</inherited>");
      vs_put_str(b, "value", tp->policy);
      vs_buf_puts(b, "</policy>");
    }
    put_bool_policy(b, "notifySwitches", tp->notify_switches);
    put_bool_policy(b, "rollingOrder", tp->rolling_order);
    if (tp->n_active_uplinks > 0 || tp->n_standby_uplinks > 0) {
      vs_buf_puts(b, "<uplinkPortOrder><inherited>false</inherited>");
      for (size_t i = 0; i < tp->n_active_uplinks; i++)
        vs_put_str(b, "activeUplinkPort", tp->active_uplinks[i]);
      for (size_t i = 0; i < tp->n_standby_uplinks; i++)
        vs_put_str(b, "standbyUplinkPort", tp->standby_uplinks[i]);
      vs_buf_puts(b, "</uplinkPortOrder>");
    }
    vs_buf_puts(b, "</uplinkTeamingPolicy>");
  }
  if (ps->security != NULL) {
    vs_buf_puts(b, "<securityPolicy><inherited>false</inherited>");
    put_bool_policy(b, "allowPromiscuous", ps->security->allow_promiscuous);
    put_bool_policy(b, "macChanges", ps->security->mac_changes);
    put_bool_policy(b, "forgedTransmits", ps->security->forged_transmits);
    vs_buf_puts(b, "</securityPolicy>");
  }
  vs_buf_printf(b, "</%s>", name);
}

/* A full DVPortgroupConfigSpec. */
static void put_pg_spec(vs_buf_t *b, const dv_pg_cfg_t *pg, const char *config_version) {
  vs_buf_puts(b, "<spec>");
  if (config_version != NULL && config_version[0] != '\0')
    vs_put_str(b, "configVersion", config_version);
  vs_put_str(b, "name", pg->name);
  vs_put_int(b, "numPorts", pg->num_ports);
  put_settings(b, "defaultPortConfig", pg->default_port_config);
  vs_put_str(b, "description", pg->description);
  if (pg->binding_type != NULL && pg->binding_type[0] != '\0')
    vs_put_str(b, "type", pg->binding_type);
  vs_put_bool(b, "autoExpand", pg->auto_expand);
  vs_buf_puts(b, "</spec>");
}

/* A VMwareDVSConfigSpec in WSDL order, split around its host elements:
 * put_switch_head, then put_host_op for each host, then put_switch_tail.
 * cfg NULL: only configVersion (and name), for a host operation. */
static void put_switch_head(vs_buf_t *b, const char *elem, const char *config_version,
                            const char *name, const dv_switch_cfg_t *cfg) {
  vs_buf_printf(b, "<%s xsi:type=\"VMwareDVSConfigSpec\">", elem);
  if (config_version != NULL && config_version[0] != '\0')
    vs_put_str(b, "configVersion", config_version);
  if (name != NULL) vs_put_str(b, "name", name);
  if (cfg == NULL) return;
  vs_put_int(b, "numStandalonePorts", cfg->num_standalone_ports);
  if (cfg->n_uplink_port_names > 0) {
    vs_buf_puts(b, "<uplinkPortPolicy xsi:type=\"DVSNameArrayUplinkPortPolicy\">");
    for (size_t i = 0; i < cfg->n_uplink_port_names; i++)
      vs_put_str(b, "uplinkPortName", cfg->uplink_port_names[i]);
    vs_buf_puts(b, "</uplinkPortPolicy>");
  }
  put_settings(b, "defaultPortConfig", cfg->default_port_config);
}

static void put_host_op(vs_buf_t *b, const char *op, vs_moref_t host) {
  vs_buf_puts(b, "<host>");
  vs_put_str(b, "operation", op);
  vs_put_moref(b, "host", host);
  if (strcmp(op, "add") == 0) /* no pNICs: the model does not carry them */
    vs_buf_puts(b, "<backing xsi:type=\"DistributedVirtualSwitchHostMemberPnicBacking\"/>");
  vs_buf_puts(b, "</host>");
}

static void put_switch_tail(vs_buf_t *b, const char *elem, const dv_switch_cfg_t *cfg) {
  if (cfg != NULL) {
    vs_put_str(b, "description", cfg->description);
    vs_buf_puts(b, "<contact>");
    vs_put_str(b, "name", cfg->contact_name);
    vs_put_str(b, "contact", cfg->contact_info);
    vs_buf_puts(b, "</contact>");
    if (cfg->max_mtu > 0) vs_put_int(b, "maxMtu", cfg->max_mtu);
    if (cfg->link_discovery != NULL && cfg->link_discovery->protocol[0] != '\0') {
      vs_buf_puts(b, "<linkDiscoveryProtocolConfig>");
      vs_put_str(b, "protocol", cfg->link_discovery->protocol);
      vs_put_str(b, "operation", cfg->link_discovery->operation);
      vs_buf_puts(b, "</linkDiscoveryProtocolConfig>");
    }
  }
  vs_buf_printf(b, "</%s>", elem);
}

/* --- inventory queries ---------------------------------------------------- */

typedef struct briefs {
  dv_arena_t *a;
  vs_brief_t *v;
  size_t n, cap;
} briefs_t;

static int on_switch_brief(void *ctx, const xmlNode *objects, dv_err_t *err) {
  briefs_t *x = ctx;
  if (grow(x->a, (void **)&x->v, x->n, &x->cap, sizeof *x->v) != 0) return DV_NOMEM(err);
  vs_brief_t *b = &x->v[x->n];
  memset(b, 0, sizeof *b);
  if (vs_moref_dup(x->a, vs_child(objects, "obj"), &b->ref) != 0) return DV_NOMEM(err);
  b->name = b->uuid = "";
  const xmlNode *cur = NULL;
  vs_prop_t p;
  while (vs_prop_next(objects, &cur, &p)) {
    if (strcmp(p.name, "name") == 0 && (b->name = vs_text_dup(x->a, p.val)) == NULL)
      return DV_NOMEM(err);
    if (strcmp(p.name, "uuid") == 0 && (b->uuid = vs_text_dup(x->a, p.val)) == NULL)
      return DV_NOMEM(err);
    size_t *count = strcmp(p.name, "portgroup") == 0                ? &b->n_pg
                    : strcmp(p.name, "config.uplinkPortgroup") == 0 ? &b->n_uplink
                                                                    : NULL;
    if (count != NULL)
      for (const xmlNode *r = vs_first(p.val); r != NULL; r = vs_next(r)) (*count)++;
  }
  x->n++;
  return 0;
}

/* Every object of `type` (or a subtype) under container, through a
 * container view: `paths` (<pathSet> elements) of each, to fn. The view is
 * destroyed afterwards, whatever happened. */
static int retrieve_in_view(vs_session_t *s, dv_arena_t *a, vs_moref_t container,
                            const char *type, const char *paths, const char *what,
                            vs_object_fn fn, void *ctx, dv_err_t *err) {
  vs_moref_t view = {0};
  vs_buf_t spec = {0};
  int rc = -1;
  if (vs_view_create(s, container, &type, 1, a, &view, err) == 0) {
    vs_buf_puts(&spec, "<propSet><type>");
    vs_buf_esc(&spec, type);
    vs_buf_puts(&spec, "</type>");
    vs_buf_puts(&spec, paths);
    vs_buf_puts(&spec, "</propSet>");
    vs_put_view_object_set(&spec, view);
    rc = spec.oom ? DV_NOMEM(err) : vs_retrieve(s, what, spec.p, spec.len, fn, NULL, ctx, err);
  }
  vs_view_destroy(s, view);
  vs_buf_free(&spec);
  return rc;
}

/* Every switch on the plane: moref, name, uuid, and with counts, how many
 * port groups it has. Counting means reading every switch's port group
 * list: 200 KB of answer for one 2,000-port-group switch (vcsim: 7.5 ms
 * against 2.7 ms for names alone), so only ListSwitches asks for it. */
static int list_all(vs_session_t *s, dv_arena_t *a, bool counts, vs_brief_t **out, size_t *n,
                    dv_err_t *err) {
  vs_moref_t root = {"Folder", vs_session_content(s)->root_folder};
  briefs_t x = {a, NULL, 0, 0};
  const char *paths = counts ? "<pathSet>name</pathSet><pathSet>uuid</pathSet>"
                               "<pathSet>portgroup</pathSet><pathSet>config.uplinkPortgroup</pathSet>"
                             : "<pathSet>name</pathSet><pathSet>uuid</pathSet>";
  if (retrieve_in_view(s, a, root, "DistributedVirtualSwitch", paths, "the switches",
                       on_switch_brief, &x, err) != 0)
    return -1;
  *out = x.v;
  *n = x.n;
  return 0;
}

/* The switch ref names: NOT_FOUND when absent, FAILED_PRECONDITION when
 * the name (or uuid) is not unique on the plane. */
static int resolve_switch(vs_session_t *s, dv_arena_t *a, const dv_switch_ref_t *ref,
                          vs_brief_t *out, dv_err_t *err) {
  const char *plane = vs_session_plane(s);
  bool by_name = ref != NULL && ref->name != NULL && ref->name[0] != '\0';
  bool by_uuid = ref != NULL && ref->uuid != NULL && ref->uuid[0] != '\0';
  if (by_name == by_uuid) {
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT,
                      "plane \"%s\": name the switch by exactly one of name and uuid", plane);
  }
  vs_brief_t *v;
  size_t n, hits = 0;
  if (list_all(s, a, false, &v, &n, err) != 0) return -1;
  for (size_t i = 0; i < n; i++) {
    if (strcmp(by_name ? v[i].name : v[i].uuid, by_name ? ref->name : ref->uuid) != 0) continue;
    if (hits++ == 0) *out = v[i];
  }
  const char *key = by_name ? "named" : "with uuid";
  const char *val = by_name ? ref->name : ref->uuid;
  if (hits == 0) {
    return dv_err_set(err, GRPC_STATUS_NOT_FOUND, "switch %s \"%s\" not found on plane \"%s\"",
                      key, val, plane);
  }
  if (hits > 1) {
    return dv_err_set(err, GRPC_STATUS_FAILED_PRECONDITION,
                      "%zu switches %s \"%s\" on plane \"%s\"; name the switch %s", hits, key, val,
                      plane, by_name ? "by uuid" : "by name");
  }
  return 0;
}

typedef struct early early_t; /* the hosts and datacenter, read early (read_live) */
static void early_start(early_t *e, const vs_live_t *live);

typedef struct live_ctx {
  dv_arena_t *a;
  vs_live_t *live;
  bool part; /* the second part of an answer (vs_parts_t): port groups only */
  early_t *early; /* NULL: the hosts and datacenter are read after */
} live_ctx_t;

static int on_live_object(void *ctx, const xmlNode *objects, dv_err_t *err) {
  live_ctx_t *x = ctx;
  vs_live_t *live = x->live;
  dv_arena_t *a = x->a;
  const xmlNode *obj = vs_child(objects, "obj");
  const xmlNode *cur = NULL;
  vs_prop_t p;
  bool is_pg = strcmp(vs_type_attr(obj), "DistributedVirtualPortgroup") == 0;
  if (x->part && !is_pg) /* the part is dropped, the answer read in one piece */
    return dv_err_set(err, GRPC_STATUS_INTERNAL, "the switch's object in a second part");
  if (is_pg) {
    vs_pg_t *pg = dv_arena_alloc(a, sizeof *pg);
    if (pg == NULL || vs_moref_dup(a, obj, &pg->ref) != 0) return DV_NOMEM(err);
    while (vs_prop_next(objects, &cur, &p))
      if (strcmp(p.name, "config") == 0 && map_pg(a, p.val, pg) != 0) return DV_NOMEM(err);
    if (pg->cfg == NULL) return 0; /* no config: not a usable port group */
    if (dv_arena_push(a, (void ***)&live->pgs, &live->n_pgs, &live->cap_pgs, pg) != 0)
      return DV_NOMEM(err);
    return 0;
  }
  if (vs_moref_dup(a, obj, &live->ref) != 0) return DV_NOMEM(err);
  const char *entity_name = "";
  while (vs_prop_next(objects, &cur, &p)) {
    int rc = 0;
    if (strcmp(p.name, "config") == 0) {
      rc = map_switch_config(a, p.val, live);
    } else if (strcmp(p.name, "name") == 0) {
      entity_name = vs_text(p.val);
    } else if (strcmp(p.name, "parent") == 0) {
      rc = vs_moref_dup(a, p.val, &live->parent);
    } else if (strcmp(p.name, "summary.hostMember") == 0) {
      for (const xmlNode *r = vs_first(p.val); r != NULL && rc == 0; r = vs_next(r))
        rc = push_moref(a, &live->member_refs, &live->n_member_refs, &live->cap_member_refs, r);
    }
    if (rc != 0) return DV_NOMEM(err);
  }
  if (live->cfg->name[0] == '\0' && (live->cfg->name = dv_arena_strdup(a, entity_name)) == NULL)
    return DV_NOMEM(err);
  if (x->early != NULL) early_start(x->early, live);
  return 0;
}

/* The second part of read_switch's answer (vs_parts_t): its port groups go
 * to a live state and an arena of their own (an arena serves one thread),
 * and are put after the first part's when the part is kept; its arena then
 * lives as long as the call's. */
typedef struct live_part {
  live_ctx_t x;
  vs_live_t live;
} live_part_t;

static void *live_part_open(void *ctx) {
  (void)ctx;
  dv_arena_t *a = dv_arena_new();
  live_part_t *p = a != NULL ? dv_arena_alloc(a, sizeof *p) : NULL;
  if (p == NULL) {
    dv_arena_free(a);
    return NULL;
  }
  memset(p, 0, sizeof *p);
  p->x = (live_ctx_t){a, &p->live, true, NULL};
  return &p->x;
}

static void free_arena(void *a) { dv_arena_free(a); }

static int live_part_close(void *ctx, void *part, bool keep, dv_err_t *err) {
  live_ctx_t *x = ctx, *px = part;
  dv_arena_t *pa = px->a;
  if (!keep) {
    dv_arena_free(pa);
    return 0;
  }
  if (dv_arena_defer(x->a, free_arena, pa) != 0) {
    dv_arena_free(pa);
    return DV_NOMEM(err);
  }
  vs_live_t *to = x->live, *from = px->live;
  for (size_t i = 0; i < from->n_pgs; i++)
    if (dv_arena_push(x->a, (void ***)&to->pgs, &to->n_pgs, &to->cap_pgs, from->pgs[i]) != 0)
      return DV_NOMEM(err);
  return 0;
}

static const vs_parts_t live_parts = {live_part_open, live_part_close};

typedef struct names_ctx {
  dv_arena_t *a;
  vs_named_t *v;
  size_t n, cap;
} names_ctx_t;

static int on_named(void *ctx, const xmlNode *objects, dv_err_t *err) {
  names_ctx_t *x = ctx;
  if (grow(x->a, (void **)&x->v, x->n, &x->cap, sizeof *x->v) != 0) return DV_NOMEM(err);
  vs_named_t *h = &x->v[x->n];
  h->name = "";
  h->parent = (vs_moref_t){NULL, NULL};
  if (vs_moref_dup(x->a, vs_child(objects, "obj"), &h->ref) != 0) return DV_NOMEM(err);
  const xmlNode *cur = NULL;
  vs_prop_t p;
  while (vs_prop_next(objects, &cur, &p)) {
    if (strcmp(p.name, "name") == 0 && (h->name = vs_text_dup(x->a, p.val)) == NULL)
      return DV_NOMEM(err);
    if (strcmp(p.name, "parent") == 0 && vs_moref_dup(x->a, p.val, &h->parent) != 0)
      return DV_NOMEM(err);
  }
  x->n++;
  return 0;
}

/* Names (and parent) of the given objects of one type. */
static int read_names(vs_session_t *s, dv_arena_t *a, const char *type, const vs_moref_t *refs,
                      size_t n, names_ctx_t *x, dv_err_t *err) {
  vs_buf_t spec = {0};
  memset(x, 0, sizeof *x);
  x->a = a;
  if (n == 0) return 0;
  vs_buf_puts(&spec, "<propSet><type>");
  vs_buf_esc(&spec, type);
  vs_buf_puts(&spec, "</type><pathSet>name</pathSet><pathSet>parent</pathSet></propSet>");
  for (size_t i = 0; i < n; i++) {
    vs_buf_puts(&spec, "<objectSet>");
    vs_put_moref(&spec, "obj", refs[i]);
    vs_buf_puts(&spec, "</objectSet>");
  }
  int rc = spec.oom ? DV_NOMEM(err)
                    : vs_retrieve(s, type, spec.p, spec.len, on_named, NULL, x, err);
  vs_buf_free(&spec);
  return rc;
}

/* Every object of one type (or a subtype) under container, with its name. */
static int list_named(vs_session_t *s, dv_arena_t *a, vs_moref_t container, const char *type,
                      names_ctx_t *x, dv_err_t *err) {
  memset(x, 0, sizeof *x);
  x->a = a;
  return retrieve_in_view(s, a, container, type, "<pathSet>name</pathSet>", type, on_named, x, err);
}

/* The Datacenter above obj: walk parents (folders may nest). */
static int find_datacenter(vs_session_t *s, dv_arena_t *a, vs_moref_t start, vs_moref_t *dc,
                           const char **dc_name, dv_err_t *err) {
  vs_moref_t cur = start;
  *dc_name = "";
  for (int depth = 0; depth < 32 && cur.value != NULL && cur.value[0] != '\0'; depth++) {
    names_ctx_t x;
    if (read_names(s, a, cur.type, &cur, 1, &x, err) != 0) return -1;
    if (strcmp(cur.type, "Datacenter") == 0) {
      *dc = cur;
      *dc_name = x.n > 0 ? x.v[0].name : "";
      return 0;
    }
    cur = x.n > 0 ? x.v[x.n - 1].parent : (vs_moref_t){NULL, NULL};
  }
  return 0; /* not under a datacenter (not in vCenter): leave it empty */
}

static const char *host_name_of(const names_ctx_t *hosts, vs_moref_t ref) {
  for (size_t i = 0; i < hosts->n; i++)
    if (moref_eq(hosts->v[i].ref, ref)) return hosts->v[i].name;
  return ref.value;
}

static int cmp_str(const void *x, const void *y) {
  return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Whether live names a parent (the folder the switch is in). */
static bool has_parent(const vs_live_t *live) {
  return live->parent.value != NULL && live->parent.value[0] != '\0';
}

/* The names of a switch's member hosts and of the datacenter above it, in
 * one call: the hosts by reference, and the switch's folder with every
 * ancestor (ManagedEntity.parent, followed up to the root). When that
 * answer does not lead to a datacenter (a plane that does not follow the
 * traversal, or objects it does not show), the ancestors are read one at
 * a time as before; a switch under no datacenter (not in vCenter) gets "". */
static int read_surroundings(vs_session_t *s, dv_arena_t *a, const vs_live_t *live, const char *w,
                             names_ctx_t *x, const char **dc_name, dv_err_t *err) {
  memset(x, 0, sizeof *x);
  x->a = a;
  *dc_name = "";
  if (live->n_member_refs == 0 && !has_parent(live)) return 0;
  vs_buf_t spec = {0};
  vs_buf_puts(&spec,
              "<propSet><type>HostSystem</type><pathSet>name</pathSet></propSet>"
              "<propSet><type>Folder</type><pathSet>name</pathSet><pathSet>parent</pathSet>"
              "</propSet><propSet><type>Datacenter</type><pathSet>name</pathSet>"
              "<pathSet>parent</pathSet></propSet>");
  for (size_t i = 0; i < live->n_member_refs; i++) {
    vs_buf_puts(&spec, "<objectSet>");
    vs_put_moref(&spec, "obj", live->member_refs[i]);
    vs_buf_puts(&spec, "</objectSet>");
  }
  if (has_parent(live)) {
    vs_buf_puts(&spec, "<objectSet>");
    vs_put_moref(&spec, "obj", live->parent);
    vs_buf_puts(&spec,
                "<skip>false</skip><selectSet xsi:type=\"TraversalSpec\"><name>up</name>"
                "<type>ManagedEntity</type><path>parent</path><skip>false</skip>"
                "<selectSet><name>up</name></selectSet></selectSet></objectSet>");
  }
  const char *about = dv_arena_printf(a, "the hosts and datacenter of %s", w);
  int rc = spec.oom || about == NULL
               ? DV_NOMEM(err)
               : vs_retrieve(s, about, spec.p, spec.len, on_named, NULL, x, err);
  vs_buf_free(&spec);
  if (rc != 0 || !has_parent(live)) return rc;
  /* up from the switch's folder through what the answer holds */
  vs_moref_t cur = live->parent;
  for (int depth = 0; depth < 32 && cur.value != NULL && cur.value[0] != '\0'; depth++) {
    const vs_named_t *o = NULL;
    for (size_t i = 0; i < x->n && o == NULL; i++)
      if (moref_eq(x->v[i].ref, cur)) o = &x->v[i];
    /* not shown, or of a type not asked for (no name): ask one at a time */
    if (o == NULL || o->name[0] == '\0') break;
    if (strcmp(cur.type, "Datacenter") == 0) {
      *dc_name = o->name;
      return 0;
    }
    if (o->parent.value == NULL) return 0; /* the root: not under a datacenter */
    cur = o->parent;
  }
  vs_moref_t dc;
  return find_datacenter(s, a, live->parent, &dc, dc_name, err);
}

/* The hosts and datacenter of a switch, read on another session of the
 * plane while the rest of the switch's answer (its port groups) is still
 * received and parsed, so that vCenter answers that small call meanwhile
 * instead of after: one round trip less on every read of a switch. It
 * starts when the switch's object has been read (on_live_object, at the
 * answer's start), on a helper thread, when another session is idle at that
 * moment; else read_live reads them after, on its own session, as before.
 * The other session goes back to the pool as soon as its call is done.
 *
 * What vCenter answered is the call's outcome, as if asked after (the same
 * request, once): the names, or its fault. Not reaching vCenter on that
 * session is not: when it cannot log in, or its call ends UNAVAILABLE or
 * DEADLINE_EXCEEDED (a connection dropped while idle, say), read_live asks
 * again on its own session, which has just read the switch. The first read
 * on a plane may log the other session in first (once per session). */
struct early {
  vs_session_t *s; /* read_live's session; then the other one (started) */
  dv_arena_t *a;   /* read_live's; then the helper's own (started) */
  const char *w;
  bool started, stale; /* stale: another switch object came after it started */
  vs_live_t live;      /* the switch's parent and hosts, copied into a */
  pthread_t thread;
  int rc; /* read_surroundings' outcome, or EARLY_NO_SESSION */
  names_ctx_t hosts;
  const char *dc_name;
  dv_err_t err;
};

enum { EARLY_NO_SESSION = -2 };

static atomic_ulong early_reads;

unsigned long dv_vsphere_early_reads(void) { return atomic_load(&early_reads); }

static void *early_main(void *arg) {
  early_t *e = arg;
  dv_err_t err = DV_ERR_INIT;
  if (vs_session_ready(e->s, &err) != 0)
    e->rc = EARLY_NO_SESSION;
  else
    e->rc = read_surroundings(e->s, e->a, &e->live, e->w, &e->hosts, &e->dc_name, &e->err);
  vs_session_put(e->s); /* not held while the big answer is still parsed */
  return NULL;
}

/* On the parsing thread, when the switch's object has been read. */
static void early_start(early_t *e, const vs_live_t *live) {
  if (e->started) {
    e->stale = true; /* read as in one piece: the later object wins */
    return;
  }
  if (live->n_member_refs == 0 && !has_parent(live)) return;
  dv_arena_t *a = dv_arena_new();
  vs_session_t *o = a != NULL ? vs_session_other(e->s) : NULL;
  if (o == NULL || dv_arena_defer(e->a, free_arena, a) != 0) {
    vs_session_put(o);
    dv_arena_free(a);
    return;
  }
  if (moref_copy(a, live->parent, &e->live.parent) != 0) goto fail;
  e->live.member_refs = dv_arena_alloc(a, (live->n_member_refs + 1) * sizeof *live->member_refs);
  if (e->live.member_refs == NULL) goto fail;
  for (size_t i = 0; i < live->n_member_refs; i++)
    if (moref_copy(a, live->member_refs[i], &e->live.member_refs[i]) != 0) goto fail;
  e->live.n_member_refs = live->n_member_refs;
  if ((e->w = dv_arena_strdup(a, e->w)) == NULL) goto fail;
  e->s = o;
  e->a = a;
  if (pthread_create(&e->thread, NULL, early_main, e) != 0) goto fail;
  e->started = true;
  return;
fail: /* a stays deferred to the call's arena */
  vs_session_put(o);
  e->live = (vs_live_t){0};
}

/* After the switch's answer: wait for the early read. true when its
 * outcome counts: vCenter answered it, for the switch read. */
static bool early_join(early_t *e) {
  if (!e->started) return false;
  pthread_join(e->thread, NULL);
  if (e->rc == EARLY_NO_SESSION || e->stale) return false;
  if (e->rc != 0 && (e->err.code == GRPC_STATUS_UNAVAILABLE ||
                     e->err.code == GRPC_STATUS_DEADLINE_EXCEEDED))
    return false;
  atomic_fetch_add(&early_reads, 1);
  return true;
}

/* Read one switch (by moref) with its port groups, hosts and datacenter. */
static int read_live(vs_session_t *s, dv_arena_t *a, vs_moref_t ref, const char *w, vs_live_t *live,
                     dv_err_t *err) {
  memset(live, 0, sizeof *live);
  live->cfg = MSG(a, dv_switch_cfg_t, dvsconf__v1__switch_config__descriptor);
  if (live->cfg == NULL) return DV_NOMEM(err);
  live->config_version = "";
  vs_buf_t spec = {0};
  vs_buf_puts(&spec,
              "<propSet><type>DistributedVirtualSwitch</type><pathSet>name</pathSet>"
              "<pathSet>config</pathSet><pathSet>summary.hostMember</pathSet>"
              "<pathSet>parent</pathSet></propSet>"
              "<propSet><type>DistributedVirtualPortgroup</type><pathSet>config</pathSet></propSet>"
              "<objectSet>");
  vs_put_moref(&spec, "obj", ref);
  vs_buf_puts(&spec,
              "<skip>false</skip><selectSet xsi:type=\"TraversalSpec\"><name>pgs</name>"
              "<type>DistributedVirtualSwitch</type><path>portgroup</path><skip>false</skip>"
              "</selectSet></objectSet>");
  early_t e = {.s = s, .a = a, .w = w};
  live_ctx_t x = {a, live, false, &e};
  int rc = spec.oom ? DV_NOMEM(err)
                    : vs_retrieve(s, w, spec.p, spec.len, on_live_object, &live_parts, &x, err);
  vs_buf_free(&spec);
  bool early = early_join(&e); /* before anything returns */
  if (rc != 0) return -1;
  if (live->ref.value == NULL) {
    return dv_err_set(err, GRPC_STATUS_NOT_FOUND, "%s (%s) not found on plane \"%s\"", w, ref.value,
                      vs_session_plane(s));
  }

  dv_switch_cfg_t *cfg = live->cfg;
  size_t cap = 0;
  for (size_t i = 0; i < live->n_pgs; i++) {
    vs_pg_t *pg = live->pgs[i];
    for (size_t j = 0; j < live->n_uplink_refs && !pg->uplink; j++)
      pg->uplink = moref_eq(pg->ref, live->uplink_refs[j]);
    if (!pg->uplink &&
        dv_arena_push(a, (void ***)&cfg->portgroups, &cfg->n_portgroups, &cap, pg->cfg) != 0)
      return DV_NOMEM(err);
  }

  names_ctx_t hosts;
  const char *dc_name;
  if (early) { /* its strings are copied below: its arena goes with a */
    if (e.rc != 0) {
      *err = e.err;
      return -1;
    }
    hosts = e.hosts;
    dc_name = e.dc_name;
  } else if (read_surroundings(s, a, live, w, &hosts, &dc_name, err) != 0) {
    return -1;
  }
  cap = 0;
  for (size_t i = 0; i < live->n_member_refs; i++)
    if (push_str(a, &cfg->host_members, &cfg->n_host_members, &cap,
                 host_name_of(&hosts, live->member_refs[i])) != 0)
      return DV_NOMEM(err);
  if ((cfg->datacenter = dv_arena_strdup(a, dc_name)) == NULL) return DV_NOMEM(err);
  return 0;
}

/* --- writes --------------------------------------------------------------- */

static vs_pg_t *live_pg_by_key(const vs_live_t *live, const char *key) {
  for (size_t i = 0; i < live->n_pgs; i++)
    if (strcmp(live->pgs[i]->cfg->key, key) == 0) return live->pgs[i];
  return NULL;
}

typedef struct cv_ctx {
  dv_arena_t *a;
  const char *cv;
} cv_ctx_t;

static int on_config_version(void *ctx, const xmlNode *objects, dv_err_t *err) {
  cv_ctx_t *x = ctx;
  const xmlNode *cur = NULL;
  vs_prop_t p;
  while (vs_prop_next(objects, &cur, &p))
    if (strcmp(p.name, "config.configVersion") == 0 && (x->cv = vs_text_dup(x->a, p.val)) == NULL)
      return DV_NOMEM(err);
  return 0;
}

/* The current config.configVersion of a switch or port group. */
static int fetch_config_version(vs_session_t *s, dv_arena_t *a, vs_moref_t ref, const char *w,
                                const char **cv, dv_err_t *err) {
  vs_buf_t spec = {0};
  vs_buf_puts(&spec, "<propSet><type>");
  vs_buf_esc(&spec, ref.type);
  vs_buf_puts(&spec, "</type><pathSet>config.configVersion</pathSet></propSet><objectSet>");
  vs_put_moref(&spec, "obj", ref);
  vs_buf_puts(&spec, "</objectSet>");
  cv_ctx_t x = {a, ""};
  int rc = spec.oom ? DV_NOMEM(err)
                    : vs_retrieve(s, w, spec.p, spec.len, on_config_version, NULL, &x, err);
  vs_buf_free(&spec);
  *cv = x.cv;
  return rc;
}

static int destroy(vs_session_t *s, dv_arena_t *a, vs_moref_t ref, const char *w, dv_err_t *err) {
  vs_buf_t b = {0};
  vs_req_begin(&b, "Destroy_Task", ref);
  vs_req_end(&b, "Destroy_Task");
  int rc = vs_call_task(s, "Destroy_Task", w, &b, a, NULL, err);
  vs_buf_free(&b);
  return rc;
}

/* AddDVPortgroup_Task with pgs[0..n-1], VS_PG_BATCH specs per call. */
static int add_pgs(vs_session_t *s, dv_arena_t *a, vs_moref_t sw, const char *sw_what,
                   const dv_pg_cfg_t *const *pgs, size_t n, dv_err_t *err) {
  vs_buf_t b = {0};
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i += VS_PG_BATCH) {
    size_t end = i + VS_PG_BATCH < n ? i + VS_PG_BATCH : n;
    vs_req_begin(&b, "AddDVPortgroup_Task", sw);
    for (size_t j = i; j < end; j++) put_pg_spec(&b, pgs[j], NULL);
    vs_req_end(&b, "AddDVPortgroup_Task");
    const char *w = end - i == 1 ? what(a, "port group", pgs[i]->name)
                                 : dv_arena_printf(a, "%zu port groups of %s", end - i, sw_what);
    rc = vs_call_task(s, "AddDVPortgroup_Task", w != NULL ? w : sw_what, &b, a, NULL, err);
  }
  vs_buf_free(&b);
  return rc;
}

typedef struct pg_names {
  dv_arena_t *a;
  vs_moref_t *pgs;
  size_t n_pgs, cap_pgs;
  vs_moref_t *uplinks;
  size_t n_uplinks, cap_uplinks;
  vs_named_t *named; /* port group moref -> name */
  size_t n_named, cap_named;
} pg_names_t;

static int on_pg_names(void *ctx, const xmlNode *objects, dv_err_t *err) {
  pg_names_t *x = ctx;
  const xmlNode *obj = vs_child(objects, "obj");
  const xmlNode *cur = NULL;
  vs_prop_t p;
  bool is_pg = strcmp(vs_type_attr(obj), "DistributedVirtualPortgroup") == 0;
  if (is_pg && grow(x->a, (void **)&x->named, x->n_named, &x->cap_named, sizeof *x->named) != 0)
    return DV_NOMEM(err);
  while (vs_prop_next(objects, &cur, &p)) {
    int rc = 0;
    if (is_pg && strcmp(p.name, "name") == 0) {
      vs_named_t *h = &x->named[x->n_named++];
      rc = vs_moref_dup(x->a, obj, &h->ref);
      if (rc == 0 && (h->name = vs_text_dup(x->a, p.val)) == NULL) rc = -1;
    }
    for (const xmlNode *r = !is_pg && strcmp(p.name, "portgroup") == 0 ? vs_first(p.val) : NULL;
         r != NULL && rc == 0; r = vs_next(r))
      rc = push_moref(x->a, &x->pgs, &x->n_pgs, &x->cap_pgs, r);
    for (const xmlNode *r =
             !is_pg && strcmp(p.name, "config.uplinkPortgroup") == 0 ? vs_first(p.val) : NULL;
         r != NULL && rc == 0; r = vs_next(r))
      rc = push_moref(x->a, &x->uplinks, &x->n_uplinks, &x->cap_uplinks, r);
    if (rc != 0) return DV_NOMEM(err);
  }
  return 0;
}

/* A switch's port groups (morefs, names) and which are uplink ones. */
static int read_pg_names(vs_session_t *s, dv_arena_t *a, vs_moref_t sw, const char *sw_what,
                         pg_names_t *x, dv_err_t *err) {
  memset(x, 0, sizeof *x);
  x->a = a;
  vs_buf_t spec = {0};
  vs_buf_puts(&spec,
              "<propSet><type>DistributedVirtualSwitch</type><pathSet>portgroup</pathSet>"
              "<pathSet>config.uplinkPortgroup</pathSet></propSet>"
              "<propSet><type>DistributedVirtualPortgroup</type><pathSet>name</pathSet></propSet>"
              "<objectSet>");
  vs_put_moref(&spec, "obj", sw);
  vs_buf_puts(&spec,
              "<skip>false</skip><selectSet xsi:type=\"TraversalSpec\"><name>pgs</name>"
              "<type>DistributedVirtualSwitch</type><path>portgroup</path><skip>false</skip>"
              "</selectSet></objectSet>");
  int rc = spec.oom ? DV_NOMEM(err)
                    : vs_retrieve(s, sw_what, spec.p, spec.len, on_pg_names, NULL, x, err);
  vs_buf_free(&spec);
  return rc;
}

static const char *pg_name_of(const pg_names_t *x, vs_moref_t ref) {
  for (size_t i = 0; i < x->n_named; i++)
    if (moref_eq(x->named[i].ref, ref)) return x->named[i].name;
  return ref.value;
}

/* Destroy a switch: its port groups first, then its uplink port groups
 * (vcsim keeps them otherwise; vCenter refuses, and removes them with the
 * switch, so a refusal there is not an error), then the switch. */
static int destroy_switch(vs_session_t *s, dv_arena_t *a, vs_moref_t sw, const char *sw_what,
                          dv_err_t *err) {
  pg_names_t x;
  if (read_pg_names(s, a, sw, sw_what, &x, err) != 0) return -1;
  size_t done = 0, n_user = 0;
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < x.n_pgs; i++) {
      bool uplink = false;
      for (size_t j = 0; j < x.n_uplinks && !uplink; j++) uplink = moref_eq(x.pgs[i], x.uplinks[j]);
      if (uplink != (pass == 1)) continue;
      n_user += !uplink;
      dv_err_t e = DV_ERR_INIT;
      if (destroy(s, a, x.pgs[i], what(a, "port group", pg_name_of(&x, x.pgs[i])), &e) == 0) {
        done += !uplink;
        continue;
      }
      if (uplink && e.code != GRPC_STATUS_UNAVAILABLE) continue; /* see above */
      if (err != NULL) *err = e;
      dv_err_prefix(err, "deleting %s (%zu port groups deleted before this failure, switch kept)",
                    sw_what, done);
      return -1;
    }
  }
  if (destroy(s, a, sw, sw_what, err) != 0) {
    dv_err_prefix(err, "deleting %s (its %zu port groups are deleted)", sw_what, n_user);
    return -1;
  }
  return 0;
}

/* --- slots ---------------------------------------------------------------- */

static dv_plane_t *vsphere_open(const dv_plane_conf_t *conf, dv_err_t *err) {
  dv_plane_t *p = calloc(1, sizeof *p);
  if (p == NULL) {
    DV_NOMEM(err);
    return NULL;
  }
  p->client = vs_client_new(conf, err);
  if (p->client == NULL) {
    free(p);
    return NULL;
  }
  return p;
}

static void vsphere_close(dv_plane_t *p) {
  if (p == NULL) return;
  vs_client_free(p->client);
  free(p);
}

static int vsphere_list_switches(dv_plane_t *p, dv_arena_t *a, dv_switch_brief_t **out,
                                 size_t *n_out, dv_err_t *err) {
  vs_session_t *s = vs_session_get(p->client, err);
  if (s == NULL) return -1;
  vs_brief_t *v;
  size_t n;
  int rc = -1;
  if (list_all(s, a, true, &v, &n, err) != 0) goto cleanup;
  dv_switch_brief_t *res = dv_arena_alloc(a, (n > 0 ? n : 1) * sizeof *res);
  if (res == NULL) {
    DV_NOMEM(err);
    goto cleanup;
  }
  for (size_t i = 0; i < n; i++) {
    res[i].uuid = v[i].uuid;
    res[i].name = v[i].name;
    res[i].portgroup_count = (int)(v[i].n_pg >= v[i].n_uplink ? v[i].n_pg - v[i].n_uplink : 0);
  }
  *out = res;
  *n_out = n;
  rc = 0;
cleanup:
  vs_session_put(s);
  return rc;
}

static int vsphere_read_switch(dv_plane_t *p, const dv_switch_ref_t *ref, dv_arena_t *a,
                               dv_switch_cfg_t **out, dv_err_t *err) {
  vs_session_t *s = vs_session_get(p->client, err);
  if (s == NULL) return -1;
  vs_brief_t b;
  vs_live_t live;
  int rc = -1;
  if (resolve_switch(s, a, ref, &b, err) != 0 ||
      read_live(s, a, b.ref, what(a, "switch", b.name), &live, err) != 0)
    goto cleanup;
  *out = live.cfg;
  rc = 0;
cleanup:
  vs_session_put(s);
  return rc;
}

static const char *find_host(const names_ctx_t *hosts, const char *name, vs_moref_t *ref) {
  for (size_t i = 0; i < hosts->n; i++) {
    if (strcmp(hosts->v[i].name, name) == 0) {
      *ref = hosts->v[i].ref;
      return hosts->v[i].name;
    }
  }
  return NULL;
}

typedef struct dc_ctx {
  dv_arena_t *a;
  vs_moref_t *dcs, *net_folders;
  const char **names;
  size_t n, cap_d, cap_f, cap_n;
} dc_ctx_t;

static int on_datacenter(void *ctx, const xmlNode *objects, dv_err_t *err) {
  dc_ctx_t *x = ctx;
  if (grow(x->a, (void **)&x->dcs, x->n, &x->cap_d, sizeof *x->dcs) != 0 ||
      grow(x->a, (void **)&x->net_folders, x->n, &x->cap_f, sizeof *x->net_folders) != 0 ||
      grow(x->a, (void **)&x->names, x->n, &x->cap_n, sizeof *x->names) != 0 ||
      vs_moref_dup(x->a, vs_child(objects, "obj"), &x->dcs[x->n]) != 0)
    return DV_NOMEM(err);
  x->names[x->n] = "";
  x->net_folders[x->n] = (vs_moref_t){"", ""};
  const xmlNode *cur = NULL;
  vs_prop_t p;
  while (vs_prop_next(objects, &cur, &p)) {
    if (strcmp(p.name, "name") == 0 && (x->names[x->n] = vs_text_dup(x->a, p.val)) == NULL)
      return DV_NOMEM(err);
    if (strcmp(p.name, "networkFolder") == 0 &&
        vs_moref_dup(x->a, p.val, &x->net_folders[x->n]) != 0)
      return DV_NOMEM(err);
  }
  x->n++;
  return 0;
}

/* Pick the datacenter for a new switch: opts->datacenter (must exist), else
 * cfg->datacenter when it exists here, else the first one. */
static int pick_datacenter(vs_session_t *s, dv_arena_t *a, const char *wanted, const char *preferred,
                           vs_moref_t *net_folder, const char **dc_name, dv_err_t *err) {
  vs_moref_t root = {"Folder", vs_session_content(s)->root_folder};
  dc_ctx_t x = {.a = a};
  if (retrieve_in_view(s, a, root, "Datacenter",
                       "<pathSet>name</pathSet><pathSet>networkFolder</pathSet>", "the datacenters",
                       on_datacenter, &x, err) != 0)
    return -1;
  size_t pick = x.n;
  for (size_t i = 0; i < x.n && pick == x.n; i++)
    if (wanted != NULL && wanted[0] != '\0' ? strcmp(x.names[i], wanted) == 0
                                            : preferred != NULL && strcmp(x.names[i], preferred) == 0)
      pick = i;
  if (pick == x.n && wanted != NULL && wanted[0] != '\0')
    return dv_err_set(err, GRPC_STATUS_NOT_FOUND, "datacenter \"%s\" not found on plane \"%s\"",
                      wanted, vs_session_plane(s));
  if (pick == x.n) pick = 0;
  if (x.n == 0 || x.net_folders[pick].value[0] == '\0')
    return dv_err_set(err, GRPC_STATUS_FAILED_PRECONDITION,
                      "plane \"%s\" has no datacenter to hold a switch", vs_session_plane(s));
  *net_folder = x.net_folders[pick];
  *dc_name = x.names[pick];
  return 0;
}

static bool sorted_has(const char **sorted, size_t n, const char *name) {
  return n > 0 && bsearch(&name, sorted, n, sizeof *sorted, cmp_str) != NULL;
}

/* ALREADY_EXISTS when a switch named cfg->name exists on the plane, or a
 * network named like one of cfg's port groups exists in the datacenter;
 * INVALID_ARGUMENT when cfg names a port group twice. */
static int check_names_free(vs_session_t *s, dv_arena_t *a, const dv_switch_cfg_t *cfg,
                            vs_moref_t net_folder, const char *dc_name, dv_err_t *err) {
  const char *plane = vs_session_plane(s);
  vs_brief_t *sw;
  size_t n_sw;
  if (list_all(s, a, false, &sw, &n_sw, err) != 0) return -1;
  for (size_t i = 0; i < n_sw; i++)
    if (strcmp(sw[i].name, cfg->name) == 0)
      return dv_err_set(err, GRPC_STATUS_ALREADY_EXISTS,
                        "a switch named \"%s\" already exists on plane \"%s\"", cfg->name, plane);

  const char **mine = dv_arena_alloc(a, (cfg->n_portgroups + 1) * sizeof *mine);
  if (mine == NULL) return DV_NOMEM(err);
  for (size_t i = 0; i < cfg->n_portgroups; i++) mine[i] = cfg->portgroups[i]->name;
  qsort(mine, cfg->n_portgroups, sizeof *mine, cmp_str);
  for (size_t i = 1; i < cfg->n_portgroups; i++)
    if (strcmp(mine[i - 1], mine[i]) == 0)
      return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT,
                        "switch \"%s\" names port group \"%s\" twice", cfg->name, mine[i]);
  if (cfg->n_portgroups == 0) return 0;

  names_ctx_t nets;
  if (list_named(s, a, net_folder, "Network", &nets, err) != 0) return -1;
  for (size_t i = 0; i < nets.n; i++)
    if (sorted_has(mine, cfg->n_portgroups, nets.v[i].name))
      return dv_err_set(err, GRPC_STATUS_ALREADY_EXISTS,
                        "a network named \"%s\" already exists in datacenter \"%s\" of plane \"%s\"",
                        nets.v[i].name, dc_name, plane);
  return 0;
}

static int add_warning(dv_arena_t *a, dv_created_t *out, size_t *cap, const char *w) {
  return w != NULL ? dv_arena_push(a, (void ***)&out->warnings, &out->n_warnings, cap, (void *)w) : -1;
}

/* Fill out from the switch as created, against what cfg asked for. */
static int report_created(dv_arena_t *a, const dv_switch_cfg_t *cfg, const dv_create_opts_t *opts,
                          const vs_live_t *live, const char *plane, dv_created_t *out,
                          dv_err_t *err) {
  const dv_switch_cfg_t *got = live->cfg;
  memset(out, 0, sizeof *out);
  out->uuid = got->uuid;
  out->name = got->name;
  out->ids = dv_arena_alloc(a, (cfg->n_portgroups + 1) * sizeof *out->ids);
  if (out->ids == NULL) return DV_NOMEM(err);
  out->ids[out->n_ids++] = (dv_id_pair_t){"switch", got->name, cfg->uuid, got->uuid};
  size_t new_keys = 0, differ = 0, cap = 0;
  for (size_t i = 0; i < cfg->n_portgroups; i++) {
    const dv_pg_cfg_t *want = cfg->portgroups[i];
    const dv_pg_cfg_t *have = dv_config_find_pg_by_name(got, want->name);
    const char *key = have != NULL ? have->key : "";
    out->ids[out->n_ids++] = (dv_id_pair_t){"portgroup", want->name, want->key, key};
    new_keys += want->key[0] != '\0' && strcmp(want->key, key) != 0;
    differ += have == NULL || !dv_pg_equal(a, want, have, true, false);
  }
  if (opts->keep_identity && cfg->uuid[0] != '\0' && strcmp(cfg->uuid, got->uuid) != 0 &&
      add_warning(a, out, &cap,
                  dv_arena_printf(a,
                                  "switch \"%s\": vCenter chose its uuid (%s, was %s); a "
                                  "switch's uuid cannot be set on plane \"%s\"",
                                  got->name, got->uuid, cfg->uuid, plane)) != 0)
    return DV_NOMEM(err);
  if (opts->keep_identity && new_keys > 0 &&
      add_warning(a, out, &cap,
                  dv_arena_printf(a,
                                  "%zu of %zu port groups have new keys: vCenter chooses port "
                                  "group keys on create (see the identity map)",
                                  new_keys, cfg->n_portgroups)) != 0)
    return DV_NOMEM(err);
  if (!dv_switch_settings_equal(a, cfg, got) &&
      add_warning(a, out, &cap,
                  dv_arena_printf(a,
                                  "switch \"%s\": plane \"%s\" did not keep every switch setting "
                                  "as given; read the switch to see what it holds",
                                  got->name, plane)) != 0)
    return DV_NOMEM(err);
  if (differ > 0 &&
      add_warning(a, out, &cap,
                  dv_arena_printf(a,
                                  "%zu of %zu port groups do not read back as given on plane "
                                  "\"%s\"",
                                  differ, cfg->n_portgroups, plane)) != 0)
    return DV_NOMEM(err);
  if (opts->include_hosts && got->n_host_members != cfg->n_host_members &&
      add_warning(a, out, &cap,
                  dv_arena_printf(a, "switch \"%s\" has %zu host members, %zu were asked for",
                                  got->name, got->n_host_members, cfg->n_host_members)) != 0)
    return DV_NOMEM(err);
  return 0;
}

static int vsphere_create_switch(dv_plane_t *p, const dv_switch_cfg_t *cfg,
                                 const dv_create_opts_t *opts, dv_arena_t *a, dv_created_t *out,
                                 dv_err_t *err) {
  if (cfg == NULL || cfg->name == NULL || cfg->name[0] == '\0')
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "create_switch: the switch needs a name");
  vs_session_t *s = vs_session_get(p->client, err);
  if (s == NULL) return -1;
  const char *plane = vs_session_plane(s);
  const char *sw_what = what(a, "switch", cfg->name);
  vs_moref_t net_folder, sw = {NULL, NULL};
  const char *dc_name = "";
  vs_moref_t *host_refs = NULL;
  size_t n_hosts = opts->include_hosts ? cfg->n_host_members : 0;
  vs_buf_t b = {0};
  vs_live_t live;
  int rc = -1;

  if (pick_datacenter(s, a, opts->datacenter, cfg->datacenter, &net_folder, &dc_name, err) != 0 ||
      check_names_free(s, a, cfg, net_folder, dc_name, err) != 0)
    goto cleanup;
  if (n_hosts > 0) {
    names_ctx_t hosts;
    vs_moref_t root = {"Folder", vs_session_content(s)->root_folder};
    if (list_named(s, a, root, "HostSystem", &hosts, err) != 0) goto cleanup;
    if ((host_refs = dv_arena_alloc(a, n_hosts * sizeof *host_refs)) == NULL) {
      DV_NOMEM(err);
      goto cleanup;
    }
    for (size_t i = 0; i < n_hosts; i++) {
      if (find_host(&hosts, cfg->host_members[i], &host_refs[i]) == NULL) {
        dv_err_set(err, GRPC_STATUS_NOT_FOUND, "host \"%s\" not found on plane \"%s\"",
                   cfg->host_members[i], plane);
        goto cleanup;
      }
    }
  }

  vs_req_begin(&b, "CreateDVS_Task", net_folder);
  vs_buf_puts(&b, "<spec>");
  put_switch_head(&b, "configSpec", NULL, cfg->name, cfg);
  for (size_t i = 0; i < n_hosts; i++) put_host_op(&b, "add", host_refs[i]);
  put_switch_tail(&b, "configSpec", cfg);
  vs_buf_puts(&b, "</spec>");
  vs_req_end(&b, "CreateDVS_Task");
  if (vs_call_task(s, "CreateDVS_Task", sw_what, &b, a, &sw, err) != 0) goto cleanup;
  if (sw.value == NULL || sw.value[0] == '\0') {
    dv_err_set(err, GRPC_STATUS_UNKNOWN, "plane \"%s\": CreateDVS_Task on %s returned no switch",
               plane, sw_what);
    goto cleanup;
  }
  if (add_pgs(s, a, sw, sw_what, (const dv_pg_cfg_t *const *)cfg->portgroups, cfg->n_portgroups,
              err) != 0 ||
      read_live(s, a, sw, sw_what, &live, err) != 0 ||
      report_created(a, cfg, opts, &live, plane, out, err) != 0)
    goto cleanup;
  rc = 0;
cleanup:
  if (rc != 0 && err != NULL && sw.value != NULL && sw.value[0] != '\0') {
    dv_err_t e = DV_ERR_INIT;
    if (destroy_switch(s, a, sw, sw_what, &e) == 0) {
      dv_err_prefix(err, "creating %s failed and what it made is removed again", sw_what);
    } else {
      char first[DV_ERR_MSG_MAX];
      snprintf(first, sizeof first, "%s", err->msg);
      dv_err_clear(err);
      dv_err_set(err, GRPC_STATUS_DATA_LOSS,
                 "creating %s failed: %s; removing what was made failed too, so %s (%s) is left "
                 "on plane \"%s\": %s",
                 sw_what, first, sw_what, sw.value, plane, e.msg);
    }
  }
  vs_buf_free(&b);
  vs_session_put(s);
  return rc;
}

/* --- apply_plan ----------------------------------------------------------- */

static const char *const step_names[] = {
    [DV_STEP_CREATE_SWITCH] = "CREATE_SWITCH",
    [DV_STEP_RECONFIGURE_SWITCH] = "RECONFIGURE_SWITCH",
    [DV_STEP_ADD_HOST] = "ADD_HOST",
    [DV_STEP_REMOVE_HOST] = "REMOVE_HOST",
    [DV_STEP_ADD_PORTGROUP] = "ADD_PORTGROUP",
    [DV_STEP_RECONFIGURE_PORTGROUP] = "RECONFIGURE_PORTGROUP",
    [DV_STEP_REMOVE_PORTGROUP] = "REMOVE_PORTGROUP",
};

static const char *step_name(dv_step_kind_t k) {
  return k >= DV_STEP_CREATE_SWITCH && k <= DV_STEP_REMOVE_PORTGROUP ? step_names[k] : "UNKNOWN";
}

typedef struct apply {
  vs_session_t *s;
  dv_arena_t *a;
  const dv_plan_t *plan;
  vs_live_t live;
  const char *sw_what;
  names_ctx_t hosts; /* every host of the plane, loaded when a step needs one */
  bool hosts_loaded;
  char notes[256]; /* what an undo could not restore exactly */
} apply_t;

static int host_ref(apply_t *x, const char *name, vs_moref_t *ref, dv_err_t *err) {
  if (!x->hosts_loaded) {
    vs_moref_t root = {"Folder", vs_session_content(x->s)->root_folder};
    if (list_named(x->s, x->a, root, "HostSystem", &x->hosts, err) != 0) return -1;
    x->hosts_loaded = true;
  }
  if (find_host(&x->hosts, name != NULL ? name : "", ref) == NULL)
    return dv_err_set(err, GRPC_STATUS_NOT_FOUND, "host \"%s\" not found on plane \"%s\"",
                      name != NULL ? name : "", vs_session_plane(x->s));
  return 0;
}

static int switch_cv(apply_t *x, const char **cv, dv_err_t *err) {
  if (x->live.cv_stale &&
      fetch_config_version(x->s, x->a, x->live.ref, x->sw_what, &x->live.config_version, err) != 0)
    return -1;
  x->live.cv_stale = false;
  *cv = x->live.config_version;
  return 0;
}

/* ReconfigureDvs_Task: switch settings from cfg, or one host operation. */
static int reconfigure_switch(apply_t *x, const dv_switch_cfg_t *cfg, const char *host_op,
                              const char *host, dv_err_t *err) {
  const char *cv;
  vs_moref_t h = {NULL, NULL};
  if ((host_op != NULL && host_ref(x, host, &h, err) != 0) || switch_cv(x, &cv, err) != 0) return -1;
  vs_buf_t b = {0};
  vs_req_begin(&b, "ReconfigureDvs_Task", x->live.ref);
  put_switch_head(&b, "spec", cv, NULL, cfg);
  if (host_op != NULL) put_host_op(&b, host_op, h);
  put_switch_tail(&b, "spec", cfg);
  vs_req_end(&b, "ReconfigureDvs_Task");
  const char *w = host_op != NULL ? dv_arena_printf(x->a, "%s (%s host \"%s\")", x->sw_what,
                                                    host_op, host)
                                  : x->sw_what;
  int rc = vs_call_task(x->s, "ReconfigureDvs_Task", w != NULL ? w : x->sw_what, &b, x->a, NULL, err);
  x->live.cv_stale = true; /* even a failed task may have moved it */
  vs_buf_free(&b);
  return rc;
}

/* ReconfigureDVPortgroup_Task on the live port group key, to pg's settings. */
static int reconfigure_pg(apply_t *x, const char *key, const dv_pg_cfg_t *pg, dv_err_t *err) {
  vs_pg_t *lp = live_pg_by_key(&x->live, key);
  const char *w = what(x->a, "port group", pg->name);
  if (lp == NULL)
    return dv_err_set(err, GRPC_STATUS_NOT_FOUND, "port group key %s not found on %s", key,
                      x->sw_what);
  if (lp->cv_stale &&
      fetch_config_version(x->s, x->a, lp->ref, w, &lp->config_version, err) != 0)
    return -1;
  vs_buf_t b = {0};
  vs_req_begin(&b, "ReconfigureDVPortgroup_Task", lp->ref);
  put_pg_spec(&b, pg, lp->config_version);
  vs_req_end(&b, "ReconfigureDVPortgroup_Task");
  int rc = vs_call_task(x->s, "ReconfigureDVPortgroup_Task", w, &b, x->a, NULL, err);
  lp->cv_stale = true;
  vs_buf_free(&b);
  return rc;
}

static int remove_pg(apply_t *x, const dv_pg_cfg_t *pg, dv_err_t *err) {
  vs_pg_t *lp = live_pg_by_key(&x->live, pg->key);
  if (lp == NULL)
    return dv_err_set(err, GRPC_STATUS_NOT_FOUND, "port group key %s not found on %s", pg->key,
                      x->sw_what);
  return destroy(x->s, x->a, lp->ref, what(x->a, "port group", pg->name), err);
}

static int step_do(apply_t *x, const dv_step_t *st, dv_err_t *err) {
  switch (st->kind) {
    case DV_STEP_RECONFIGURE_SWITCH: return reconfigure_switch(x, x->plan->target, NULL, NULL, err);
    case DV_STEP_ADD_HOST: return reconfigure_switch(x, NULL, "add", st->host, err);
    case DV_STEP_REMOVE_HOST: return reconfigure_switch(x, NULL, "remove", st->host, err);
    case DV_STEP_ADD_PORTGROUP:
      return add_pgs(x->s, x->a, x->live.ref, x->sw_what, &st->new_pg, 1, err);
    case DV_STEP_RECONFIGURE_PORTGROUP: return reconfigure_pg(x, st->old_pg->key, st->new_pg, err);
    case DV_STEP_REMOVE_PORTGROUP: return remove_pg(x, st->old_pg, err);
    default:
      return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "step kind %d cannot be applied",
                        (int)st->kind);
  }
}

static void note(apply_t *x, const char *fmt, const char *a1, const char *a2) {
  size_t l = strlen(x->notes);
  snprintf(x->notes + l, sizeof x->notes - l, fmt, a1, a2);
}

static int step_undo(apply_t *x, const dv_step_t *st, dv_err_t *err) {
  switch (st->kind) {
    case DV_STEP_RECONFIGURE_SWITCH:
      return reconfigure_switch(x, x->plan->expected_live, NULL, NULL, err);
    case DV_STEP_ADD_HOST: return reconfigure_switch(x, NULL, "remove", st->host, err);
    case DV_STEP_REMOVE_HOST: return reconfigure_switch(x, NULL, "add", st->host, err);
    case DV_STEP_ADD_PORTGROUP: {
      pg_names_t names;
      if (read_pg_names(x->s, x->a, x->live.ref, x->sw_what, &names, err) != 0) return -1;
      for (size_t i = 0; i < names.n_named; i++)
        if (strcmp(names.named[i].name, st->new_pg->name) == 0)
          return destroy(x->s, x->a, names.named[i].ref, what(x->a, "port group", st->new_pg->name),
                         err);
      return 0; /* not there: nothing to undo */
    }
    case DV_STEP_RECONFIGURE_PORTGROUP: return reconfigure_pg(x, st->old_pg->key, st->old_pg, err);
    case DV_STEP_REMOVE_PORTGROUP: {
      if (add_pgs(x->s, x->a, x->live.ref, x->sw_what, &st->old_pg, 1, err) != 0)
        return -1;
      note(x, "; port group \"%s\" was re-created with a new key (was %s)", st->old_pg->name,
           st->old_pg->key);
      return 0;
    }
    default: return 0;
  }
}

/* Check every step before running any: INVALID_ARGUMENT names the step. */
static int check_plan(apply_t *x, dv_err_t *err) {
  const dv_plan_t *plan = x->plan;
  if (plan->target == NULL || plan->expected_live == NULL)
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "plan for %s lacks target or expected_live",
                      x->sw_what);
  for (size_t i = 0; i < plan->n_steps; i++) {
    const dv_step_t *st = &plan->steps[i];
    const char *why = NULL;
    switch (st->kind) {
      case DV_STEP_RECONFIGURE_SWITCH: break;
      case DV_STEP_ADD_HOST:
      case DV_STEP_REMOVE_HOST:
        if (st->host == NULL || st->host[0] == '\0') why = "no host";
        break;
      case DV_STEP_ADD_PORTGROUP:
        if (st->new_pg == NULL) why = "no port group";
        break;
      case DV_STEP_RECONFIGURE_PORTGROUP:
      case DV_STEP_REMOVE_PORTGROUP:
        if (st->old_pg == NULL || (st->kind == DV_STEP_RECONFIGURE_PORTGROUP && st->new_pg == NULL))
          why = "no port group";
        else if (live_pg_by_key(&x->live, st->old_pg->key) == NULL)
          why = "its port group key is not on the switch";
        break;
      default: why = "this kind cannot be applied to an existing switch";
    }
    if (why != NULL)
      return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "plan step %zu (%s \"%s\") for %s: %s",
                        i + 1, step_name(st->kind), st->object != NULL ? st->object : "",
                        x->sw_what, why);
  }
  return 0;
}

/* Append "label: 1 (KIND "obj"), 3 (...)" for the steps whose state is s. */
static void list_steps(char *buf, size_t cap, const char *label, const dv_plan_t *plan,
                       const char *state, char want) {
  size_t l = strlen(buf);
  bool any = false;
  for (size_t i = 0; i < plan->n_steps; i++) {
    if (state[i] != want) continue;
    const dv_step_t *st = &plan->steps[i];
    snprintf(buf + l, cap - l, "%s%zu (%s \"%s\")", any ? ", " : label, i + 1, step_name(st->kind),
             st->object != NULL ? st->object : "");
    l = strlen(buf);
    any = true;
  }
}

static int vsphere_apply_plan(dv_plane_t *p, const dv_switch_ref_t *ref, const dv_plan_t *plan,
                              dv_arena_t *a, dv_err_t *err) {
  vs_session_t *s = vs_session_get(p->client, err);
  if (s == NULL) return -1;
  apply_t x = {.s = s, .a = a, .plan = plan};
  vs_brief_t b;
  int rc = -1;
  char *state = NULL; /* per step: 'n' not run, 'a' applied, 'u' undone, 'f' failed, 'x' undo failed */

  if (resolve_switch(s, a, ref, &b, err) != 0) goto cleanup;
  x.sw_what = what(a, "switch", b.name);
  if (read_live(s, a, b.ref, x.sw_what, &x.live, err) != 0) goto cleanup;
  dv_switch_cfg_t *now = dv_msg_clone(a, &x.live.cfg->base);
  dv_switch_cfg_t *then = dv_msg_clone(a, &plan->expected_live->base);
  if (now == NULL || then == NULL || (state = dv_arena_alloc(a, plan->n_steps + 1)) == NULL) {
    DV_NOMEM(err);
    goto cleanup;
  }
  if (!dv_config_equal(a, now, then)) {
    dv_err_set(err, GRPC_STATUS_ABORTED,
               "%s changed since the plan was made; nothing applied (plan again)", x.sw_what);
    goto cleanup;
  }
  if (check_plan(&x, err) != 0) goto cleanup;
  memset(state, 'n', plan->n_steps);

  size_t i;
  dv_err_t step_err = DV_ERR_INIT;
  for (i = 0; i < plan->n_steps; i++) {
    if (step_do(&x, &plan->steps[i], &step_err) != 0) break;
    state[i] = 'a';
  }
  if (i == plan->n_steps) {
    rc = 0;
    goto cleanup;
  }
  state[i] = 'f';
  const dv_step_t *failed = &plan->steps[i];
  dv_err_t undo_err = DV_ERR_INIT;
  for (size_t j = i; j-- > 0;) {
    dv_err_t e = DV_ERR_INIT;
    if (step_undo(&x, &plan->steps[j], &e) == 0) {
      state[j] = 'u';
    } else {
      state[j] = 'x';
      if (undo_err.code == GRPC_STATUS_OK) undo_err = e;
    }
  }
  char head[DV_ERR_MSG_MAX];
  snprintf(head, sizeof head, "step %zu of %zu (%s \"%.64s\") on %.128s failed: %.700s", i + 1,
           plan->n_steps, step_name(failed->kind), failed->object != NULL ? failed->object : "",
           x.sw_what, step_err.msg);
  if (step_err.code == GRPC_STATUS_UNAVAILABLE) { /* we cannot know whether it ran */
    size_t l = strlen(x.notes);
    snprintf(x.notes + l, sizeof x.notes - l,
             "; step %zu may have run before the plane stopped answering", i + 1);
  }
  if (undo_err.code == GRPC_STATUS_OK) {
    if (i == 0)
      dv_err_set(err, GRPC_STATUS_ABORTED, "%s; nothing else was applied%s", head, x.notes);
    else if (i == 1)
      dv_err_set(err, GRPC_STATUS_ABORTED, "%s; step 1 was undone%s", head, x.notes);
    else
      dv_err_set(err, GRPC_STATUS_ABORTED, "%s; steps 1-%zu were undone%s", head, i, x.notes);
    goto cleanup;
  }
  char where[DV_ERR_MSG_MAX] = "";
  list_steps(where, sizeof where, "still applied: ", plan, state, 'x');
  list_steps(where, sizeof where, "; undone: ", plan, state, 'u');
  char rest[64];
  if (i + 1 == plan->n_steps)
    snprintf(rest, sizeof rest, "step %zu", i + 1);
  else
    snprintf(rest, sizeof rest, "steps %zu-%zu", i + 1, plan->n_steps);
  dv_err_set(err, GRPC_STATUS_DATA_LOSS, "%s; undoing failed too (%s); %s is now: %s; %s not applied%s",
             head, undo_err.msg, x.sw_what, where, rest, x.notes);
cleanup:
  vs_session_put(s);
  return rc;
}

static int vsphere_delete_switch(dv_plane_t *p, const dv_switch_ref_t *ref, dv_err_t *err) {
  dv_arena_t *a = dv_arena_new();
  if (a == NULL) return DV_NOMEM(err);
  vs_session_t *s = vs_session_get(p->client, err);
  vs_brief_t b;
  int rc = -1;
  if (s == NULL || resolve_switch(s, a, ref, &b, err) != 0 ||
      destroy_switch(s, a, b.ref, what(a, "switch", b.name), err) != 0)
    goto cleanup;
  rc = 0;
cleanup:
  vs_session_put(s);
  dv_arena_free(a);
  return rc;
}

const dv_adapter_ops_t dv_vsphere_adapter = {
    .api_version = DV_ADAPTER_API_VERSION,
    .kind = "vsphere",
    .keeps = DV_KEEP_SWITCH_NAME | DV_KEEP_PORTGROUP_NAME | DV_KEEP_HOSTS,
    .open = vsphere_open,
    .close = vsphere_close,
    .list_switches = vsphere_list_switches,
    .read_switch = vsphere_read_switch,
    .create_switch = vsphere_create_switch,
    .apply_plan = vsphere_apply_plan,
    .delete_switch = vsphere_delete_switch,
};

/* --- the response parser alone, for the fuzz target (vsphere_parse.h) ------ */

#include "vsphere_parse.h"

int dv_vsphere_parse_switch(const char *data, size_t len, size_t split, dv_arena_t *a,
                            dv_switch_cfg_t **out, dv_err_t *err) {
  xmlDoc *doc = NULL;
  xmlNode *resp;
  int rc = -1;
  vs_live_t live;
  memset(&live, 0, sizeof live);
  live.config_version = "";
  if ((live.cfg = MSG(a, dv_switch_cfg_t, dvsconf__v1__switch_config__descriptor)) == NULL)
    return DV_NOMEM(err);
  /* The objects go to on_live_object while the document is parsed, as in
   * read_switch's vs_retrieve. */
  live_ctx_t x = {a, &live, false};
  if (vs_parse_answer(data != NULL ? data : "", data != NULL ? len : 0, on_live_object,
                      &live_parts, split, &x, &doc, &resp, err) != 0)
    goto cleanup;
  if (vs_is(resp, "Fault")) {
    const char *f = vs_xsi_type(vs_first(vs_child(resp, "detail")));
    dv_err_set(err, f[0] ? vs_fault_code(f) : GRPC_STATUS_UNKNOWN, "SOAP fault %s", f);
    goto cleanup;
  }
  if (!vs_is(resp, "RetrievePropertiesExResponse")) {
    dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "not a RetrievePropertiesExResponse");
    goto cleanup;
  }
  if (live.ref.value == NULL) {
    dv_err_set(err, GRPC_STATUS_NOT_FOUND, "no switch object in the answer");
    goto cleanup;
  }
  /* as read_live does after vs_retrieve */
  dv_switch_cfg_t *cfg = live.cfg;
  size_t cap = 0;
  for (size_t i = 0; i < live.n_pgs; i++) {
    vs_pg_t *pg = live.pgs[i];
    for (size_t j = 0; j < live.n_uplink_refs && !pg->uplink; j++)
      pg->uplink = moref_eq(pg->ref, live.uplink_refs[j]);
    if (!pg->uplink &&
        dv_arena_push(a, (void ***)&cfg->portgroups, &cfg->n_portgroups, &cap, pg->cfg) != 0) {
      DV_NOMEM(err);
      goto cleanup;
    }
  }
  cap = 0;
  for (size_t i = 0; i < live.n_member_refs; i++)
    if (push_str(a, &cfg->host_members, &cfg->n_host_members, &cap, live.member_refs[i].value) != 0) {
      DV_NOMEM(err);
      goto cleanup;
    }
  *out = cfg;
  rc = 0;
cleanup:
  xmlFreeDoc(doc);
  return rc;
}
