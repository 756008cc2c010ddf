/* Page tokens for ListVersions: keyset pagination on the version id.
 *
 * A token is base64url("p1.<last id>.<filter fingerprint>"): the listing
 * continues below the last id returned, so versions stored meanwhile never
 * shift a page (they are newer, and come before it). The fingerprint binds
 * a token to the filter it was made for; a token that does not parse or was
 * made for another filter is INVALID_ARGUMENT. Tokens are not secret: one
 * forged with a valid shape only lists versions the caller could list. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "store.h"

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void fingerprint(const dv_list_filter_t *f, char out[17]) {
  char buf[3 * 1024];
  int n = snprintf(buf, sizeof buf, "%s%c%s%c%s", f->plane, 0, f->switch_uuid, 0, f->switch_name);
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof buf) n = sizeof buf - 1;
  char hex[DV_SHA256_HEX_LEN + 1];
  dv_sha256_hex((const uint8_t *)buf, (size_t)n, hex);
  memcpy(out, hex, 16);
  out[16] = '\0';
}

char *dv_page_token_make(dv_arena_t *a, const dv_list_filter_t *f, int64_t last_id) {
  char fp[17], raw[64];
  fingerprint(f, fp);
  int n = snprintf(raw, sizeof raw, "p1.%" PRId64 ".%s", last_id, fp);
  char *out = dv_arena_alloc(a, (size_t)n * 4 / 3 + 4);
  if (out == NULL) return NULL;
  size_t o = 0;
  for (int i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)(unsigned char)raw[i] << 16;
    if (i + 1 < n) v |= (uint32_t)(unsigned char)raw[i + 1] << 8;
    if (i + 2 < n) v |= (unsigned char)raw[i + 2];
    out[o++] = B64[(v >> 18) & 63];
    out[o++] = B64[(v >> 12) & 63];
    if (i + 1 < n) out[o++] = B64[(v >> 6) & 63];
    if (i + 2 < n) out[o++] = B64[v & 63];
  }
  out[o] = '\0';
  return out;
}

static int b64val(char c) {
  const char *p = c ? strchr(B64, c) : NULL;
  return p ? (int)(p - B64) : -1;
}

int dv_page_token_parse(const char *token, const dv_list_filter_t *f, int64_t *last_id,
                        dv_err_t *err) {
  size_t n = strlen(token);
  char raw[64];
  size_t o = 0;
  if (n == 0 || n > 80 || n % 4 == 1) goto bad;
  for (size_t i = 0; i < n; i += 4) {
    uint32_t v = 0;
    size_t k;
    for (k = 0; k < 4 && i + k < n; k++) {
      int d = b64val(token[i + k]);
      if (d < 0) goto bad;
      v |= (uint32_t)d << (18 - 6 * k);
    }
    raw[o++] = (char)(v >> 16);
    if (k > 2) raw[o++] = (char)(v >> 8);
    if (k > 3) raw[o++] = (char)v;
  }
  raw[o] = '\0';
  int64_t id;
  char fp[17], want[17];
  int used = 0;
  if (strlen(raw) != o || sscanf(raw, "p1.%" SCNd64 ".%16[0-9a-f]%n", &id, fp, &used) != 2 ||
      (size_t)used != o || id <= 0)
    goto bad;
  fingerprint(f, want);
  if (strcmp(fp, want) != 0)
    return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT,
                      "page_token: made for another filter; repeat the first request's filter");
  *last_id = id;
  return 0;
bad:
  return dv_err_set(err, GRPC_STATUS_INVALID_ARGUMENT, "page_token: not a token this service issued");
}
