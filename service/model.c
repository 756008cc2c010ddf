#include "model.h"

#include <stdlib.h>
#include <string.h>

/* dv_sha256_marked keeps SHA-256 states: OpenSSL 3 still has the
 * functions that expose them (SHA256_CTX), deprecated, and EVP none. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "strmap.h"

static int cmp_str(const void *x, const void *y) {
  return strcmp(*(char *const *)x, *(char *const *)y);
}

static int cmp_pg(const void *x, const void *y) {
  const dv_pg_cfg_t *a = *(dv_pg_cfg_t *const *)x;
  const dv_pg_cfg_t *b = *(dv_pg_cfg_t *const *)y;
  int c = strcmp(a->key, b->key);
  return c != 0 ? c : strcmp(a->name, b->name);
}

static int cmp_range(const void *x, const void *y) {
  const Dvsconf__V1__NumericRange *a = *(Dvsconf__V1__NumericRange *const *)x;
  const Dvsconf__V1__NumericRange *b = *(Dvsconf__V1__NumericRange *const *)y;
  if (a->start != b->start) return a->start < b->start ? -1 : 1;
  if (a->end != b->end) return a->end < b->end ? -1 : 1;
  return 0;
}

/* qsort, but only when not sorted already (the common case: configs come
 * back canonical from the store and in key order from planes), and a no-op
 * for fewer than two elements (whose base may be NULL). */
static void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *)) {
  const char *p = base;
  size_t i = 1;
  while (i < n && cmp(p + (i - 1) * size, p + i * size) <= 0) i++;
  if (i < n) qsort(base, n, size, cmp);
}

static void canonicalize_port_settings(dv_port_settings_t *ps) {
  if (ps == NULL || ps->vlan == NULL) return;
  sort(ps->vlan->trunk_ranges, ps->vlan->n_trunk_ranges, sizeof(void *), cmp_range);
}

void dv_pg_canonicalize(dv_pg_cfg_t *pg) {
  canonicalize_port_settings(pg->default_port_config);
}

void dv_config_canonicalize(dv_switch_cfg_t *cfg) {
  sort(cfg->host_members, cfg->n_host_members, sizeof(char *), cmp_str);
  sort(cfg->portgroups, cfg->n_portgroups, sizeof(void *), cmp_pg);
  canonicalize_port_settings(cfg->default_port_config);
  for (size_t i = 0; i < cfg->n_portgroups; i++) dv_pg_canonicalize(cfg->portgroups[i]);
}

static int pack_msg(dv_arena_t *a, const ProtobufCMessage *m, uint8_t **out, size_t *len) {
  size_t n = protobuf_c_message_get_packed_size(m);
  uint8_t *buf = dv_arena_alloc_raw(a, n);
  if (buf == NULL) return -1;
  protobuf_c_message_pack(m, buf);
  *out = buf;
  *len = n;
  return 0;
}

int dv_config_encode(dv_arena_t *a, dv_switch_cfg_t *cfg, uint8_t **out, size_t *len,
                     dv_err_t *err) {
  dv_config_canonicalize(cfg);
  if (pack_msg(a, &cfg->base, out, len) != 0) return DV_NOMEM(err);
  return 0;
}

static void to_hex(const unsigned char md[32], char out[DV_SHA256_HEX_LEN + 1]) {
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  out[DV_SHA256_HEX_LEN] = '\0';
}

void dv_sha256_hex(const uint8_t *data, size_t len, char out[DV_SHA256_HEX_LEN + 1]) {
  unsigned char md[32];
  unsigned int mdlen = 0;
  if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
    memset(md, 0, sizeof md); /* never happens with OpenSSL's built-in SHA-256 */
  }
  to_hex(md, out);
}

void dv_sha256_marked(dv_arena_t *a, const uint8_t *data, size_t len, const uint8_t *like,
                      size_t like_len, size_t same, const uint8_t **marks, size_t *marks_len,
                      char out[DV_SHA256_HEX_LEN + 1]) {
  const size_t step = DV_SHA_MARK_STEP, n = len / step;
  SHA256_CTX c, *at = n > 0 ? dv_arena_alloc_raw(a, n * sizeof c) : NULL;
  /* resume at the last of like's marks inside the bytes in common */
  size_t k = like != NULL ? like_len / sizeof c : 0;
  if (k > same / step) k = same / step;
  if (k > n) k = n;
  if (k > 0) {
    memcpy(&c, like + (k - 1) * sizeof c, sizeof c);
    if (at != NULL) memcpy(at, like, k * sizeof c);
  } else {
    SHA256_Init(&c);
  }
  for (size_t i = k; i < n; i++) {
    SHA256_Update(&c, data + i * step, step);
    if (at != NULL) at[i] = c;
  }
  SHA256_Update(&c, data + n * step, len - n * step);
  unsigned char md[32];
  SHA256_Final(md, &c);
  to_hex(md, out);
  *marks = (const uint8_t *)at;
  *marks_len = at != NULL ? n * sizeof c : 0;
}

int dv_wire_digest_pgs(dv_arena_t *a, dv_wire_cfg_t *cur, const dv_wire_cfg_t *prev,
                       const size_t *match) {
  uint8_t *d = dv_arena_alloc_raw(a, cur->n_pgs * DV_WIRE_DIGEST_LEN + 1);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  const EVP_MD *sha256 = EVP_sha256();
  int rc = d != NULL && ctx != NULL ? 0 : -1;
  if (prev == NULL || prev->digests == NULL) match = NULL;
  for (size_t j = 0; j < cur->n_pgs && rc == 0; j++) {
    uint8_t *out = d + j * DV_WIRE_DIGEST_LEN;
    if (match != NULL && match[j] != 0) {
      memcpy(out, prev->digests + (match[j] - 1) * DV_WIRE_DIGEST_LEN, DV_WIRE_DIGEST_LEN);
      continue;
    }
    unsigned int len = 0;
    if (EVP_DigestInit_ex(ctx, sha256, NULL) != 1 ||
        EVP_DigestUpdate(ctx, cur->pgs[j].data, cur->pgs[j].len) != 1 ||
        EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != DV_WIRE_DIGEST_LEN)
      rc = -1;
  }
  /* and one per block of them */
  size_t nb = dv_wire_blocks(cur->n_pgs);
  uint8_t *b = rc == 0 ? dv_arena_alloc_raw(a, nb * DV_WIRE_DIGEST_LEN + 1) : NULL;
  if (b == NULL) rc = -1;
  for (size_t k = 0; k < nb && rc == 0; k++) {
    size_t first = k * DV_WIRE_BLOCK, n = cur->n_pgs - first;
    if (n > DV_WIRE_BLOCK) n = DV_WIRE_BLOCK;
    unsigned int len = 0;
    if (EVP_DigestInit_ex(ctx, sha256, NULL) != 1 ||
        EVP_DigestUpdate(ctx, d + first * DV_WIRE_DIGEST_LEN, n * DV_WIRE_DIGEST_LEN) != 1 ||
        EVP_DigestFinal_ex(ctx, b + k * DV_WIRE_DIGEST_LEN, &len) != 1 ||
        len != DV_WIRE_DIGEST_LEN)
      rc = -1;
  }
  EVP_MD_CTX_free(ctx);
  if (rc == 0) {
    cur->digests = d;
    cur->block_digests = b;
  }
  return rc;
}

int dv_config_checksum(dv_arena_t *a, dv_switch_cfg_t *cfg, char out[DV_SHA256_HEX_LEN + 1],
                       dv_err_t *err) {
  uint8_t *buf = NULL;
  size_t len = 0;
  if (dv_config_encode(a, cfg, &buf, &len, err) != 0) return -1;
  dv_sha256_hex(buf, len, out);
  return 0;
}

static bool msg_bytes_equal(dv_arena_t *a, const ProtobufCMessage *x, const ProtobufCMessage *y) {
  if (x == NULL || y == NULL) return x == y;
  uint8_t *bx, *by;
  size_t lx, ly;
  if (pack_msg(a, x, &bx, &lx) != 0 || pack_msg(a, y, &by, &ly) != 0) return false;
  return lx == ly && memcmp(bx, by, lx) == 0;
}

bool dv_config_equal(dv_arena_t *a, dv_switch_cfg_t *x, dv_switch_cfg_t *y) {
  dv_config_canonicalize(x);
  dv_config_canonicalize(y);
  return msg_bytes_equal(a, &x->base, &y->base);
}

bool dv_pg_equal(dv_arena_t *a, const dv_pg_cfg_t *x, const dv_pg_cfg_t *y, bool ignore_key,
                 bool ignore_name) {
  dv_pg_cfg_t cx = *x, cy = *y;
  if (ignore_key) cx.key = cy.key = (char *)"";
  if (ignore_name) cx.name = cy.name = (char *)"";
  return msg_bytes_equal(a, &cx.base, &cy.base);
}

bool dv_switch_settings_equal(dv_arena_t *a, const dv_switch_cfg_t *x, const dv_switch_cfg_t *y) {
  dv_switch_cfg_t cx = *x, cy = *y;
  cx.n_portgroups = cy.n_portgroups = 0;
  cx.n_host_members = cy.n_host_members = 0;
  cx.uuid = cy.uuid = (char *)"";
  cx.name = cy.name = (char *)"";
  cx.datacenter = cy.datacenter = (char *)"";
  return msg_bytes_equal(a, &cx.base, &cy.base);
}

void *dv_msg_clone(dv_arena_t *a, const ProtobufCMessage *m) {
  uint8_t *buf;
  size_t len;
  if (pack_msg(a, m, &buf, &len) != 0) return NULL;
  return protobuf_c_message_unpack(m->descriptor, dv_arena_allocator(a), len, buf);
}

dv_pg_cfg_t *dv_config_find_pg_by_name(const dv_switch_cfg_t *cfg, const char *name) {
  if (name == NULL || name[0] == '\0') return NULL;
  for (size_t i = 0; i < cfg->n_portgroups; i++)
    if (strcmp(cfg->portgroups[i]->name, name) == 0) return cfg->portgroups[i];
  return NULL;
}

const char *dv_pg_identity(const dv_pg_cfg_t *pg) {
  return pg->key[0] != '\0' ? pg->key : pg->name;
}

int dv_config_check_identities(const dv_switch_cfg_t *cfg, dv_err_t *err) {
  dv_arena_t *a = dv_arena_new();
  dv_strmap_t *seen = a ? dv_strmap_new(a, cfg->n_portgroups) : NULL;
  int rc = 0;
  if (seen == NULL) rc = DV_NOMEM(err);
  for (size_t i = 0; rc == 0 && i < cfg->n_portgroups; i++) {
    const dv_pg_cfg_t *pg = cfg->portgroups[i];
    if (pg->name[0] == '\0') {
      rc = dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "config.portgroups[%zu].name: required", i);
      break;
    }
    const char *id = dv_pg_identity(pg);
    const dv_pg_cfg_t *other = dv_strmap_get(seen, id);
    if (other != NULL)
      rc = dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT,
                      "config.portgroups: \"%.128s\" appears twice (port groups \"%.128s\" and"
                      " \"%.128s\"; a port group is known by its key, or by its name when it has"
                      " no key)",
                      id, other->name, pg->name);
    else if (dv_strmap_put(seen, id, (void *)pg) != 0)
      rc = DV_NOMEM(err);
  }
  dv_arena_free(a);
  return rc;
}
