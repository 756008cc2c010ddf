#include "validate.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "pbtext.h"
#include "strmap.h"

bool dv_utf8_valid(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s, *end = p + len;
  while (p < end) {
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

static int walk(const ProtobufCMessage *m, const char *prefix, int depth, dv_err_t *err) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  if (depth > 16) return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "%s: nested too deep", prefix);
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE) continue;
    size_t n = dv_pb_count(m, f);
    for (size_t k = 0; k < n; k++) {
      const void *v = dv_pb_value(m, f, k);
      char path[256];
      if (f->label == PROTOBUF_C_LABEL_REPEATED)
        snprintf(path, sizeof path, "%s%s%s[%zu]", prefix, prefix[0] ? "." : "", f->name, k);
      else
        snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", f->name);
      if (f->type == PROTOBUF_C_TYPE_STRING) {
        const char *s = *(char *const *)v;
        size_t len = s ? strlen(s) : 0;
        if (len > DV_MAX_TEXT_LEN)
          return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "%s: longer than %d bytes", path,
                            DV_MAX_TEXT_LEN);
        if (!dv_utf8_valid(s, len))
          return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "%s: not valid UTF-8", path);
      } else {
        const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)v;
        if (sub != NULL && walk(sub, path, depth + 1, err) != 0) return -1;
      }
    }
  }
  return 0;
}

int dv_validate_strings(const ProtobufCMessage *m, dv_err_t *err) {
  return walk(m, "", 0, err);
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

static int check_range(const char *path, const char *field, int64_t v, int64_t lo, int64_t hi,
                       dv_err_t *err) {
  if (v < lo || v > hi)
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "%s.%s: %lld is outside %lld..%lld",
                      path, field, (long long)v, (long long)lo, (long long)hi);
  return 0;
}

static int check_port_settings(const char *path, const dv_port_settings_t *ps, dv_err_t *err) {
  if (ps == NULL) return 0;
  char p[512];
  if (ps->vlan != NULL) {
    const Dvsconf__V1__VlanSpec *v = ps->vlan;
    snprintf(p, sizeof p, "%s.vlan", path);
    if (protobuf_c_enum_descriptor_get_value(&dvsconf__v1__vlan_kind__descriptor, v->kind) == NULL)
      return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "%s.kind: unknown value %d", p, v->kind);
    if (check_range(p, "vlan_id", v->vlan_id, 0, 4094, err) != 0 ||
        check_range(p, "pvlan_id", v->pvlan_id, 0, 4094, err) != 0)
      return -1;
    for (size_t i = 0; i < v->n_trunk_ranges; i++) {
      const Dvsconf__V1__NumericRange *r = v->trunk_ranges[i];
      char f[64];
      snprintf(f, sizeof f, "trunk_ranges[%zu].start", i);
      if (check_range(p, f, r->start, 0, 4094, err) != 0) return -1;
      snprintf(f, sizeof f, "trunk_ranges[%zu].end", i);
      if (check_range(p, f, r->end, r->start, 4094, err) != 0) return -1;
    }
  }
  const Dvsconf__V1__ShapingPolicy *sh[2] = {ps->in_shaping, ps->out_shaping};
  const char *names[2] = {"in_shaping", "out_shaping"};
  for (int i = 0; i < 2; i++) {
    if (sh[i] == NULL) continue;
    snprintf(p, sizeof p, "%s.%s", path, names[i]);
    if (check_range(p, "average_bandwidth", sh[i]->average_bandwidth, 0, INT64_MAX, err) != 0 ||
        check_range(p, "peak_bandwidth", sh[i]->peak_bandwidth, 0, INT64_MAX, err) != 0 ||
        check_range(p, "burst_size", sh[i]->burst_size, 0, INT64_MAX, err) != 0)
      return -1;
  }
  return 0;
}

int dv_validate_config(const dv_switch_cfg_t *cfg, dv_err_t *err) {
  if (dv_validate_name("config.name", cfg->name, true, err) != 0 ||
      dv_validate_name("config.uuid", cfg->uuid, true, err) != 0 ||
      dv_validate_name("config.datacenter", cfg->datacenter, false, err) != 0)
    return -1;
  if (cfg->max_mtu != 0 && check_range("config", "max_mtu", cfg->max_mtu, 1280, 9000, err) != 0)
    return -1;
  if (check_range("config", "num_standalone_ports", cfg->num_standalone_ports, 0, 1 << 20, err) != 0)
    return -1;
  if (check_port_settings("config.default_port_config", cfg->default_port_config, err) != 0)
    return -1;
  for (size_t i = 0; i < cfg->n_host_members; i++) {
    char f[64];
    snprintf(f, sizeof f, "config.host_members[%zu]", i);
    if (dv_validate_name(f, cfg->host_members[i], true, err) != 0) return -1;
  }
  int rc = -1;
  dv_arena_t *a = dv_arena_new();
  dv_strmap_t *names = a ? dv_strmap_new(a, cfg->n_portgroups) : NULL;
  dv_strmap_t *keys = a ? dv_strmap_new(a, cfg->n_portgroups) : NULL;
  if (names == NULL || keys == NULL) {
    dv_arena_free(a);
    return DV_NOMEM(err);
  }
  for (size_t i = 0; i < cfg->n_portgroups; i++) {
    const dv_pg_cfg_t *pg = cfg->portgroups[i];
    char f[64], p[256];
    snprintf(f, sizeof f, "config.portgroups[%zu].name", i);
    snprintf(p, sizeof p, "config.portgroups[\"%.128s\"]", pg->name);
    char ps[300];
    snprintf(ps, sizeof ps, "%s.default_port_config", p);
    if (dv_validate_name(f, pg->name, true, err) != 0 ||
        dv_validate_name("config.portgroups[].key", pg->key, false, err) != 0 ||
        check_range(p, "num_ports", pg->num_ports, 0, 1 << 20, err) != 0 ||
        check_port_settings(ps, pg->default_port_config, err) != 0)
      goto cleanup;
    if (dv_strmap_get(names, pg->name) != NULL) {
      rc = dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT,
                      "config.portgroups: name \"%.128s\" appears twice", pg->name);
      goto cleanup;
    }
    if (pg->key[0] && dv_strmap_get(keys, pg->key) != NULL) {
      rc = dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT,
                      "config.portgroups: key \"%.128s\" appears twice", pg->key);
      goto cleanup;
    }
    if (dv_strmap_put(names, pg->name, (void *)pg) != 0 ||
        (pg->key[0] && dv_strmap_put(keys, pg->key, (void *)pg) != 0)) {
      rc = DV_NOMEM(err);
      goto cleanup;
    }
  }
  rc = 0;
cleanup:
  dv_arena_free(a);
  return rc;
}
