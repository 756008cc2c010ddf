#include "intake.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"
#include "validate.h"

int dv_intake_open(dv_arena_t *a, const uint8_t *doc, size_t len, dv_intake_t *in, dv_err_t *err) {
  memset(in, 0, sizeof *in);
  in->doc_bytes = doc;
  in->doc_len = len;
  /* the port groups are read by dv_intake_finish, and only when the
   * document is not `known` with a few of them replaced */
  dv_wire_cfg_t top;
  dv_err_t malformed = DV_ERR_INIT;
  if (dv_wire_split_settings(a, doc, len, &top, &malformed) != 0) return 1;
  in->settings = dvsconf__v1__switch_config__unpack(dv_arena_allocator(a), top.settings_len,
                                                    top.settings);
  /* port groups in the settings: a field 12 of another wire type */
  if (in->settings == NULL || in->settings->n_portgroups != 0) return 1;
  if (dv_validate_settings_strings(in->settings, err) != 0 ||
      dv_validate_settings(in->settings, err) != 0)
    return -1;
  dv_config_canonicalize(in->settings);
  return 0;
}

static int cmp_index(const void *x, const void *y, void *pgs) {
  const dv_wire_pg_t *p = pgs;
  return dv_wire_pg_cmp(&p[*(const size_t *)x], &p[*(const size_t *)y]);
}

static int cmp_pg(const void *x, const void *y) {
  return dv_wire_pg_cmp(x, y);
}

/* A decoded, checked and canonical port group into *out (bytes in the
 * arena). `index` is its place in the document, for messages. */
static int take_decoded(dv_arena_t *a, const dv_wire_pg_t *pg, size_t index, dv_wire_pg_t *out,
                        dv_err_t *err) {
  dv_pg_cfg_t *m = dvsconf__v1__portgroup_config__unpack(dv_arena_allocator(a), pg->len, pg->data);
  if (m == NULL) return 1;
  if (dv_validate_portgroup_strings(m, index, err) != 0 ||
      dv_validate_portgroup(m, index, err) != 0)
    return -1;
  dv_pg_canonicalize(m);
  size_t len = dvsconf__v1__portgroup_config__get_packed_size(m);
  uint8_t *bytes = dv_arena_alloc_raw(a, len + 1);
  if (bytes == NULL) return DV_NOMEM(err);
  dvsconf__v1__portgroup_config__pack(m, bytes);
  /* encoded as sent (the usual case): keep pointing into the document */
  bool as_sent = len == pg->len && memcmp(bytes, pg->data, len) == 0;
  *out = (dv_wire_pg_t){.identity = dv_pg_identity(m), .data = as_sent ? pg->data : bytes,
                        .len = len};
  if (dv_wire_pg_read(out) != 0) /* protobuf-c's own encoding: never */
    return dv_err_set(err, GRPC_STATUS_INTERNAL, "config.portgroups[%zu]: encoding unreadable",
                      index);
  return 0;
}

typedef struct slot {
  const uint8_t *s; /* NULL: free */
  size_t len;
} slot_t;

/* Add s to the open-addressed set; true when it was there already. */
static bool seen_before(slot_t *slots, size_t mask, const uint8_t *s, size_t len) {
  for (size_t i = dv_hash_bytes(s, len) & mask;; i = (i + 1) & mask) {
    if (slots[i].s == NULL) {
      slots[i] = (slot_t){s, len};
      return false;
    }
    if (slots[i].len == len && memcmp(slots[i].s, s, len) == 0) return true;
  }
}

static int shown(size_t len) {
  return len > 128 ? 128 : (int)len;
}

/* Names unique; identities (the key, or the name when there is none)
 * unique. pgs is in canonical order: keyless port groups first, then by
 * key, so equal keys are neighbours. */
static int check_unique(dv_arena_t *a, const dv_wire_pg_t *pgs, size_t n, dv_err_t *err) {
  size_t cap = 16;
  while (cap < 2 * n) cap <<= 1;
  slot_t *names = dv_arena_alloc(a, cap * sizeof *names);
  if (names == NULL) return DV_NOMEM(err);
  for (size_t i = 0; i < n; i++)
    if (seen_before(names, cap - 1, pgs[i].name, pgs[i].name_len))
      return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT,
                        "config.portgroups: name \"%.*s\" appears twice", shown(pgs[i].name_len),
                        (const char *)pgs[i].name);
  size_t keyed = 0;
  while (keyed < n && pgs[keyed].key_len == 0) keyed++;
  for (size_t i = 0; i < n; i++) {
    const dv_wire_pg_t *pg = &pgs[i], *other = NULL;
    if (i > keyed && pg->key_len == pgs[i - 1].key_len &&
        memcmp(pg->key, pgs[i - 1].key, pg->key_len) == 0) {
      other = &pgs[i - 1];
    } else if (pg->key_len == 0) { /* known by its name: no key may equal it */
      dv_wire_pg_t probe = {.key = pg->name, .key_len = pg->name_len, .name = (const uint8_t *)""};
      size_t lo = keyed, hi = n;
      while (lo < hi) { /* the first keyed port group whose key is not below the name */
        size_t mid = lo + (hi - lo) / 2;
        if (dv_wire_pg_cmp(&pgs[mid], &probe) < 0)
          lo = mid + 1;
        else
          hi = mid;
      }
      if (lo < n && pgs[lo].key_len == pg->name_len &&
          memcmp(pgs[lo].key, pg->name, pg->name_len) == 0)
        other = &pgs[lo];
    }
    if (other != NULL)
      return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT,
                        "config.portgroups: \"%.*s\" appears twice (port groups \"%.*s\" and"
                        " \"%.*s\"; a port group is known by its key, or by its name when it has"
                        " no key)",
                        shown(pg->key_len ? pg->key_len : pg->name_len),
                        (const char *)(pg->key_len ? pg->key : pg->name), shown(other->name_len),
                        (const char *)other->name, shown(pg->name_len), (const char *)pg->name);
  }
  return 0;
}

/* True when the document's bytes are the canonical encoding already: the
 * same settings, every port group taken as it was sent (bytes in the
 * document), in order, laid out as dv_intake_finish would lay them out
 * (minimal length prefixes, nothing between them). */
static bool is_canonical(const dv_intake_t *in, size_t cut, size_t total) {
  const dv_wire_cfg_t *doc = &in->doc, *c = &in->split;
  const uint8_t *d = in->doc_bytes;
  if (in->doc_len != total || doc->settings_len != c->settings_len ||
      memcmp(doc->settings, c->settings, c->settings_len) != 0 ||
      (cut > 0 && memcmp(d, c->settings, cut) != 0))
    return false;
  const uint8_t *at = d + cut;
  for (size_t k = 0; k < c->n_pgs; k++) {
    const dv_wire_pg_t *pg = &c->pgs[k];
    at += dv_wire_ld_size(DV_WIRE_PORTGROUPS_FIELD, pg->len) - pg->len;
    if (pg->data != at) return false; /* decoded, reordered, or a longer length prefix */
    at += pg->len;
  }
  return at == d + total - (c->settings_len - cut);
}

static bool bytes_eq(const uint8_t *x, size_t nx, const uint8_t *y, size_t ny) {
  return nx == ny && memcmp(x, y, nx) == 0;
}

/* True when port groups x and y may not stand in one config together
 * (check_unique's rules): the same name, or one's identity is the other's
 * (equal keys, or a keyless one's name is the other's key). */
static bool clash(const dv_wire_pg_t *x, const dv_wire_pg_t *y) {
  return bytes_eq(x->name, x->name_len, y->name, y->name_len) ||
         (x->key_len > 0 && bytes_eq(x->key, x->key_len, y->key, y->key_len)) ||
         (x->key_len == 0 && bytes_eq(x->name, x->name_len, y->key, y->key_len)) ||
         (y->key_len == 0 && bytes_eq(y->name, y->name_len, x->key, x->key_len));
}

/* At most this many port groups are taken the fast way: each is checked
 * against every port group of the switch. */
#define FEW_CHANGED 8

/* The fast way to take a document (PutVersion's usual one: the latest
 * version sent back with a port group or two changed): compared with
 * known's canonical bytes as a whole, it is those bytes with a run of
 * port groups in one place replaced. Only the replacements are decoded,
 * checked and compared with the others. 0 when the document was taken
 * (in->split and in->canon set; it is canonical); 1 when it is not of
 * that shape, or anything about it needs the careful way to be told
 * (dv_intake_finish then takes it port group by port group, as if this
 * had not been tried); -1 when out of memory. */
static int take_as_known_changed(dv_arena_t *a, dv_intake_t *in, const dv_wire_cfg_t *k,
                                 dv_err_t *err) {
  const unsigned field = DV_WIRE_PORTGROUPS_FIELD;
  const uint8_t *d = in->doc_bytes, *kb = k->buf;
  size_t dn = in->doc_len, kn = k->buf_len, n = k->n_pgs;
  if (kb == NULL || n == 0) return 1;
  /* known's bytes: its settings' fields below 12, its port groups back to
   * back, its settings' other fields */
  size_t cut = dv_wire_offset_after(k->settings, k->settings_len, field);
  size_t tail = k->settings_len - cut;
  if (cut + tail > kn || memcmp(kb, k->settings, cut) != 0 ||
      memcmp(kb + kn - tail, k->settings + cut, tail) != 0)
    return 1;
  size_t shorter = dn < kn ? dn : kn;
  /* The common prefix and suffix may overlap in the document: with port
   * group P removed from known's "A P B", the document "A B" shares known's
   * bytes up to where B's first bytes stop being P's, and from B's start
   * to the end. What the three pieces below must not do is overlap. */
  size_t p = dv_wire_common_prefix(d, kb, shorter);
  size_t s = dv_wire_common_suffix(d, dn, kb, kn, shorter);
  if (p < cut || s < tail) return 1; /* the switch's own fields changed */
  /* i: known's first port group not wholly in the common prefix; j: its
   * first one from i on wholly in the common suffix. The document is
   * known's bytes up to port group i, then its own, then known's from
   * port group j: with j >= i, no port group of known's is in it twice. */
  size_t at = cut, i = n, j = n, mid_start = kn - tail, mid_end = kn - tail;
  for (size_t x = 0; x < n; x++) {
    const dv_wire_pg_t *pg = &k->pgs[x];
    size_t whole = dv_wire_ld_size(field, pg->len);
    if (pg->data != kb + at + whole - pg->len) return 1; /* not laid out canonically */
    if (i == n && at + whole > p) i = x, mid_start = at;
    if (i != n && j == n && at >= kn - s) j = x, mid_end = at;
    at += whole;
  }
  /* the middle (in the document: mid_start .. mid_end + dn - kn) is not
   * negative, so known's pieces before and after it do not overlap there */
  if (at != kn - tail || mid_end + dn < kn + mid_start) return 1;
  ptrdiff_t shift = (ptrdiff_t)dn - (ptrdiff_t)kn; /* from known's suffix to the document's */
  mid_end = (size_t)((ptrdiff_t)mid_end + shift);

  /* the document's port groups in between: few, each a canonical field 12,
   * and taken as a lone changed port group is (take_decoded) */
  dv_wire_pg_t mid[FEW_CHANGED];
  size_t m = 0;
  for (const uint8_t *q = d + mid_start, *qe = d + mid_end; q < qe; m++) {
    const uint8_t *start = q, *data;
    unsigned f, type;
    size_t len;
    if (m == FEW_CHANGED || dv_wire_next(&q, qe, &f, &type, &data, &len) != 0 || f != field ||
        type != 2 || (size_t)(q - start) != dv_wire_ld_size(field, len))
      return 1;
    dv_wire_pg_t raw = {.data = data, .len = len};
    dv_err_t refused = DV_ERR_INIT; /* the careful way says why */
    if (take_decoded(a, &raw, i + m, &mid[m], &refused) != 0 || mid[m].data != data) return 1;
  }
  /* in canonical order between known's port groups that stay, and
   * clashing with none of them or each other */
  for (size_t x = 0; x < m; x++) {
    const dv_wire_pg_t *before = x > 0 ? &mid[x - 1] : i > 0 ? &k->pgs[i - 1] : NULL;
    if (before != NULL && dv_wire_pg_cmp(before, &mid[x]) >= 0) return 1;
  }
  if (m > 0 && j < n && dv_wire_pg_cmp(&mid[m - 1], &k->pgs[j]) >= 0) return 1;
  /* Port groups changed in place (the usual change: each has the name and
   * key of the one it replaces) clash with nothing that those did not, and
   * known's clash with nothing (it passed these checks: validated). Any
   * other change is checked against every port group that stays. */
  bool in_place = m == j - i;
  for (size_t x = 0; x < m && in_place; x++)
    in_place = bytes_eq(mid[x].name, mid[x].name_len, k->pgs[i + x].name, k->pgs[i + x].name_len) &&
               bytes_eq(mid[x].key, mid[x].key_len, k->pgs[i + x].key, k->pgs[i + x].key_len);
  for (size_t x = 0; x < m && !in_place; x++) {
    for (size_t y = 0; y < x; y++)
      if (clash(&mid[y], &mid[x])) return 1;
    for (size_t z = 0; z < n; z++)
      if ((z < i || z >= j) && clash(&k->pgs[z], &mid[x])) return 1;
  }

  /* the split: known's with the run replaced, made in full only when
   * needed (dv_intake_split) */
  dv_wire_pg_t *kept = dv_arena_alloc_raw(a, (m + 1) * sizeof *kept);
  if (kept == NULL) return DV_NOMEM(err);
  memcpy(kept, mid, m * sizeof *mid);
  in->run = (dv_wire_run_t){k, i, j, kept, m, d, dn};
  in->split = (dv_wire_cfg_t){.settings = k->settings, .settings_len = k->settings_len,
                              .n_pgs = dv_wire_run_count(&in->run), .validated = true, .buf = d,
                              .buf_len = dn};
  in->canon = (uint8_t *)d;
  in->canon_len = dn;
  in->decoded = m;
  in->as_known_changed = true;
  return 0;
}

int dv_intake_split(dv_arena_t *a, dv_intake_t *in) {
  if (!in->as_known_changed || in->split.pgs != NULL) return 0;
  return dv_wire_run_split(a, &in->run, &in->split, NULL);
}

int dv_intake_finish(dv_arena_t *a, dv_intake_t *in, const dv_wire_cfg_t *known, dv_err_t *err) {
  /* a stored port group vouches for one sent only if it passed these
   * checks itself (Export stores what the plane has, as it is) */
  if (known != NULL && !known->validated) known = NULL;
  if (known != NULL) {
    int rc = take_as_known_changed(a, in, known, err);
    if (rc <= 0) return rc;
  }
  dv_err_t malformed = DV_ERR_INIT;
  if (dv_wire_split_config_lite(a, in->doc_bytes, in->doc_len, &in->doc, &malformed) != 0) return 1;
  const dv_wire_cfg_t *doc = &in->doc;
  size_t n = doc->n_pgs;
  size_t *order = dv_arena_alloc_raw(a, (n + 1) * sizeof *order);
  dv_wire_pg_t *pgs = dv_arena_alloc_raw(a, (n + 1) * sizeof *pgs);
  if (order == NULL || pgs == NULL) return DV_NOMEM(err);
  /* visit the document's port groups in canonical order, so that one walk
   * along `known` (canonical too) meets every equal one */
  bool sorted = true;
  for (size_t i = 0; i < n; i++) {
    order[i] = i;
    if (i > 0 && dv_wire_pg_cmp(&doc->pgs[i - 1], &doc->pgs[i]) > 0) sorted = false;
  }
  if (!sorted) qsort_r(order, n, sizeof *order, cmp_index, (void *)doc->pgs);
  in->decoded = 0;
  size_t j = 0;
  for (size_t k = 0; k < n; k++) {
    const dv_wire_pg_t *pg = &doc->pgs[order[k]];
    while (known != NULL && j < known->n_pgs && dv_wire_pg_cmp(&known->pgs[j], pg) < 0) j++;
    const dv_wire_pg_t *same = known != NULL && j < known->n_pgs ? &known->pgs[j] : NULL;
    if (same != NULL && same->len == pg->len && dv_wire_pg_cmp(same, pg) == 0 &&
        memcmp(same->data, pg->data, pg->len) == 0) {
      pgs[k] = *same;
      pgs[k].equals = same->data; /* the delta against that version need not compare again */
      dv_wire_pg_move(&pgs[k], pg->data); /* the same bytes, in the document */
      continue;
    }
    int rc = take_decoded(a, pg, order[k], &pgs[k], err);
    if (rc != 0) return rc;
    in->decoded++;
  }
  /* Decoding may change a key or name (protobuf-c strings end at a NUL
   * byte), and with it the order: sort again when it did. */
  for (size_t k = 1; k < n; k++)
    if (dv_wire_pg_cmp(&pgs[k - 1], &pgs[k]) >= 0) {
      qsort(pgs, n, sizeof *pgs, cmp_pg);
      break;
    }
  if (check_unique(a, pgs, n, err) != 0) return -1;

  /* settings fields up to 12, the port groups, the settings fields after */
  size_t s_len = dvsconf__v1__switch_config__get_packed_size(in->settings);
  uint8_t *s = dv_arena_alloc_raw(a, s_len + 1);
  if (s == NULL) return DV_NOMEM(err);
  dvsconf__v1__switch_config__pack(in->settings, s);
  size_t cut = dv_wire_offset_after(s, s_len, DV_WIRE_PORTGROUPS_FIELD), total = s_len;
  for (size_t k = 0; k < n; k++) total += dv_wire_ld_size(DV_WIRE_PORTGROUPS_FIELD, pgs[k].len);
  in->split = (dv_wire_cfg_t){
      .settings = s, .settings_len = s_len, .pgs = pgs, .n_pgs = n, .validated = true};
  if (is_canonical(in, cut, total)) { /* sent back as it was read */
    in->canon = (uint8_t *)in->doc_bytes;
    in->canon_len = total;
    in->split.buf = in->doc_bytes;
    in->split.buf_len = total;
    return 0;
  }
  /* the split points into canon from now on */
  if ((in->canon = dv_wire_join(a, &in->split, &in->canon_len)) == NULL) return DV_NOMEM(err);
  return 0;
}
