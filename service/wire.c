#include "wire.h"

#include <stdbool.h>
#include <string.h>

/* One varint at *p (< end); 0 on success. */
static int varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64 && *p < end; shift += 7) {
    uint8_t b = *(*p)++;
    r |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = r;
      return 0;
    }
  }
  return -1;
}

/* Next field at *p: its number and wire type, and for length-delimited
 * fields the payload. *p moves past the field. 0, or -1 when malformed. */
static int next_field(const uint8_t **p, const uint8_t *end, unsigned *field, unsigned *type,
                      const uint8_t **data, size_t *len) {
  uint64_t tag, v;
  if (varint(p, end, &tag) != 0 || tag >> 3 == 0 || tag >> 3 > 0x1fffffff) return -1;
  *field = (unsigned)(tag >> 3);
  *type = (unsigned)(tag & 7);
  *data = NULL;
  *len = 0;
  switch (*type) {
    case 0:
      return varint(p, end, &v);
    case 1:
      if (end - *p < 8) return -1;
      *p += 8;
      return 0;
    case 5:
      if (end - *p < 4) return -1;
      *p += 4;
      return 0;
    case 2:
      if (varint(p, end, &v) != 0 || v > (uint64_t)(end - *p)) return -1;
      *data = *p;
      *len = (size_t)v;
      *p += v;
      return 0;
    default:
      return -1;
  }
}

int dv_wire_field(const uint8_t *buf, size_t len, unsigned want, const uint8_t **out,
                  size_t *out_len, dv_err_t *err) {
  const uint8_t *p = buf, *end = buf + len;
  while (p < end) {
    unsigned field, type;
    const uint8_t *data;
    size_t n;
    if (next_field(&p, end, &field, &type, &data, &n) != 0) break;
    if (field == want && type == 2) {
      *out = data;
      *out_len = n;
      return 0;
    }
  }
  return dv_err_set(err, GRPC_STATUS_DATA_LOSS, "stored message lacks field %u", want);
}

/* The identity of a packed PortgroupConfig: field 1 (key), else field 2.
 * A canonical encoding has its fields in number order, so the scan stops
 * after field 2; any other order is read to the end. */
static const char *identity(dv_arena_t *a, const uint8_t *buf, size_t len) {
  const uint8_t *p = buf, *end = buf + len, *key = NULL, *name = NULL;
  size_t key_len = 0, name_len = 0;
  unsigned last = 0;
  bool ordered = true;
  while (p < end) {
    unsigned field, type;
    const uint8_t *data;
    size_t n;
    if (next_field(&p, end, &field, &type, &data, &n) != 0) return NULL;
    ordered = ordered && field >= last;
    last = field;
    if (ordered && field > 2) break;
    if (type != 2) continue;
    if (field == 1) key = data, key_len = n;
    if (field == 2) name = data, name_len = n;
  }
  if (key != NULL && key_len > 0) return dv_arena_strndup(a, (const char *)key, key_len);
  return dv_arena_strndup(a, name ? (const char *)name : "", name_len);
}

int dv_wire_split_config(dv_arena_t *a, const uint8_t *buf, size_t len, dv_wire_cfg_t *out,
                         dv_err_t *err) {
  const uint8_t *p = buf, *end = buf + len;
  size_t n_pgs = 0, settings_len = 0;
  /* first pass: count port groups and the bytes of everything else */
  while (p < end) {
    const uint8_t *start = p, *data;
    unsigned field, type;
    size_t n;
    if (next_field(&p, end, &field, &type, &data, &n) != 0)
      return dv_err_set(err, GRPC_STATUS_DATA_LOSS, "a stored configuration is malformed");
    if (field == 12 && type == 2)
      n_pgs++;
    else
      settings_len += (size_t)(p - start);
  }
  memset(out, 0, sizeof *out);
  out->pgs = dv_arena_alloc_raw(a, (n_pgs + 1) * sizeof *out->pgs);
  out->settings = dv_arena_alloc_raw(a, settings_len + 1);
  if (out->pgs == NULL || out->settings == NULL) return DV_NOMEM(err);
  p = buf;
  while (p < end) {
    const uint8_t *start = p, *data;
    unsigned field, type;
    size_t n;
    next_field(&p, end, &field, &type, &data, &n); /* checked above */
    if (field == 12 && type == 2) {
      dv_wire_pg_t *pg = &out->pgs[out->n_pgs++];
      pg->data = data;
      pg->len = n;
      pg->identity = identity(a, data, n);
      if (pg->identity == NULL)
        return dv_err_set(err, GRPC_STATUS_DATA_LOSS, "a stored port group is malformed");
    } else {
      memcpy(out->settings + out->settings_len, start, (size_t)(p - start));
      out->settings_len += (size_t)(p - start);
    }
  }
  return 0;
}

static size_t varint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

size_t dv_wire_ld_size(unsigned field, size_t len) {
  return varint_size((uint64_t)field << 3 | 2) + varint_size(len) + len;
}

static void put_varint(uint8_t *buf, size_t *at, uint64_t v) {
  while (v >= 0x80) {
    buf[(*at)++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  buf[(*at)++] = (uint8_t)v;
}

void dv_wire_put_ld(uint8_t *buf, size_t *at, unsigned field, const void *data, size_t len) {
  put_varint(buf, at, (uint64_t)field << 3 | 2);
  put_varint(buf, at, len);
  if (len) memcpy(buf + *at, data, len);
  *at += len;
}
