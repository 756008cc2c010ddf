/* The storage layout of version bodies.
 *
 * A version is stored either whole (the canonical SwitchConfig encoding) or
 * as a store.Delta against the version before it: the port groups added or
 * changed, the identities removed, and the switch-level settings when they
 * changed. Exporting a 5,000-port-group switch in which one port group
 * changed stores one port group. Reading a version folds the chain from the
 * nearest whole version; store.c starts a new whole version when the deltas
 * since the last one add up to more than that whole version's size, so a
 * read never handles more than about twice a whole version's bytes.
 *
 * Bodies over COMPRESS_MIN bytes are compressed: deltas with zlib (codec
 * 1: a 4-byte big-endian raw length, then the zlib stream), whole versions
 * with LZMA (codec 2: the same length, then a raw LZMA2 stream), whose
 * window spans the whole config: a 5,000-port-group switch repeats itself
 * across far more than zlib's 32 KiB, and whole versions are written
 * rarely (130 KB with zlib, ~100 KB with LZMA2 preset 2, in ~55 ms). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lzma.h>
#include <zlib.h>

#include "store.pb-c.h"
#include "store_internal.h"
#include "strmap.h"

#define COMPRESS_MIN 512
#define MAX_RAW_BODY (1u << 30)

static int compress_body(dv_arena_t *a, const uint8_t *raw, size_t len, store_body_t *out,
                         dv_err_t *err) {
  if (len < COMPRESS_MIN) {
    out->codec = 0;
    out->data = (uint8_t *)raw;
    out->len = len;
    return 0;
  }
  uLongf bound = compressBound(len);
  uint8_t *buf = dv_arena_alloc_raw(a, bound + 4);
  if (buf == NULL) return DV_NOMEM(err);
  buf[0] = (uint8_t)(len >> 24);
  buf[1] = (uint8_t)(len >> 16);
  buf[2] = (uint8_t)(len >> 8);
  buf[3] = (uint8_t)len;
  uLongf clen = bound;
  if (compress2(buf + 4, &clen, raw, len, 6) != Z_OK)
    return dv_err_set(err, GRPC_STATUS_INTERNAL, "zlib compress of a %zu-byte version body failed",
                      len);
  out->codec = 1;
  out->data = buf;
  out->len = clen + 4;
  return 0;
}

/* LZMA2 over the whole buffer, the dictionary sized to it (so memory stays
 * in proportion to the config, not preset 2's fixed 1 MiB+). */
static lzma_filter *lzma_filters(lzma_options_lzma *opt, lzma_filter f[2], size_t len) {
  lzma_lzma_preset(opt, 2);
  uint32_t dict = LZMA_DICT_SIZE_MIN;
  while (dict < len && dict < (64u << 20)) dict *= 2;
  opt->dict_size = dict;
  f[0].id = LZMA_FILTER_LZMA2;
  f[0].options = opt;
  f[1].id = LZMA_VLI_UNKNOWN;
  f[1].options = NULL;
  return f;
}

static int decompress_body(dv_arena_t *a, const store_body_t *b, const uint8_t **raw,
                           size_t *len, dv_err_t *err) {
  if (b->codec == 0) {
    *raw = b->data;
    *len = b->len;
    return 0;
  }
  if (b->codec != 1 && b->codec != 2)
    return dv_err_set(err, GRPC_STATUS_DATA_LOSS, "stored version body has unknown codec %d",
                      b->codec);
  if (b->len < 4)
    return dv_err_set(err, GRPC_STATUS_DATA_LOSS, "stored version body is cut short (%zu bytes)",
                      b->len);
  uLongf n = ((uLongf)b->data[0] << 24) | ((uLongf)b->data[1] << 16) |
             ((uLongf)b->data[2] << 8) | b->data[3];
  if (n > MAX_RAW_BODY)
    return dv_err_set(err, GRPC_STATUS_DATA_LOSS, "stored version body claims %lu bytes", n);
  uint8_t *buf = dv_arena_alloc_raw(a, n ? n : 1);
  if (buf == NULL) return DV_NOMEM(err);
  if (b->codec == 2) {
    lzma_options_lzma opt;
    lzma_filter f[2];
    size_t in_pos = 0, out_pos = 0;
    if (lzma_raw_buffer_decode(lzma_filters(&opt, f, n), NULL, b->data + 4, &in_pos, b->len - 4,
                               buf, &out_pos, n) != LZMA_OK ||
        out_pos != n)
      return dv_err_set(err, GRPC_STATUS_DATA_LOSS, "stored version body does not decompress");
  } else {
    uLongf got = n;
    if (uncompress(buf, &got, b->data + 4, b->len - 4) != Z_OK || got != n)
      return dv_err_set(err, GRPC_STATUS_DATA_LOSS, "stored version body does not decompress");
  }
  *raw = buf;
  *len = n;
  return 0;
}

int layout_encode_full(dv_arena_t *a, const uint8_t *canon, size_t canon_len, store_body_t *out,
                       dv_err_t *err) {
  out->full = 1;
  if (canon_len < COMPRESS_MIN) return compress_body(a, canon, canon_len, out, err);
  lzma_options_lzma opt;
  lzma_filter f[2];
  lzma_filters(&opt, f, canon_len);
  size_t bound = canon_len + canon_len / 2 + 1024; /* LZMA2 stores what does not shrink */
  uint8_t *buf = dv_arena_alloc_raw(a, bound + 4);
  if (buf == NULL) return DV_NOMEM(err);
  buf[0] = (uint8_t)(canon_len >> 24);
  buf[1] = (uint8_t)(canon_len >> 16);
  buf[2] = (uint8_t)(canon_len >> 8);
  buf[3] = (uint8_t)canon_len;
  size_t pos = 0;
  if (lzma_raw_buffer_encode(f, NULL, canon, canon_len, buf + 4, &pos, bound) != LZMA_OK)
    return compress_body(a, canon, canon_len, out, err); /* zlib then */
  out->codec = 2;
  out->data = buf;
  out->len = pos + 4;
  return 0;
}

int layout_encode_delta_wire(dv_arena_t *a, const dv_wire_cfg_t *prev, const dv_wire_cfg_t *cur,
                             size_t *match, store_body_t *out, dv_err_t *err) {
  dv_arena_t *tmp = dv_arena_new(); /* the identity map only lives here */
  int rc = -1;
  char *seen = tmp ? dv_arena_alloc(tmp, prev->n_pgs + 1) : NULL;
  char *same = tmp ? dv_arena_alloc(tmp, cur->n_pgs + 1) : NULL;
  const dv_wire_pg_t **up = tmp ? dv_arena_alloc(tmp, (cur->n_pgs + 1) * sizeof *up) : NULL;
  if (seen == NULL || same == NULL || up == NULL) goto nomem;
  if (match != NULL) memset(match, 0, cur->n_pgs * sizeof *match);
  /* Both are canonical, in (key, name) order: walk them together first.
   * Equal key, name and bytes is the same port group, unchanged (identities
   * are unique on each side, so identity matching could pair them with
   * nothing else). Only what is left is matched by identity, in a map.
   * A port group intake found equal to this one of prev (equals) is paired
   * without reading either. */
  size_t left_prev = prev->n_pgs;
  for (size_t i = 0, j = 0; i < prev->n_pgs && j < cur->n_pgs;) {
    const dv_wire_pg_t *p = &prev->pgs[i], *c = &cur->pgs[j];
    bool known = c->equals == p->data;
    int order = known ? 0 : dv_wire_pg_cmp(p, c);
    if (known || (order == 0 && p->len == c->len && memcmp(p->data, c->data, c->len) == 0)) {
      seen[i] = same[j] = 1;
      left_prev--;
      if (match != NULL) match[j] = i + 1;
    }
    if (order <= 0) i++;
    if (order >= 0) j++;
  }
  dv_strmap_t *old = dv_strmap_new(tmp, left_prev);
  if (old == NULL) goto nomem;
  for (size_t i = 0; i < prev->n_pgs; i++)
    if (!seen[i] && dv_strmap_put(old, prev->pgs[i].identity, (void *)(i + 1)) != 0) goto nomem;

  bool settings_changed = prev->settings_len != cur->settings_len ||
                          memcmp(prev->settings, cur->settings, cur->settings_len) != 0;
  size_t size = settings_changed ? dv_wire_ld_size(1, cur->settings_len) : 0, n_up = 0;
  for (size_t i = 0; i < cur->n_pgs; i++) {
    if (same[i]) continue;
    const dv_wire_pg_t *pg = &cur->pgs[i];
    size_t j = left_prev ? (size_t)(uintptr_t)dv_strmap_get(old, pg->identity) : 0;
    if (j != 0) {
      seen[j - 1] = 1;
      const dv_wire_pg_t *was = &prev->pgs[j - 1];
      if (was->len == pg->len && memcmp(was->data, pg->data, pg->len) == 0) {
        if (match != NULL) match[i] = j;
        continue;
      }
    }
    up[n_up++] = pg;
    size += dv_wire_ld_size(2, pg->len);
  }
  for (size_t i = 0; i < prev->n_pgs; i++)
    if (!seen[i]) size += dv_wire_ld_size(3, strlen(prev->pgs[i].identity));

  uint8_t *raw = dv_arena_alloc_raw(a, size + 1);
  if (raw == NULL) goto nomem;
  size_t at = 0;
  /* field order of store.Delta: settings, upserts, removed */
  if (settings_changed) dv_wire_put_ld(raw, &at, 1, cur->settings, cur->settings_len);
  for (size_t k = 0; k < n_up; k++) dv_wire_put_ld(raw, &at, 2, up[k]->data, up[k]->len);
  for (size_t i = 0; i < prev->n_pgs; i++)
    if (!seen[i]) dv_wire_put_ld(raw, &at, 3, prev->pgs[i].identity, strlen(prev->pgs[i].identity));
  out->full = 0;
  rc = compress_body(a, raw, at, out, err);
  goto cleanup;
nomem:
  DV_NOMEM(err);
cleanup:
  dv_arena_free(tmp);
  return rc;
}

int layout_encode_delta_run(dv_arena_t *a, const dv_wire_run_t *run, store_body_t *out,
                            dv_err_t *err) {
  /* The settings are base's, and so is every port group outside the run:
   * only the run's port groups are upserts (unless one has the bytes of
   * the port group of base it replaces under the same identity), and only
   * base's port groups that it replaces are removed (unless one took the
   * identity: wire.h, dv_wire_run_replaced). */
  const dv_wire_cfg_t *b = run->base;
  size_t n_replaced = run->to - run->from, size = 0, n_up = 0;
  char *seen = dv_arena_alloc(a, n_replaced + 1);
  const dv_wire_pg_t **up = dv_arena_alloc_raw(a, (run->n_mid + 1) * sizeof *up);
  if (seen == NULL || up == NULL) return DV_NOMEM(err);
  for (size_t x = 0; x < run->n_mid; x++) {
    bool same;
    size_t y = dv_wire_run_replaced(run, x, &same);
    if (y < run->to) seen[y - run->from] = 1;
    if (same) continue;
    up[n_up++] = &run->mid[x];
    size += dv_wire_ld_size(2, run->mid[x].len);
  }
  for (size_t y = 0; y < n_replaced; y++)
    if (!seen[y]) size += dv_wire_ld_size(3, strlen(b->pgs[run->from + y].identity));
  uint8_t *raw = dv_arena_alloc_raw(a, size + 1);
  if (raw == NULL) return DV_NOMEM(err);
  size_t at = 0;
  for (size_t k = 0; k < n_up; k++) dv_wire_put_ld(raw, &at, 2, up[k]->data, up[k]->len);
  for (size_t y = 0; y < n_replaced; y++)
    if (!seen[y]) {
      const char *id = b->pgs[run->from + y].identity;
      dv_wire_put_ld(raw, &at, 3, id, strlen(id));
    }
  out->full = 0;
  return compress_body(a, raw, at, out, err);
}

int layout_encode_delta(dv_arena_t *a, dv_switch_cfg_t *prev, dv_switch_cfg_t *cur,
                        store_body_t *out, dv_err_t *err) {
  uint8_t *pb, *cb;
  size_t pl, cl;
  dv_wire_cfg_t pw, cw;
  if (dv_config_encode(a, prev, &pb, &pl, err) != 0 || dv_config_encode(a, cur, &cb, &cl, err) != 0 ||
      dv_wire_split_config(a, pb, pl, &pw, err) != 0 || dv_wire_split_config(a, cb, cl, &cw, err) != 0)
    return -1;
  return layout_encode_delta_wire(a, &pw, &cw, NULL, out, err);
}

/* A port group's identity from its bytes (model.h: the key, or the name
 * when it has none); NULL when it is malformed or holds a NUL byte, which
 * the decoding fold would read differently. */
static const char *wire_identity(dv_arena_t *a, dv_wire_pg_t *pg) {
  if (dv_wire_pg_read(pg) != 0 || memchr(pg->key, 0, pg->key_len) != NULL ||
      memchr(pg->name, 0, pg->name_len) != NULL)
    return NULL;
  return dv_wire_pg_identity(a, pg);
}

static int cmp_pg(const void *x, const void *y) {
  return dv_wire_pg_cmp(x, y);
}

/* One delta applied to the port groups by identity, as layout_fold applies
 * it (removals, then upserts), and its settings, if any, taken. 0, 1 (not
 * readable here), -1 (out of memory). */
static int apply_delta_wire(dv_arena_t *a, const uint8_t *raw, size_t len, dv_strmap_t *pgs,
                            const uint8_t **settings, size_t *settings_len) {
  const uint8_t *end = raw + len;
  bool have_settings = false;
  for (int pass = 0; pass < 2; pass++) {
    for (const uint8_t *p = raw; p < end;) {
      unsigned field, type;
      const uint8_t *data;
      size_t n;
      if (dv_wire_next(&p, end, &field, &type, &data, &n) != 0 || type != 2 || field < 1 ||
          field > 3)
        return 1;
      if (pass == 0 && field == 1) { /* protobuf would merge a repeated one */
        if (have_settings) return 1;
        have_settings = true;
        *settings = data;
        *settings_len = n;
      } else if (pass == 0 && field == 3) {
        if (memchr(data, 0, n) != NULL) return 1;
        char *id = dv_arena_strndup(a, (const char *)data, n);
        if (id == NULL) return -1;
        dv_strmap_del(pgs, id);
      } else if (pass == 1 && field == 2) {
        dv_wire_pg_t *pg = dv_arena_alloc(a, sizeof *pg);
        if (pg == NULL) return -1;
        pg->data = data;
        pg->len = n;
        const char *id = wire_identity(a, pg);
        if (id == NULL) return 1;
        pg->identity = id;
        if (dv_strmap_put(pgs, id, pg) != 0) return -1;
      }
    }
  }
  return 0;
}

int layout_body_raw(dv_arena_t *a, const store_body_t *b, const uint8_t **raw, size_t *len,
                    dv_err_t *err) {
  return decompress_body(a, b, raw, len, err);
}

int layout_fold_wire(dv_arena_t *a, const store_body_t *bodies, size_t n, const uint8_t *base,
                     size_t base_len, uint8_t **out, size_t *out_len, dv_err_t *err) {
  dv_err_t ignored = DV_ERR_INIT;
  if (n == 0 || !bodies[0].full) return 1;
  if (base == NULL && decompress_body(a, &bodies[0], &base, &base_len, &ignored) != 0) return 1;
  dv_wire_cfg_t w;
  if (dv_wire_split_config_lite(a, base, base_len, &w, &ignored) != 0) return 1;
  dv_strmap_t *pgs = dv_strmap_new(a, w.n_pgs + n);
  if (pgs == NULL) return DV_NOMEM(err);
  for (size_t i = 0; i < w.n_pgs; i++) {
    const char *id = wire_identity(a, &w.pgs[i]);
    if (id == NULL) return 1;
    w.pgs[i].identity = id;
    if (dv_strmap_put(pgs, id, &w.pgs[i]) != 0) return DV_NOMEM(err);
  }
  const uint8_t *settings = w.settings;
  size_t settings_len = w.settings_len;
  for (size_t k = 1; k < n; k++) {
    const uint8_t *raw;
    size_t len;
    if (bodies[k].full || decompress_body(a, &bodies[k], &raw, &len, &ignored) != 0) return 1;
    int rc = apply_delta_wire(a, raw, len, pgs, &settings, &settings_len);
    if (rc != 0) return rc < 0 ? DV_NOMEM(err) : 1;
  }
  /* canonical: the port groups in (key, name) order, between the settings */
  size_t count = dv_strmap_count(pgs), pos = 0;
  dv_wire_cfg_t folded = {.settings = (uint8_t *)settings, .settings_len = settings_len};
  folded.pgs = dv_arena_alloc(a, (count + 1) * sizeof *folded.pgs);
  if (folded.pgs == NULL) return DV_NOMEM(err);
  const char *key;
  void *val;
  while (folded.n_pgs < count && dv_strmap_next(pgs, &pos, &key, &val))
    folded.pgs[folded.n_pgs++] = *(const dv_wire_pg_t *)val;
  qsort(folded.pgs, folded.n_pgs, sizeof *folded.pgs, cmp_pg);
  if ((*out = dv_wire_join(a, &folded, out_len)) == NULL) return DV_NOMEM(err);
  return 0;
}

int layout_fold(dv_arena_t *a, const store_body_t *bodies, size_t n, dv_switch_cfg_t **out,
                dv_err_t *err) {
  ProtobufCAllocator *al = dv_arena_allocator(a);
  const uint8_t *raw;
  size_t len;
  if (n == 0 || !bodies[0].full)
    return dv_err_set(err, GRPC_STATUS_DATA_LOSS, "version chain does not start with a whole version");
  if (decompress_body(a, &bodies[0], &raw, &len, err) != 0) return -1;
  dv_switch_cfg_t *base = dvsconf__v1__switch_config__unpack(al, len, raw);
  if (base == NULL)
    return dv_err_set(err, GRPC_STATUS_DATA_LOSS, "stored whole version does not decode");
  if (n == 1) {
    *out = base;
    return 0;
  }
  dv_switch_cfg_t *settings = base;
  dv_strmap_t *pgs = dv_strmap_new(a, base->n_portgroups + n);
  if (pgs == NULL) return DV_NOMEM(err);
  for (size_t i = 0; i < base->n_portgroups; i++)
    if (dv_strmap_put(pgs, dv_pg_identity(base->portgroups[i]), base->portgroups[i]) != 0)
      return DV_NOMEM(err);
  for (size_t k = 1; k < n; k++) {
    if (bodies[k].full)
      return dv_err_set(err, GRPC_STATUS_DATA_LOSS, "version chain has a whole version inside");
    if (decompress_body(a, &bodies[k], &raw, &len, err) != 0) return -1;
    Dvsconf__Store__Delta *d = dvsconf__store__delta__unpack(al, len, raw);
    if (d == NULL) return dv_err_set(err, GRPC_STATUS_DATA_LOSS, "stored delta does not decode");
    if (d->settings != NULL) settings = d->settings;
    for (size_t i = 0; i < d->n_removed; i++) dv_strmap_del(pgs, d->removed[i]);
    for (size_t i = 0; i < d->n_upserts; i++)
      if (dv_strmap_put(pgs, dv_pg_identity(d->upserts[i]), d->upserts[i]) != 0)
        return DV_NOMEM(err);
  }
  dv_switch_cfg_t *cfg = dv_arena_alloc(a, sizeof *cfg);
  if (cfg == NULL) return DV_NOMEM(err);
  *cfg = *settings;
  cfg->n_portgroups = 0;
  cfg->portgroups = dv_arena_alloc(a, (dv_strmap_count(pgs) + 1) * sizeof(void *));
  if (cfg->portgroups == NULL) return DV_NOMEM(err);
  size_t pos = 0;
  const char *key;
  void *val;
  while (dv_strmap_next(pgs, &pos, &key, &val)) cfg->portgroups[cfg->n_portgroups++] = val;
  dv_config_canonicalize(cfg);
  *out = cfg;
  return 0;
}
