/* Fuzz target (iii): the canonical encoder, the diff and the storage layout.
 *
 * Input: a 2-byte little-endian length n, then two SwitchConfig encodings,
 * A (n bytes, or what is there) and B (the rest). Only configs the service
 * would store are kept: decoded, and accepted by dv_validate_strings and
 * dv_validate_config (PutVersion's gate; Export's configs come from a plane
 * with unique keys). Then, as the store does:
 *  - canonicalize + encode + checksum: encoding the decoded canonical
 *    encoding again gives the same bytes (a stored version's checksum can
 *    always be verified);
 *  - diff A->B and B->A, within one history and across two: no failure, and
 *    a config against itself has no changes; dv_diff_packed on the two
 *    canonical encodings (what Diff of two stored versions runs) gives
 *    exactly the changes dv_diff_configs gives on the decoded configs, and
 *    so does dv_diff_split with port group digests (B's taken from A's
 *    where the delta walk found the port groups equal), every digest being
 *    the port group's own SHA-256;
 *  - dv_wire_split_config on the raw input bytes: a split or DATA_LOSS;
 *  - intake (PutVersion's path, port group by port group) on A's raw bytes,
 *    with nothing known and with B's canonical split known, and on B's
 *    canonical bytes with a run of its port groups replaced by A's (the
 *    document intake takes whole when it can), and with a run of its bytes
 *    replaced by A's bytes: the same verdict
 *    as decoding A whole (or "decode it whole", 1), and when accepted the
 *    same canonical bytes; with B known, the delta B->A from intake's split
 *    (which pairs port groups intake found equal without comparing them)
 *    is the delta from a plain split of those bytes, and the digests it
 *    lets A take from B are A's own;
 *  - layout_encode_full(A) folds back to A; layout_encode_delta(A, B) (the
 *    wire-level delta the store writes) on top of it folds back to B; a
 *    further delta B->A folds back to A; layout_fold_wire gives the same
 *    canonical bytes for each of the three.
 * A fold that does not give back the config it encoded is a version the
 * store would later refuse as corrupt (DATA_LOSS). */
#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "diff.h"
#include "fuzz_check.h"
#include "intake.h"
#include "model.h"
#include "store_internal.h"
#include "validate.h"
#include "wire.h"

static dv_switch_cfg_t *decode(dv_arena_t *a, const uint8_t *p, size_t n) {
  dv_switch_cfg_t *c = dvsconf__v1__switch_config__unpack(dv_arena_allocator(a), n, p);
  dv_err_t err = DV_ERR_INIT;
  if (c == NULL || dv_validate_strings(&c->base, &err) != 0 || dv_validate_config(c, &err) != 0)
    return NULL;
  return c;
}

typedef struct enc {
  uint8_t *p;
  size_t n;
  char sum[DV_SHA256_HEX_LEN + 1];
} enc_t;

static void encode(dv_arena_t *a, dv_switch_cfg_t *c, enc_t *out) {
  dv_err_t err = DV_ERR_INIT;
  FUZZ_CHECK(dv_config_encode(a, c, &out->p, &out->n, &err) == 0, "encode: %s", err.msg);
  dv_sha256_hex(out->p, out->n, out->sum);
}

static void same(const enc_t *x, const enc_t *y, const char *what) {
  FUZZ_CHECK(x->n == y->n && memcmp(x->p, y->p, x->n) == 0 && strcmp(x->sum, y->sum) == 0,
             "%s: %zu bytes, checksum %.12s; wanted %zu bytes, checksum %.12s", what, x->n,
             x->sum, y->n, y->sum);
}

static size_t diff(dv_arena_t *a, const dv_switch_cfg_t *x, const dv_switch_cfg_t *y, bool same_h) {
  dv_change_t **ch;
  size_t n = 0;
  dv_err_t err = DV_ERR_INIT;
  FUZZ_CHECK(dv_diff_configs(a, x, y, same_h, &ch, &n, &err) == 0, "diff: %s", err.msg);
  for (size_t i = 0; i < n; i++)
    FUZZ_CHECK(ch[i]->path != NULL && ch[i]->path[0] != '\0', "a change without a path");
  return n;
}

static dv_switch_cfg_t *fold(dv_arena_t *a, const store_body_t *bodies, size_t n) {
  dv_switch_cfg_t *out;
  dv_err_t err = DV_ERR_INIT;
  FUZZ_CHECK(layout_fold(a, bodies, n, &out, &err) == 0, "fold of %zu bodies: %s", n, err.msg);
  return out;
}

/* Intake's split of a document, against the known version's: the delta
 * the store writes is the one a plain split of the same bytes gives (the
 * port groups intake paired are paired without comparison), and the
 * digests taken from the known version through it are the port groups'
 * own. */
static void check_known_delta(dv_arena_t *a, dv_wire_cfg_t *known, const dv_intake_t *in) {
  dv_err_t err = DV_ERR_INIT;
  dv_wire_cfg_t split = in->split, plain, fresh;
  FUZZ_CHECK(dv_wire_split_config(a, in->canon, in->canon_len, &plain, &err) == 0, "split: %s", err.msg);
  size_t *match = dv_arena_alloc(a, (split.n_pgs + 1) * sizeof *match);
  store_body_t d1, d2;
  FUZZ_CHECK(match != NULL && layout_encode_delta_wire(a, known, &split, match, &d1, &err) == 0 &&
                 layout_encode_delta_wire(a, known, &plain, NULL, &d2, &err) == 0,
             "delta: %s", err.msg);
  FUZZ_CHECK(d1.codec == d2.codec && d1.len == d2.len && memcmp(d1.data, d2.data, d1.len) == 0,
             "the delta from intake's split differs from the delta from a plain split");
  known->digests = known->block_digests = NULL;
  fresh = split;
  FUZZ_CHECK(dv_wire_digest_pgs(a, known, NULL, NULL) == 0 && dv_wire_digest_pgs(a, &split, known, match) == 0 &&
                 dv_wire_digest_pgs(a, &fresh, NULL, NULL) == 0,
             "digests: out of memory");
  FUZZ_CHECK(memcmp(split.digests, fresh.digests, split.n_pgs * DV_WIRE_DIGEST_LEN) == 0 &&
                 memcmp(split.block_digests, fresh.block_digests,
                        dv_wire_blocks(split.n_pgs) * DV_WIRE_DIGEST_LEN) == 0,
             "a digest taken from the known version is not the port group's own");
}

/* Intake of a document (x: the document decoded whole, NULL when refused)
 * against `known` (NULL: none): the same verdict as decoding it whole, or
 * "decode it whole" (1); when accepted, the same canonical bytes and, with
 * a known version, the same delta (check_known_delta). */
static void check_intake(dv_arena_t *a, const uint8_t *data, size_t n, dv_switch_cfg_t *x,
                         dv_wire_cfg_t *known) {
  dv_intake_t in;
  dv_err_t ierr = DV_ERR_INIT;
  int rc = dv_intake_open(a, data, n, &in, &ierr);
  if (rc == 0) rc = dv_intake_finish(a, &in, known, &ierr);
  if (rc == 0 && dv_intake_split(a, &in) != 0) return; /* out of memory */
  if (rc == 1) return; /* left to the whole decode */
  FUZZ_CHECK((rc == 0) == (x != NULL), "intake says %d (%s), decoding whole says %s", rc, ierr.msg,
             x != NULL ? "valid" : "invalid");
  if (rc != 0) return;
  enc_t ix = {in.canon, in.canon_len, ""}, wx;
  dv_sha256_hex(ix.p, ix.n, ix.sum);
  encode(a, dv_msg_clone(a, &x->base), &wx);
  same(&ix, &wx, in.as_known_changed ? "intake's canonical encoding (taken whole)"
                                     : "intake's canonical encoding");
  if (known != NULL) check_known_delta(a, known, &in);
}

/* Where port group i's field (tag, length, bytes) starts in known->buf. */
static size_t field_start(const dv_wire_cfg_t *known, size_t i) {
  const dv_wire_pg_t *pg = &known->pgs[i];
  size_t header = dv_wire_ld_size(DV_WIRE_PORTGROUPS_FIELD, pg->len) - pg->len;
  return (size_t)(pg->data - known->buf) - header;
}

/* known's canonical bytes (known->buf) with its port groups i..j-1
 * replaced by those of `with`, as fields 12. */
static uint8_t *splice(dv_arena_t *a, const dv_wire_cfg_t *known, size_t i, size_t j,
                       const dv_wire_cfg_t *with, size_t *len) {
  const unsigned field = DV_WIRE_PORTGROUPS_FIELD;
  const uint8_t *kb = known->buf;
  size_t cut = dv_wire_offset_after(known->settings, known->settings_len, field);
  size_t from = known->buf_len - (known->settings_len - cut), to = from; /* the port groups' end */
  if (i < known->n_pgs) from = field_start(known, i);
  if (j < known->n_pgs) to = field_start(known, j);
  size_t n = from + (known->buf_len - to);
  for (size_t k = 0; k < with->n_pgs; k++) n += dv_wire_ld_size(field, with->pgs[k].len);
  uint8_t *out = dv_arena_alloc_raw(a, n + 1);
  FUZZ_CHECK(out != NULL, "out of memory");
  memcpy(out, kb, from);
  size_t at = from;
  for (size_t k = 0; k < with->n_pgs; k++)
    dv_wire_put_ld(out, &at, field, with->pgs[k].data, with->pgs[k].len);
  memcpy(out + at, kb + to, known->buf_len - to);
  *len = n;
  return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  size_t n = (size_t)data[0] | (size_t)data[1] << 8;
  data += 2, size -= 2;
  if (n > size) n = size;
  dv_arena_t *a = dv_arena_new();
  FUZZ_CHECK(a != NULL, "no arena");
  /* the wire-level splitter on any bytes: a config, or DATA_LOSS */
  dv_wire_cfg_t w = {0};
  dv_err_t werr = DV_ERR_INIT;
  if (dv_wire_split_config(a, data, n, &w, &werr) != 0)
    FUZZ_CHECK(werr.code == GRPC_STATUS_DATA_LOSS, "wire split failed with %d: %s", werr.code, werr.msg);
  dv_switch_cfg_t *x = decode(a, data, n), *y = decode(a, data + n, size - n);
  enc_t ey0 = {0};
  if (y != NULL) encode(a, dv_msg_clone(a, &y->base), &ey0);
  for (int with = 0; with < 2; with++) {
    dv_wire_cfg_t known_w, *known = NULL;
    if (with) {
      if (y == NULL) break;
      FUZZ_CHECK(dv_wire_split_config(a, ey0.p, ey0.n, &known_w, &werr) == 0,
                 "a canonical encoding does not split: %s", werr.msg);
      known_w.validated = true; /* B passed PutVersion's checks (decode()) */
      known = &known_w;
    }
    check_intake(a, data, n, x, known);
    /* PutVersion's usual document: B's canonical bytes with a run of its
     * port groups (picked by the input's size) replaced by A's */
    if (known != NULL && w.pgs != NULL) {
      size_t nb = known->n_pgs, i = size % (nb + 1), j = i + n % (nb - i + 1), len;
      uint8_t *doc = splice(a, known, i, j, &w, &len);
      check_intake(a, doc, len, decode(a, doc, len), known);
    }
    /* and at any bytes: B's canonical bytes x..y-1 replaced by A's bytes */
    if (known != NULL) {
      size_t kn = known->buf_len, x = (size * 7919) % (kn + 1), y = x + (n * 31) % (kn - x + 1);
      uint8_t *doc = dv_arena_alloc_raw(a, kn - (y - x) + n + 1);
      FUZZ_CHECK(doc != NULL, "out of memory");
      memcpy(doc, known->buf, x);
      memcpy(doc + x, data, n);
      memcpy(doc + x + n, known->buf + y, kn - y);
      size_t len = kn - (y - x) + n;
      check_intake(a, doc, len, decode(a, doc, len), known);
    }
  }
  if (x == NULL || y == NULL) goto done;

  /* canonical encoding: stable through decode + encode */
  dv_err_t err = DV_ERR_INIT;
  enc_t ex, ey, again;
  encode(a, x, &ex);
  encode(a, y, &ey);
  dv_switch_cfg_t *x2 = dvsconf__v1__switch_config__unpack(dv_arena_allocator(a), ex.n, ex.p);
  FUZZ_CHECK(x2 != NULL, "a canonical encoding does not decode");
  encode(a, x2, &again);
  same(&again, &ex, "canonical encoding after decode + encode");

  /* diff both ways, within one history and across two */
  FUZZ_CHECK(diff(a, x, x, true) == 0, "a config differs from itself");
  FUZZ_CHECK(diff(a, x, x, false) == 0, "a config differs from itself (other history)");
  size_t xy = diff(a, x, y, true);
  diff(a, y, x, true);
  diff(a, x, y, false);
  diff(a, y, x, false);
  if (ex.n == ey.n && memcmp(ex.p, ey.p, ex.n) == 0)
    FUZZ_CHECK(xy == 0, "equal configs have %zu changes", xy);
  /* the diff of cached versions goes through port group digests, y's taken
   * from x's where the delta walk found them equal */
  dv_wire_cfg_t sx, sy, fresh;
  FUZZ_CHECK(dv_wire_split_config(a, ex.p, ex.n, &sx, &err) == 0 &&
                 dv_wire_split_config(a, ey.p, ey.n, &sy, &err) == 0,
             "split: %s", err.msg);
  size_t *match = dv_arena_alloc(a, (sy.n_pgs + 1) * sizeof *match);
  store_body_t delta;
  FUZZ_CHECK(match != NULL && layout_encode_delta_wire(a, &sx, &sy, match, &delta, &err) == 0,
             "delta: %s", err.msg);
  fresh = sy;
  FUZZ_CHECK(dv_wire_digest_pgs(a, &sx, NULL, NULL) == 0 && dv_wire_digest_pgs(a, &sy, &sx, match) == 0 &&
                 dv_wire_digest_pgs(a, &fresh, NULL, NULL) == 0,
             "digests: out of memory");
  FUZZ_CHECK(memcmp(sy.digests, fresh.digests, sy.n_pgs * DV_WIRE_DIGEST_LEN) == 0,
             "a digest taken from the other version is not the port group's own");
  /* the diff on canonical encodings (what Diff of two versions runs), with
   * and without digests, says exactly what the diff of the decoded configs
   * says */
  for (int same_h = 0; same_h < 2; same_h++) {
    dv_change_t **cp, **cc, **cd;
    size_t np, nc, nd;
    FUZZ_CHECK(dv_diff_packed(a, ex.p, ex.n, ey.p, ey.n, same_h, &cp, &np, &err) == 0, "packed diff: %s",
               err.msg);
    FUZZ_CHECK(dv_diff_split(a, &sx, &sy, same_h, &cd, &nd, &err) == 0, "diff by digests: %s", err.msg);
    FUZZ_CHECK(nd == np, "diff by digests: %zu changes, packed diff: %zu", nd, np);
    for (size_t i = 0; i < nd; i++)
      FUZZ_CHECK(cd[i]->kind == cp[i]->kind && strcmp(cd[i]->path, cp[i]->path) == 0 &&
                     strcmp(cd[i]->old_value, cp[i]->old_value) == 0 &&
                     strcmp(cd[i]->new_value, cp[i]->new_value) == 0,
                 "change %zu: diff by digests says %s, packed diff says %s", i, cd[i]->path, cp[i]->path);
    FUZZ_CHECK(dv_diff_configs(a, x, y, same_h, &cc, &nc, &err) == 0, "diff: %s", err.msg);
    FUZZ_CHECK(np == nc, "packed diff: %zu changes, diff of the configs: %zu (same history: %d)", np, nc,
               same_h);
    for (size_t i = 0; i < nc; i++)
      FUZZ_CHECK(cp[i]->kind == cc[i]->kind && strcmp(cp[i]->path, cc[i]->path) == 0 &&
                     strcmp(cp[i]->old_value, cc[i]->old_value) == 0 &&
                     strcmp(cp[i]->new_value, cc[i]->new_value) == 0,
                 "change %zu: packed diff says %s, diff of the configs says %s", i, cp[i]->path,
                 cc[i]->path);
  }

  /* storage layout: whole, delta, delta */
  store_body_t b[3];
  FUZZ_CHECK(layout_encode_full(a, ex.p, ex.n, &b[0], &err) == 0, "full: %s", err.msg);
  encode(a, fold(a, b, 1), &again);
  same(&again, &ex, "whole version folded back");
  FUZZ_CHECK(layout_encode_delta(a, x, y, &b[1], &err) == 0, "delta: %s", err.msg);
  encode(a, fold(a, b, 2), &again);
  same(&again, &ey, "whole A + delta A->B folded back (should be B)");
  FUZZ_CHECK(layout_encode_delta(a, y, x, &b[2], &err) == 0, "delta: %s", err.msg);
  encode(a, fold(a, b, 3), &again);
  same(&again, &ex, "whole A + delta A->B + delta B->A folded back (should be A)");
  /* the wire-level fold (what a read runs first) gives the same bytes, with
   * the whole version decompressed by it or given (as a read gives it) */
  const enc_t *want[3] = {&ex, &ey, &ex};
  const uint8_t *whole;
  size_t whole_len;
  FUZZ_CHECK(layout_body_raw(a, &b[0], &whole, &whole_len, &err) == 0, "whole: %s", err.msg);
  for (size_t k = 1; k <= 3; k++)
    for (int given = 0; given < 2; given++) {
      uint8_t *w;
      size_t wn;
      int rc = layout_fold_wire(a, b, k, given ? whole : NULL, given ? whole_len : 0, &w, &wn, &err);
      FUZZ_CHECK(rc == 0, "wire fold of %zu bodies: %d (%s)", k, rc, err.msg);
      FUZZ_CHECK(wn == want[k - 1]->n && memcmp(w, want[k - 1]->p, wn) == 0,
                 "wire fold of %zu bodies differs from the canonical encoding", k);
    }
done:
  dv_arena_free(a);
  return 0;
}
