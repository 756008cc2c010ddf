#include "validate.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "pbtext.h"
#include "strmap.h"

bool dv_utf8_valid(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s, *end = p + len;
  while (p < end) {
    if (*p < 0x80) { /* ASCII runs, the common case */
      p++;
      continue;
    }
    unsigned c = *p;
    size_t n;
    unsigned min;
    if (c < 0x80) {
      p++;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 1, min = 0x80, c &= 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2, min = 0x800, c &= 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3, min = 0x10000, c &= 0x07;
    } else {
      return false;
    }
    if ((size_t)(end - p) <= n) return false;
    for (size_t i = 1; i <= n; i++) {
      if ((p[i] & 0xc0) != 0x80) return false;
      c = (c << 6) | (p[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return false;
    p += n + 1;
  }
  return true;
}

/* The path to a field, for messages: written only when something is wrong
 * (formatting a path for every string of a 5,000-port-group document
 * costs more than checking them). */
typedef struct path {
  const struct path *up;
  const ProtobufCFieldDescriptor *f;
  size_t index; /* for repeated fields */
} path_t;

static size_t format_path(char *buf, size_t size, const path_t *p) {
  if (p == NULL) return 0;
  size_t n = format_path(buf, size, p->up);
  if (n >= size) return n;
  int w = p->f->label == PROTOBUF_C_LABEL_REPEATED
              ? snprintf(buf + n, size - n, "%s%s[%zu]", n ? "." : "", p->f->name, p->index)
              : snprintf(buf + n, size - n, "%s%s", n ? "." : "", p->f->name);
  return n + (w > 0 ? (size_t)w : 0);
}

static int bad_string(const path_t *p, const char *what, dv_err_t *err) {
  char buf[256];
  format_path(buf, sizeof buf, p);
  return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "%s: %s", buf, what);
}

static int walk(const ProtobufCMessage *m, const path_t *up, int depth, dv_err_t *err) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  if (depth > 16) return bad_string(up, "nested too deep", err);
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE) continue;
    size_t n = dv_pb_count(m, f);
    for (size_t k = 0; k < n; k++) {
      const void *v = dv_pb_value(m, f, k);
      path_t here = {up, f, k};
      if (f->type == PROTOBUF_C_TYPE_STRING) {
        const char *s = *(char *const *)v;
        size_t len = s ? strlen(s) : 0;
        if (len > DV_MAX_TEXT_LEN) {
          char what[64];
          snprintf(what, sizeof what, "longer than %d bytes", DV_MAX_TEXT_LEN);
          return bad_string(&here, what, err);
        }
        if (!dv_utf8_valid(s, len)) return bad_string(&here, "not valid UTF-8", err);
      } else {
        const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)v;
        if (sub != NULL && walk(sub, &here, depth + 1, err) != 0) return -1;
      }
    }
  }
  return 0;
}

int dv_validate_strings(const ProtobufCMessage *m, dv_err_t *err) {
  return walk(m, NULL, 0, err);
}

int dv_validate_name(const char *field, const char *value, bool required, dv_err_t *err) {
  size_t n = value ? strlen(value) : 0;
  if (n == 0) return required ? dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "%s: required", field) : 0;
  if (n > DV_MAX_NAME_LEN)
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "%s: longer than %d bytes", field,
                      DV_MAX_NAME_LEN);
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f)
      return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "%s: contains a control character",
                        field);
  return 0;
}

/* Paths are formatted only when something is wrong: a 5,000-port-group
 * document is checked without printing 5,000 paths. `pg` names the port
 * group the value belongs to (NULL: the switch); `idx` >= 0 is the index
 * of the list element `where` ends in. */
static int out_of_range(const dv_pg_cfg_t *pg, const char *where, long idx, const char *field,
                        int64_t v, int64_t lo, int64_t hi, dv_err_t *err) {
  char prefix[400], index[32] = "";
  if (idx >= 0) snprintf(index, sizeof index, "[%ld]", idx);
  if (pg != NULL)
    snprintf(prefix, sizeof prefix, "config.portgroups[\"%.128s\"]%s%s%s", pg->name,
             where[0] ? "." : "", where, index);
  else
    snprintf(prefix, sizeof prefix, "config%s%s%s", where[0] ? "." : "", where, index);
  return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "%s.%s: %lld is outside %lld..%lld",
                    prefix, field, (long long)v, (long long)lo, (long long)hi);
}

#define CHECK(pg, where, idx, field, v, lo, hi)                                           \
  do {                                                                                    \
    if ((int64_t)(v) < (int64_t)(lo) || (int64_t)(v) > (int64_t)(hi))                     \
      return out_of_range((pg), (where), (idx), (field), (int64_t)(v), (lo), (hi), err);  \
  } while (0)

static int check_port_settings(const dv_pg_cfg_t *pg, const dv_port_settings_t *ps,
                               dv_err_t *err) {
  if (ps == NULL) return 0;
  if (ps->vlan != NULL) {
    const Dvsconf__V1__VlanSpec *v = ps->vlan;
    int kind = (int)v->kind; /* the wire may carry any int32, negative too */
    if (protobuf_c_enum_descriptor_get_value(&dvsconf__v1__vlan_kind__descriptor, kind) == NULL)
      return out_of_range(pg, "default_port_config.vlan", -1, "kind", kind, 0, 3, err);
    CHECK(pg, "default_port_config.vlan", -1, "vlan_id", v->vlan_id, 0, 4094);
    CHECK(pg, "default_port_config.vlan", -1, "pvlan_id", v->pvlan_id, 0, 4094);
    for (size_t i = 0; i < v->n_trunk_ranges; i++) {
      const Dvsconf__V1__NumericRange *r = v->trunk_ranges[i];
      CHECK(pg, "default_port_config.vlan.trunk_ranges", (long)i, "start", r->start, 0, 4094);
      CHECK(pg, "default_port_config.vlan.trunk_ranges", (long)i, "end", r->end, r->start, 4094);
    }
  }
  const Dvsconf__V1__ShapingPolicy *sh[2] = {ps->in_shaping, ps->out_shaping};
  const char *names[2] = {"default_port_config.in_shaping", "default_port_config.out_shaping"};
  for (int i = 0; i < 2; i++) {
    if (sh[i] == NULL) continue;
    CHECK(pg, names[i], -1, "average_bandwidth", sh[i]->average_bandwidth, 0, INT64_MAX);
    CHECK(pg, names[i], -1, "peak_bandwidth", sh[i]->peak_bandwidth, 0, INT64_MAX);
    CHECK(pg, names[i], -1, "burst_size", sh[i]->burst_size, 0, INT64_MAX);
  }
  return 0;
}

/* A name-like value: "" when fine, else what is wrong with it. */
static const char *name_problem(const char *value, bool required) {
  size_t n = value ? strlen(value) : 0;
  if (n == 0) return required ? "required" : "";
  if (n > DV_MAX_NAME_LEN) return "longer than 1024 bytes";
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f) return "contains a control character";
  return "";
}

/* Unknown fields anywhere in a document are refused: what is stored must be
 * what this version of the API understands (and protobuf-c keeps some it
 * cannot encode again). */
static int no_unknown_fields(const ProtobufCMessage *m, const path_t *up, dv_err_t *err) {
  if (m->n_unknown_fields > 0) {
    char what[64];
    snprintf(what, sizeof what, "unknown field %u", (unsigned)m->unknown_fields[0].tag);
    return bad_string(up, what, err);
  }
  const ProtobufCMessageDescriptor *d = m->descriptor;
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (f->type != PROTOBUF_C_TYPE_MESSAGE) continue;
    size_t n = dv_pb_count(m, f);
    for (size_t k = 0; k < n; k++) {
      const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)dv_pb_value(m, f, k);
      path_t here = {up, f, k};
      if (sub != NULL && no_unknown_fields(sub, &here, err) != 0) return -1;
    }
  }
  return 0;
}

static const ProtobufCFieldDescriptor config_field = {.name = "config"};

int dv_validate_settings(const dv_switch_cfg_t *cfg, dv_err_t *err) {
  path_t root = {NULL, &config_field, 0};
  if (no_unknown_fields(&cfg->base, &root, err) != 0) return -1;
  if (dv_validate_name("config.name", cfg->name, true, err) != 0 ||
      dv_validate_name("config.uuid", cfg->uuid, true, err) != 0 ||
      dv_validate_name("config.datacenter", cfg->datacenter, false, err) != 0)
    return -1;
  if (cfg->max_mtu != 0) CHECK(NULL, "", -1, "max_mtu", cfg->max_mtu, 1280, 9000);
  CHECK(NULL, "", -1, "num_standalone_ports", cfg->num_standalone_ports, 0, 1 << 20);
  if (check_port_settings(NULL, cfg->default_port_config, err) != 0) return -1;
  for (size_t i = 0; i < cfg->n_host_members; i++) {
    const char *why = name_problem(cfg->host_members[i], true);
    if (why[0])
      return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "config.host_members[%zu]: %s", i, why);
  }
  return 0;
}

/* config.portgroups[index], as a path */
static const ProtobufCFieldDescriptor *portgroups_field(void) {
  return protobuf_c_message_descriptor_get_field_by_name(&dvsconf__v1__switch_config__descriptor,
                                                         "portgroups");
}

int dv_validate_portgroup(const dv_pg_cfg_t *pg, size_t index, dv_err_t *err) {
  path_t root = {NULL, &config_field, 0};
  path_t here = {&root, portgroups_field(), index};
  if (no_unknown_fields(&pg->base, &here, err) != 0) return -1;
  const char *why = name_problem(pg->name, true);
  if (!why[0]) why = name_problem(pg->key, false);
  if (why[0])
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "config.portgroups[%zu].%s: %s", index,
                      name_problem(pg->name, true)[0] ? "name" : "key", why);
  if (pg->num_ports < 0 || pg->num_ports > (1 << 20))
    return out_of_range(pg, "", -1, "num_ports", pg->num_ports, 0, 1 << 20, err);
  return check_port_settings(pg, pg->default_port_config, err);
}

int dv_validate_settings_strings(const dv_switch_cfg_t *cfg, dv_err_t *err) {
  path_t root = {NULL, &config_field, 0};
  return walk(&cfg->base, &root, 1, err);
}

int dv_validate_portgroup_strings(const dv_pg_cfg_t *pg, size_t index, dv_err_t *err) {
  path_t root = {NULL, &config_field, 0};
  path_t here = {&root, portgroups_field(), index};
  return walk(&pg->base, &here, 2, err);
}

int dv_validate_config(const dv_switch_cfg_t *cfg, dv_err_t *err) {
  dv_switch_cfg_t settings = *cfg;
  settings.n_portgroups = 0;
  if (dv_validate_settings(&settings, err) != 0) return -1;
  int rc = -1;
  dv_arena_t *a = dv_arena_new();
  dv_strmap_t *names = a ? dv_strmap_new(a, cfg->n_portgroups) : NULL;
  if (names == NULL) {
    dv_arena_free(a);
    return DV_NOMEM(err);
  }
  for (size_t i = 0; i < cfg->n_portgroups; i++) {
    const dv_pg_cfg_t *pg = cfg->portgroups[i];
    if (dv_validate_portgroup(pg, i, err) != 0) goto cleanup;
    if (dv_strmap_get(names, pg->name) != NULL) {
      rc = dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT,
                      "config.portgroups: name \"%.128s\" appears twice", pg->name);
      goto cleanup;
    }
    if (dv_strmap_put(names, pg->name, (void *)pg) != 0) {
      rc = DV_NOMEM(err);
      goto cleanup;
    }
  }
  rc = dv_config_check_identities(cfg, err);
cleanup:
  dv_arena_free(a);
  return rc;
}
