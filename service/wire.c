#include "wire.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bigmem.h"

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

int dv_wire_next(const uint8_t **p, const uint8_t *end, unsigned *field, unsigned *type,
                 const uint8_t **data, size_t *len) {
  return next_field(p, end, field, type, data, len);
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

/* The key (field 1) and name (field 2) of a packed PortgroupConfig. A
 * canonical encoding has its fields in number order, so the scan stops
 * after field 2; any other order is read to the end. 0, or -1 when
 * malformed. */
static int key_and_name(dv_wire_pg_t *pg) {
  const uint8_t *p = pg->data, *end = pg->data + pg->len;
  unsigned last = 0;
  bool ordered = true;
  pg->key = pg->name = (const uint8_t *)"";
  pg->key_len = pg->name_len = 0;
  while (p < end) {
    unsigned field, type;
    const uint8_t *data;
    size_t n;
    if (next_field(&p, end, &field, &type, &data, &n) != 0) return -1;
    ordered = ordered && field >= last;
    last = field;
    if (ordered && field > 2) break;
    if (type != 2) continue;
    if (field == 1) pg->key = data, pg->key_len = n;
    if (field == 2) pg->name = data, pg->name_len = n;
  }
  return 0;
}

int dv_wire_pg_read(dv_wire_pg_t *pg) {
  return key_and_name(pg);
}

char *dv_wire_pg_identity(dv_arena_t *a, const dv_wire_pg_t *pg) {
  return pg->key_len > 0 ? dv_arena_strndup(a, (const char *)pg->key, pg->key_len)
                         : dv_arena_strndup(a, (const char *)pg->name, pg->name_len);
}

size_t dv_wire_offset_after(const uint8_t *buf, size_t len, unsigned field) {
  const uint8_t *p = buf, *end = buf + len;
  while (p < end) {
    const uint8_t *start = p, *data;
    unsigned f, type;
    size_t n;
    if (next_field(&p, end, &f, &type, &data, &n) != 0 || f > field) return (size_t)(start - buf);
  }
  return len;
}

size_t dv_wire_common_prefix(const uint8_t *x, const uint8_t *y, size_t n) {
  size_t i = 0;
  while (n - i >= 4096 && memcmp(x + i, y + i, 4096) == 0) i += 4096;
  while (i < n && x[i] == y[i]) i++;
  return i;
}

size_t dv_wire_common_suffix(const uint8_t *x, size_t nx, const uint8_t *y, size_t ny, size_t max) {
  size_t i = 0;
  while (max - i >= 4096 && memcmp(x + nx - i - 4096, y + ny - i - 4096, 4096) == 0) i += 4096;
  while (i < max && x[nx - i - 1] == y[ny - i - 1]) i++;
  return i;
}

static int bytes_cmp(const uint8_t *a, size_t na, const uint8_t *b, size_t nb) {
  int c = memcmp(a, b, na < nb ? na : nb);
  return c != 0 ? c : (na > nb) - (na < nb);
}

int dv_wire_pg_cmp(const dv_wire_pg_t *x, const dv_wire_pg_t *y) {
  int c = bytes_cmp(x->key, x->key_len, y->key, y->key_len);
  return c != 0 ? c : bytes_cmp(x->name, x->name_len, y->name, y->name_len);
}

typedef enum { SETTINGS_ONLY, PORT_GROUPS, IDENTITIES } split_depth_t;

static int split(dv_arena_t *a, const uint8_t *buf, size_t len, split_depth_t depth,
                 dv_wire_cfg_t *out, dv_err_t *err);

int dv_wire_split_config(dv_arena_t *a, const uint8_t *buf, size_t len, dv_wire_cfg_t *out,
                         dv_err_t *err) {
  return split(a, buf, len, IDENTITIES, out, err);
}

int dv_wire_split_config_lite(dv_arena_t *a, const uint8_t *buf, size_t len, dv_wire_cfg_t *out,
                              dv_err_t *err) {
  return split(a, buf, len, PORT_GROUPS, out, err);
}

int dv_wire_split_settings(dv_arena_t *a, const uint8_t *buf, size_t len, dv_wire_cfg_t *out,
                           dv_err_t *err) {
  return split(a, buf, len, SETTINGS_ONLY, out, err);
}

static int split(dv_arena_t *a, const uint8_t *buf, size_t len, split_depth_t depth,
                 dv_wire_cfg_t *out, dv_err_t *err) {
  const uint8_t *p = buf, *end = buf + len, *run = NULL, *run_end = NULL;
  size_t n_pgs = 0, settings_len = 0;
  bool after_run = false, one_run = true;
  /* first pass: count port groups and the bytes of everything else, and
   * see whether the port groups are one run (as in a canonical encoding) */
  while (p < end) {
    const uint8_t *start = p, *data;
    unsigned field, type;
    size_t n;
    if (next_field(&p, end, &field, &type, &data, &n) != 0)
      return dv_err_set(err, GRPC_STATUS_DATA_LOSS, "a stored configuration is malformed");
    if (field != DV_WIRE_PORTGROUPS_FIELD || type != 2) {
      settings_len += (size_t)(p - start);
      after_run = run != NULL;
      continue;
    }
    one_run = one_run && !after_run;
    if (run == NULL) run = start;
    run_end = p;
    n_pgs++;
  }
  memset(out, 0, sizeof *out);
  out->settings = dv_arena_alloc_raw(a, settings_len + 1);
  if (out->settings == NULL) return DV_NOMEM(err);
  if (depth == SETTINGS_ONLY && one_run) { /* what comes before and after the run */
    if (run == NULL) run = run_end = end;
    memcpy(out->settings, buf, (size_t)(run - buf));
    memcpy(out->settings + (run - buf), run_end, (size_t)(end - run_end));
    out->settings_len = settings_len;
    out->n_pgs = n_pgs;
    return 0;
  }
  if (depth == SETTINGS_ONLY) {
    out->n_pgs = n_pgs;
  } else {
    out->pgs = dv_arena_alloc_raw(a, (n_pgs + 1) * sizeof *out->pgs);
    if (out->pgs == NULL) return DV_NOMEM(err);
    out->buf = buf;
    out->buf_len = len;
  }
  p = buf;
  while (p < end) {
    const uint8_t *start = p, *data;
    unsigned field = 0, type = 0;
    size_t n;
    next_field(&p, end, &field, &type, &data, &n); /* checked above */
    if (field == DV_WIRE_PORTGROUPS_FIELD && type == 2) {
      if (depth == SETTINGS_ONLY) continue;
      dv_wire_pg_t *pg = &out->pgs[out->n_pgs++];
      pg->data = data;
      pg->len = n;
      pg->identity = NULL;
      pg->equals = NULL;
      if (key_and_name(pg) != 0)
        return dv_err_set(err, GRPC_STATUS_DATA_LOSS, "a stored port group is malformed");
      if (depth == IDENTITIES && (pg->identity = dv_wire_pg_identity(a, pg)) == NULL)
        return DV_NOMEM(err);
    } else {
      memcpy(out->settings + out->settings_len, start, (size_t)(p - start));
      out->settings_len += (size_t)(p - start);
    }
  }
  return 0;
}

/* p, a pointer into pg's bytes (or to a constant "" when the field is
 * absent), at the same place in `data`, a copy of them. */
static const uint8_t *moved(const uint8_t *p, const dv_wire_pg_t *pg, const uint8_t *data) {
  return p >= pg->data && p < pg->data + pg->len ? data + (p - pg->data) : p;
}

void dv_wire_pg_move(dv_wire_pg_t *pg, const uint8_t *data) {
  pg->key = moved(pg->key, pg, data);
  pg->name = moved(pg->name, pg, data);
  pg->data = data;
}

/* base's port group z, moved onto the run's bytes and paired with itself */
static dv_wire_pg_t run_kept(const dv_wire_run_t *r, size_t z) {
  const dv_wire_cfg_t *b = r->base;
  dv_wire_pg_t pg = b->pgs[z];
  ptrdiff_t shift = z < r->from ? 0 : (ptrdiff_t)r->buf_len - (ptrdiff_t)b->buf_len;
  pg.equals = pg.data;
  dv_wire_pg_move(&pg, r->buf + (pg.data - b->buf) + shift);
  return pg;
}

size_t dv_wire_run_replaced(const dv_wire_run_t *r, size_t x, bool *same) {
  const dv_wire_pg_t *m = &r->mid[x], *pgs = r->base->pgs;
  size_t y = r->from;
  while (y < r->to && strcmp(pgs[y].identity, m->identity) != 0) y++;
  *same = y < r->to && pgs[y].len == m->len && memcmp(pgs[y].data, m->data, m->len) == 0;
  return y;
}

int dv_wire_run_split(dv_arena_t *a, const dv_wire_run_t *r, dv_wire_cfg_t *out, size_t *match) {
  const dv_wire_cfg_t *b = r->base;
  size_t count = dv_wire_run_count(r), to = 0;
  dv_wire_pg_t *pgs = dv_arena_alloc_raw(a, (count + 1) * sizeof *pgs);
  if (pgs == NULL) return -1;
  for (size_t z = 0; z < r->from; z++) {
    if (match != NULL) match[to] = z + 1;
    pgs[to++] = run_kept(r, z);
  }
  for (size_t x = 0; x < r->n_mid; x++) {
    if (match != NULL) { /* the same bytes under the same identity (layout.c) */
      bool same;
      size_t y = dv_wire_run_replaced(r, x, &same);
      match[to] = same ? y + 1 : 0;
    }
    pgs[to++] = r->mid[x];
  }
  for (size_t z = r->to; z < b->n_pgs; z++) {
    if (match != NULL) match[to] = z + 1;
    pgs[to++] = run_kept(r, z);
  }
  *out = (dv_wire_cfg_t){.settings = b->settings, .settings_len = b->settings_len, .pgs = pgs,
                         .n_pgs = count, .validated = b->validated, .buf = r->buf,
                         .buf_len = r->buf_len};
  return 0;
}

uint8_t *dv_wire_join(dv_arena_t *a, dv_wire_cfg_t *w, size_t *len) {
  const unsigned field = DV_WIRE_PORTGROUPS_FIELD;
  size_t cut = dv_wire_offset_after(w->settings, w->settings_len, field), total = w->settings_len;
  for (size_t k = 0; k < w->n_pgs; k++) total += dv_wire_ld_size(field, w->pgs[k].len);
  uint8_t *buf = dv_arena_alloc_raw(a, total + 1);
  if (buf == NULL) return NULL;
  memcpy(buf, w->settings, cut);
  size_t at = cut;
  for (size_t k = 0; k < w->n_pgs; k++) {
    dv_wire_pg_t *pg = &w->pgs[k];
    dv_wire_put_ld(buf, &at, field, pg->data, pg->len);
    dv_wire_pg_move(pg, buf + at - pg->len);
  }
  memcpy(buf + at, w->settings + cut, w->settings_len - cut);
  *len = total;
  w->buf = buf;
  w->buf_len = total;
  return buf;
}

static size_t dup_digests(const dv_wire_cfg_t *w) {
  return w->digests != NULL ? w->n_pgs * DV_WIRE_DIGEST_LEN : 0;
}

static size_t dup_blocks(const dv_wire_cfg_t *w) {
  return w->digests != NULL && w->block_digests != NULL
             ? dv_wire_blocks(w->n_pgs) * DV_WIRE_DIGEST_LEN
             : 0;
}

size_t dv_wire_cfg_dup_size(const dv_wire_cfg_t *w) {
  size_t n = sizeof *w + w->n_pgs * sizeof *w->pgs + dup_digests(w) + dup_blocks(w) +
             w->sha_marks_len + w->settings_len;
  for (size_t i = 0; i < w->n_pgs; i++) n += strlen(w->pgs[i].identity) + 1;
  return n;
}

dv_wire_cfg_t *dv_wire_cfg_dup(const dv_wire_cfg_t *w, const uint8_t *from, const uint8_t *to,
                               size_t *bytes) {
  size_t n = dv_wire_cfg_dup_size(w);
  void *at = dv_big_alloc(n);
  if (at == NULL) return NULL;
  *bytes = n;
  return dv_wire_cfg_dup_at(w, from, to, at);
}

dv_wire_cfg_t *dv_wire_cfg_dup_at(const dv_wire_cfg_t *w, const uint8_t *from, const uint8_t *to,
                                  void *at) {
  size_t digests = dup_digests(w), blocks = dup_blocks(w);
  dv_wire_cfg_t *d = at;
  d->pgs = (dv_wire_pg_t *)(d + 1);
  d->n_pgs = w->n_pgs;
  d->digests = w->digests != NULL ? (uint8_t *)(d->pgs + w->n_pgs) : NULL;
  if (digests) memcpy(d->digests, w->digests, digests);
  d->block_digests = blocks ? (uint8_t *)(d->pgs + w->n_pgs) + digests : NULL;
  if (blocks) memcpy(d->block_digests, w->block_digests, blocks);
  uint8_t *marks = (uint8_t *)(d->pgs + w->n_pgs) + digests + blocks;
  if (w->sha_marks_len) memcpy(marks, w->sha_marks, w->sha_marks_len);
  d->sha_marks = w->sha_marks_len ? marks : NULL;
  d->sha_marks_len = w->sha_marks_len;
  d->settings = marks + w->sha_marks_len;
  d->settings_len = w->settings_len;
  d->validated = w->validated;
  d->buf = w->buf != NULL ? to + (w->buf - from) : NULL; /* the same buffer as the port groups' */
  d->buf_len = w->buf_len;
  if (w->settings_len) memcpy(d->settings, w->settings, w->settings_len);
  char *ids = (char *)d->settings + w->settings_len;
  for (size_t i = 0; i < w->n_pgs; i++) {
    d->pgs[i] = w->pgs[i];
    d->pgs[i].equals = NULL; /* kept longer than what it may point to */
    dv_wire_pg_move(&d->pgs[i], to + (w->pgs[i].data - from));
    size_t len = strlen(w->pgs[i].identity) + 1;
    memcpy(ids, w->pgs[i].identity, len);
    d->pgs[i].identity = ids;
    ids += len;
  }
  return d;
}

int dv_wire_cut_field(dv_arena_t *a, const uint8_t *buf, size_t len, unsigned want,
                      const uint8_t **field, size_t *field_len, uint8_t **rest, size_t *rest_len) {
  const uint8_t *p = buf, *end = buf + len;
  int found = 0;
  *rest = dv_arena_alloc_raw(a, len + 1);
  if (*rest == NULL) return -1;
  *rest_len = 0;
  while (p < end) {
    const uint8_t *start = p, *data;
    unsigned f, type;
    size_t n;
    if (next_field(&p, end, &f, &type, &data, &n) != 0) return 1;
    if (f == want) {
      if (type != 2 || found++) return 1; /* repeated: protobuf would merge them */
      *field = data;
      *field_len = n;
    } else {
      memcpy(*rest + *rest_len, start, (size_t)(p - start));
      *rest_len += (size_t)(p - start);
    }
  }
  return found ? 0 : 1;
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
