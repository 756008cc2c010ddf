/* pbjson: the proto3 JSON mapping, walked from protobuf-c descriptors. See pbjson.h. */
#include "pbjson.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TIMESTAMP_NAME "google.protobuf.Timestamp"
#define MAX_DEPTH 64 /* nesting of messages in JSON we accept */

/* Smallest and largest seconds of a Timestamp: 0001-01-01T00:00:00Z and
 * 9999-12-31T23:59:59Z. */
#define TS_MIN_SECONDS INT64_C(-62135596800)
#define TS_MAX_SECONDS INT64_C(253402300799)

/* ---------------------------------------------------------------------------
 * Descriptors
 * ------------------------------------------------------------------------- */

char *pbjson_json_name(const char *name, char *out, size_t cap) {
  size_t o = 0;
  bool upper = false;
  if (cap == 0) return out;
  for (const char *p = name; *p != '\0' && o + 1 < cap; p++) {
    if (*p == '_') {
      upper = true;
    } else {
      out[o++] = upper && *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
      upper = false;
    }
  }
  out[o] = '\0';
  return out;
}

/* Where a field's value lives in message m, and its count/case/has word. */
#define FIELD_PTR(m, f) ((void *)((char *)(m) + (f)->offset))
#define QUANT_PTR(m, f) ((void *)((char *)(m) + (f)->quantifier_offset))

static size_t elem_size(ProtobufCType t) {
  switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: return 8;
    case PROTOBUF_C_TYPE_FLOAT: return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE: return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM: return sizeof(int);
    case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
  }
  return 0;
}

/* A map field: repeated FooEntry {key = 1; value = 2;} declared inside the
 * message that has the field, named after the field (protoc's rule). */
static bool is_map_field(const ProtobufCMessageDescriptor *parent,
                         const ProtobufCFieldDescriptor *f) {
  if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE) return false;
  const ProtobufCMessageDescriptor *e = f->descriptor;
  if (e->n_fields != 2 || e->fields[0].id != 1 || e->fields[1].id != 2 ||
      strcmp(e->fields[0].name, "key") != 0 || strcmp(e->fields[1].name, "value") != 0)
    return false;
  char camel[256];
  pbjson_json_name(f->name, camel, sizeof camel);
  if (camel[0] >= 'a' && camel[0] <= 'z') camel[0] = (char)(camel[0] - 'a' + 'A');
  size_t pl = strlen(parent->name);
  return strncmp(e->name, parent->name, pl) == 0 && e->name[pl] == '.' &&
         strncmp(e->name + pl + 1, camel, strlen(camel)) == 0 &&
         strcmp(e->name + pl + 1 + strlen(camel), "Entry") == 0;
}

/* ---------------------------------------------------------------------------
 * UTF-8 and base64
 * ------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (of n bytes), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t len;
  uint32_t cp, min;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F, min = 0x80;
  else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F, min = 0x800;
  else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07, min = 0x10000;
  else return 0;
  if (len > n) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

/* A JSON string of s; bytes that are not UTF-8 become U+FFFD. */
static json_t *jstring(const char *s) {
  size_t n = strlen(s);
  json_t *j = json_stringn(s, n);
  if (j != NULL) return j;
  char *fixed = malloc(n * 3 + 1);
  if (fixed == NULL) return NULL;
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    size_t k = utf8_seq((const unsigned char *)s + i, n - i);
    if (k == 0) {
      memcpy(fixed + o, "\xEF\xBF\xBD", 3);
      o += 3;
      i++;
    } else {
      memcpy(fixed + o, s + i, k);
      o += k;
      i += k;
    }
  }
  j = json_stringn(fixed, o);
  free(fixed);
  return j;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static json_t *base64_encode(const uint8_t *p, size_t n) {
  char *out = malloc((n + 2) / 3 * 4 + 1);
  if (out == NULL) return NULL;
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16;
    if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
    if (i + 2 < n) v |= p[i + 2];
    out[o++] = B64[(v >> 18) & 63];
    out[o++] = B64[(v >> 12) & 63];
    out[o++] = i + 1 < n ? B64[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < n ? B64[v & 63] : '=';
  }
  json_t *j = json_stringn(out, o);
  free(out);
  return j;
}

static int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

/* Standard or URL-safe base64, padding optional. 0 on success. */
static int base64_decode(const char *s, size_t n, ProtobufCBinaryData *out) {
  while (n > 0 && s[n - 1] == '=') n--;
  if (n % 4 == 1) return -1;
  uint8_t *p = malloc(n * 3 / 4 + 1);
  if (p == NULL) return -1;
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64_value(s[i]);
    if (v < 0) {
      free(p);
      return -1;
    }
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      p[o++] = (uint8_t)(acc >> bits);
    }
  }
  out->data = p;
  out->len = o;
  return 0;
}

/* ---------------------------------------------------------------------------
 * Timestamps (proleptic Gregorian calendar, UTC)
 * ------------------------------------------------------------------------- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int)((int64_t)yoe + era * 400 + (*m <= 2));
}

/* Field `name` of a message, by descriptor (Timestamp's seconds / nanos). */
static const ProtobufCFieldDescriptor *field_named(const ProtobufCMessageDescriptor *d,
                                                  const char *name) {
  return protobuf_c_message_descriptor_get_field_by_name(d, name);
}

/* NULL when the timestamp is out of the RFC 3339 range: the caller then
 * writes it as a plain message. */
static json_t *timestamp_encode(const ProtobufCMessage *m) {
  const ProtobufCFieldDescriptor *fs = field_named(m->descriptor, "seconds");
  const ProtobufCFieldDescriptor *fn = field_named(m->descriptor, "nanos");
  if (fs == NULL || fn == NULL) return NULL;
  int64_t secs = *(const int64_t *)FIELD_PTR(m, fs);
  int32_t nanos = *(const int32_t *)FIELD_PTR(m, fn);
  if (secs < TS_MIN_SECONDS || secs > TS_MAX_SECONDS || nanos < 0 || nanos > 999999999)
    return NULL;
  int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  int64_t rem = secs - days * 86400;
  int y;
  unsigned mo, d;
  civil_from_days(days, &y, &mo, &d);
  char buf[64];
  int n = snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", y, mo, d, (int)(rem / 3600),
                   (int)(rem / 60 % 60), (int)(rem % 60));
  if (nanos % 1000000 == 0 && nanos != 0) n += snprintf(buf + n, sizeof buf - n, ".%03d", nanos / 1000000);
  else if (nanos % 1000 == 0 && nanos != 0) n += snprintf(buf + n, sizeof buf - n, ".%06d", nanos / 1000);
  else if (nanos != 0) n += snprintf(buf + n, sizeof buf - n, ".%09d", nanos);
  snprintf(buf + n, sizeof buf - n, "Z");
  return json_string(buf);
}

static int digits(const char **p, int n) {
  int v = 0;
  for (int i = 0; i < n; i++, (*p)++) {
    if (**p < '0' || **p > '9') return -1;
    v = v * 10 + (**p - '0');
  }
  return v;
}

/* "YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+HH:MM|-HH:MM)" -> seconds, nanos. */
static int timestamp_parse(const char *s, int64_t *secs, int32_t *nanos) {
  const char *p = s;
  int y = digits(&p, 4);
  if (y < 1 || *p++ != '-') return -1;
  int mo = digits(&p, 2);
  if (mo < 1 || mo > 12 || *p++ != '-') return -1;
  int d = digits(&p, 2);
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap)) return -1;
  if (*p != 'T' && *p != 't') return -1;
  p++;
  int hh = digits(&p, 2);
  if (hh < 0 || hh > 23 || *p++ != ':') return -1;
  int mi = digits(&p, 2);
  if (mi < 0 || mi > 59 || *p++ != ':') return -1;
  int ss = digits(&p, 2);
  if (ss < 0 || ss > 59) return -1;
  int32_t ns = 0;
  if (*p == '.') {
    p++;
    int nd = 0;
    while (*p >= '0' && *p <= '9') {
      if (++nd > 9) return -1;
      ns = ns * 10 + (*p++ - '0');
    }
    if (nd == 0) return -1;
    for (; nd < 9; nd++) ns *= 10;
  }
  int64_t offset = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int sign = *p++ == '-' ? -1 : 1;
    int oh = digits(&p, 2);
    if (oh < 0 || oh > 23 || *p++ != ':') return -1;
    int om = digits(&p, 2);
    if (om < 0 || om > 59) return -1;
    offset = sign * (oh * 3600 + om * 60);
  } else {
    return -1;
  }
  if (*p != '\0') return -1;
  int64_t t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + hh * 3600 + mi * 60 + ss -
              offset;
  if (t < TS_MIN_SECONDS || t > TS_MAX_SECONDS) return -1;
  *secs = t;
  *nanos = ns;
  return 0;
}

/* ---------------------------------------------------------------------------
 * Message -> JSON
 * ------------------------------------------------------------------------- */

static json_t *enc_msg(const ProtobufCMessage *m);

/* One value of field f stored at p (an element, for repeated fields). */
static json_t *enc_value(const ProtobufCFieldDescriptor *f, const void *p) {
  char buf[32];
  switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
      snprintf(buf, sizeof buf, "%" PRId64, *(const int64_t *)p);
      return json_string(buf);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
      snprintf(buf, sizeof buf, "%" PRIu64, *(const uint64_t *)p);
      return json_string(buf);
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE: {
      double v = f->type == PROTOBUF_C_TYPE_FLOAT ? *(const float *)p : *(const double *)p;
      if (isnan(v)) return json_string("NaN");
      if (isinf(v)) return json_string(v > 0 ? "Infinity" : "-Infinity");
      return json_real(v);
    }
    case PROTOBUF_C_TYPE_BOOL: return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_ENUM: {
      int v = *(const int *)p;
      const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
      return ev != NULL ? json_string(ev->name) : json_integer(v);
    }
    case PROTOBUF_C_TYPE_STRING: {
      const char *s = *(char *const *)p;
      return jstring(s != NULL ? s : "");
    }
    case PROTOBUF_C_TYPE_BYTES: {
      const ProtobufCBinaryData *b = p;
      return base64_encode(b->data, b->data != NULL ? b->len : 0);
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
      const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
      if (sub == NULL) return json_object(); /* e.g. a map entry without its value */
      if (strcmp(sub->descriptor->name, TIMESTAMP_NAME) == 0) {
        json_t *t = timestamp_encode(sub);
        if (t != NULL) return t;
      }
      return enc_msg(sub);
    }
  }
  return NULL;
}

/* Is field f of m set (proto3: not its default value)? */
static bool present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
  const void *p = FIELD_PTR(m, f);
  if (f->label == PROTOBUF_C_LABEL_REPEATED) return *(const size_t *)QUANT_PTR(m, f) > 0;
  if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) return *(const uint32_t *)QUANT_PTR(m, f) == f->id;
  if (f->type == PROTOBUF_C_TYPE_MESSAGE) return *(ProtobufCMessage *const *)p != NULL;
  if (f->label == PROTOBUF_C_LABEL_REQUIRED) return true;
  if (f->label == PROTOBUF_C_LABEL_OPTIONAL) {
    if (f->type == PROTOBUF_C_TYPE_STRING) return *(char *const *)p != NULL;
    return *(const protobuf_c_boolean *)QUANT_PTR(m, f);
  }
  switch (f->type) { /* PROTOBUF_C_LABEL_NONE: proto3 */
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: return *(const uint32_t *)p != 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: return *(const uint64_t *)p != 0;
    case PROTOBUF_C_TYPE_FLOAT: return *(const float *)p != 0 || signbit(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE: return *(const double *)p != 0 || signbit(*(const double *)p);
    case PROTOBUF_C_TYPE_BOOL: return *(const protobuf_c_boolean *)p != 0;
    case PROTOBUF_C_TYPE_ENUM: return *(const int *)p != 0;
    case PROTOBUF_C_TYPE_STRING: {
      const char *s = *(char *const *)p;
      return s != NULL && s[0] != '\0';
    }
    case PROTOBUF_C_TYPE_BYTES: return ((const ProtobufCBinaryData *)p)->len > 0;
    case PROTOBUF_C_TYPE_MESSAGE: return *(ProtobufCMessage *const *)p != NULL;
  }
  return false;
}

/* A map key as a JSON object key. */
static void map_key_text(const ProtobufCMessage *entry, char *buf, size_t cap, const char **out) {
  const ProtobufCFieldDescriptor *kf = &entry->descriptor->fields[0];
  const void *p = FIELD_PTR(entry, kf);
  *out = buf;
  switch (kf->type) {
    case PROTOBUF_C_TYPE_STRING: *out = *(char *const *)p ? *(char *const *)p : ""; break;
    case PROTOBUF_C_TYPE_BOOL: snprintf(buf, cap, "%s", *(const protobuf_c_boolean *)p ? "true" : "false"); break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: snprintf(buf, cap, "%" PRIu32, *(const uint32_t *)p); break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: snprintf(buf, cap, "%" PRIu64, *(const uint64_t *)p); break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: snprintf(buf, cap, "%" PRId64, *(const int64_t *)p); break;
    default: snprintf(buf, cap, "%" PRId32, *(const int32_t *)p); break;
  }
}

static int cmp_entry_key(const void *a, const void *b) {
  const ProtobufCMessage *x = *(ProtobufCMessage *const *)a, *y = *(ProtobufCMessage *const *)b;
  char bx[32], by[32];
  const char *kx, *ky;
  map_key_text(x, bx, sizeof bx, &kx);
  map_key_text(y, by, sizeof by, &ky);
  return strcmp(kx, ky);
}

/* A map as an object; string keys in sorted order, so that output is stable. */
static json_t *enc_map(const ProtobufCFieldDescriptor *f, ProtobufCMessage *const *entries,
                       size_t n) {
  json_t *o = json_object();
  ProtobufCMessage **sorted = malloc((n ? n : 1) * sizeof *sorted);
  if (o == NULL || sorted == NULL) goto fail;
  memcpy(sorted, entries, n * sizeof *sorted);
  if (((const ProtobufCMessageDescriptor *)f->descriptor)->fields[0].type == PROTOBUF_C_TYPE_STRING)
    qsort(sorted, n, sizeof *sorted, cmp_entry_key);
  for (size_t i = 0; i < n; i++) {
    char buf[32];
    const char *key;
    map_key_text(sorted[i], buf, sizeof buf, &key);
    const ProtobufCFieldDescriptor *vf = &sorted[i]->descriptor->fields[1];
    json_t *v = enc_value(vf, FIELD_PTR(sorted[i], vf));
    json_t *k = v != NULL ? jstring(key) : NULL; /* a key that is not UTF-8 is repaired */
    if (k == NULL) {
      json_decref(v);
      goto fail;
    }
    int rc = json_object_set_new(o, json_string_value(k), v); /* takes v, even on failure */
    json_decref(k);
    if (rc != 0) goto fail;
  }
  free(sorted);
  return o;
fail:
  free(sorted);
  json_decref(o);
  return NULL;
}

static json_t *enc_msg(const ProtobufCMessage *m) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  json_t *o = json_object();
  if (o == NULL) return NULL;
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (!present(m, f)) continue;
    json_t *v;
    const void *p = FIELD_PTR(m, f);
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      size_t n = *(const size_t *)QUANT_PTR(m, f);
      const char *arr = *(char *const *)p;
      if (is_map_field(d, f)) {
        v = enc_map(f, (ProtobufCMessage *const *)arr, n);
      } else {
        v = json_array();
        size_t sz = elem_size(f->type);
        for (size_t k = 0; v != NULL && k < n; k++)
          if (json_array_append_new(v, enc_value(f, arr + k * sz)) != 0) {
            json_decref(v);
            v = NULL;
          }
      }
    } else {
      v = enc_value(f, p);
    }
    char name[256];
    if (v == NULL || json_object_set_new(o, pbjson_json_name(f->name, name, sizeof name), v) != 0) {
      json_decref(o);
      return NULL;
    }
  }
  return o;
}

json_t *pbjson_encode(const ProtobufCMessage *msg) {
  if (msg == NULL) return NULL;
  return enc_msg(msg);
}

/* ---------------------------------------------------------------------------
 * JSON -> message
 * ------------------------------------------------------------------------- */

typedef struct dec {
  char path[400];
  size_t len;
  int depth;
  pbjson_error_t *err;
} dec_t;

static int fail(dec_t *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(dec_t *d, const char *fmt, ...) {
  if (d->err == NULL) return -1;
  int n = d->len > 0 ? snprintf(d->err->text, sizeof d->err->text, "%s: ", d->path) : 0;
  if (n < 0 || (size_t)n >= sizeof d->err->text) return -1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d->err->text + n, sizeof d->err->text - (size_t)n, fmt, ap);
  va_end(ap);
  return -1;
}

/* Append to the path; returns the length to restore with pop(). */
static size_t push(dec_t *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static size_t push(dec_t *d, const char *fmt, ...) {
  size_t saved = d->len;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(d->path + d->len, sizeof d->path - d->len, fmt, ap);
  va_end(ap);
  if (n > 0) d->len += (size_t)n < sizeof d->path - d->len ? (size_t)n : sizeof d->path - d->len - 1;
  return saved;
}

static void pop(dec_t *d, size_t saved) {
  d->len = saved;
  d->path[saved] = '\0';
}

static const char *json_type_name(const json_t *j) {
  switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
  }
  return "a value";
}

/* An integer in [min, max] from a JSON number or a decimal string. */
static int get_i64(dec_t *d, const json_t *j, int64_t min, int64_t max, const char *type,
                   int64_t *out) {
  int64_t v;
  if (json_is_integer(j)) {
    v = json_integer_value(j);
  } else if (json_is_real(j)) {
    double x = json_real_value(j);
    if (x != floor(x)) return fail(d, "expected an integer, got %g", x);
    if (x < -9223372036854775808.0 || x >= 9223372036854775808.0)
      return fail(d, "%g is out of range for %s", x, type);
    v = (int64_t)x;
  } else if (json_is_string(j)) {
    const char *s = json_string_value(j);
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (s[0] == '\0' || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) || *end != '\0')
      return fail(d, "expected a number, got \"%s\"", s);
    if (errno == ERANGE) return fail(d, "%s is out of range for %s", s, type);
    v = x;
  } else {
    return fail(d, "expected a number");
  }
  if (v < min || v > max) return fail(d, "%" PRId64 " is out of range for %s", v, type);
  *out = v;
  return 0;
}

static int get_u64(dec_t *d, const json_t *j, uint64_t max, const char *type, uint64_t *out) {
  uint64_t v;
  if (json_is_integer(j)) {
    json_int_t x = json_integer_value(j);
    if (x < 0) return fail(d, "%" JSON_INTEGER_FORMAT " is out of range for %s", x, type);
    v = (uint64_t)x;
  } else if (json_is_real(j)) {
    double x = json_real_value(j);
    if (x != floor(x)) return fail(d, "expected an integer, got %g", x);
    if (x < 0 || x >= 18446744073709551616.0) return fail(d, "%g is out of range for %s", x, type);
    v = (uint64_t)x;
  } else if (json_is_string(j)) {
    const char *s = json_string_value(j);
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0')
      return fail(d, "expected a number, got \"%s\"", s);
    if (errno == ERANGE) return fail(d, "%s is out of range for %s", s, type);
    v = x;
  } else {
    return fail(d, "expected a number");
  }
  if (v > max) return fail(d, "%" PRIu64 " is out of range for %s", v, type);
  *out = v;
  return 0;
}

static int get_double(dec_t *d, const json_t *j, bool is_float, double *out) {
  double v;
  if (json_is_number(j)) {
    v = json_number_value(j);
  } else if (json_is_string(j)) {
    const char *s = json_string_value(j);
    char *end;
    if (strcmp(s, "NaN") == 0) v = NAN;
    else if (strcmp(s, "Infinity") == 0) v = INFINITY;
    else if (strcmp(s, "-Infinity") == 0) v = -INFINITY;
    else {
      errno = 0;
      v = strtod(s, &end);
      if (s[0] == '\0' || *end != '\0' || isnan(v) || isinf(v))
        return fail(d, "expected a number, got \"%s\"", s);
    }
  } else {
    return fail(d, "expected a number");
  }
  if (is_float && isfinite(v) && fabs(v) > FLT_MAX) return fail(d, "%g is out of range for float", v);
  *out = v;
  return 0;
}

static int get_enum(dec_t *d, const ProtobufCEnumDescriptor *ed, const json_t *j, int *out) {
  if (json_is_string(j)) {
    const char *s = json_string_value(j);
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(ed, s);
    if (v == NULL) {
      char names[256] = "";
      size_t n = 0;
      for (unsigned i = 0; i < ed->n_values && n < sizeof names; i++)
        n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", i ? ", " : "",
                              ed->values[i].name);
      return fail(d, "unknown value \"%s\" for %s (one of: %s)", s, ed->name, names);
    }
    *out = v->value;
    return 0;
  }
  if (json_is_number(j)) {
    int64_t v;
    if (get_i64(d, j, INT32_MIN, INT32_MAX, "an enum", &v) != 0) return -1;
    *out = (int)v;
    return 0;
  }
  return fail(d, "expected a name of %s, got %s", ed->name, json_type_name(j));
}

static int dec_msg(dec_t *d, const ProtobufCMessageDescriptor *desc, const json_t *j,
                   ProtobufCMessage **out);

static ProtobufCMessage *new_msg(const ProtobufCMessageDescriptor *desc) {
  ProtobufCMessage *m = calloc(1, desc->sizeof_message);
  if (m != NULL) desc->message_init(m);
  return m;
}

/* One value of field f from JSON j into dst (a field or an element). On
 * error nothing was stored at dst. */
static int dec_value(dec_t *d, const ProtobufCFieldDescriptor *f, const json_t *j, void *dst) {
  int64_t i;
  uint64_t u;
  double x;
  switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
      if (get_i64(d, j, INT32_MIN, INT32_MAX, "int32", &i) != 0) return -1;
      *(int32_t *)dst = (int32_t)i;
      return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
      if (get_u64(d, j, UINT32_MAX, "uint32", &u) != 0) return -1;
      *(uint32_t *)dst = (uint32_t)u;
      return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
      if (get_i64(d, j, INT64_MIN, INT64_MAX, "int64", &i) != 0) return -1;
      *(int64_t *)dst = i;
      return 0;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
      if (get_u64(d, j, UINT64_MAX, "uint64", &u) != 0) return -1;
      *(uint64_t *)dst = u;
      return 0;
    case PROTOBUF_C_TYPE_FLOAT:
      if (get_double(d, j, true, &x) != 0) return -1;
      *(float *)dst = (float)x;
      return 0;
    case PROTOBUF_C_TYPE_DOUBLE:
      if (get_double(d, j, false, &x) != 0) return -1;
      *(double *)dst = x;
      return 0;
    case PROTOBUF_C_TYPE_BOOL:
      if (!json_is_boolean(j)) return fail(d, "expected true or false, got %s", json_type_name(j));
      *(protobuf_c_boolean *)dst = json_is_true(j);
      return 0;
    case PROTOBUF_C_TYPE_ENUM: return get_enum(d, f->descriptor, j, (int *)dst);
    case PROTOBUF_C_TYPE_STRING: {
      if (!json_is_string(j)) return fail(d, "expected a string, got %s", json_type_name(j));
      const char *s = json_string_value(j);
      if (strlen(s) != json_string_length(j)) return fail(d, "a string must not contain NUL");
      char *copy = strdup(s);
      if (copy == NULL) return fail(d, "out of memory");
      *(char **)dst = copy;
      return 0;
    }
    case PROTOBUF_C_TYPE_BYTES: {
      if (!json_is_string(j)) return fail(d, "expected base64 text, got %s", json_type_name(j));
      ProtobufCBinaryData b;
      if (base64_decode(json_string_value(j), json_string_length(j), &b) != 0)
        return fail(d, "expected base64 text");
      *(ProtobufCBinaryData *)dst = b;
      return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
      const ProtobufCMessageDescriptor *md = f->descriptor;
      ProtobufCMessage *sub = NULL;
      if (strcmp(md->name, TIMESTAMP_NAME) == 0 && json_is_string(j)) {
        int64_t secs;
        int32_t nanos;
        if (timestamp_parse(json_string_value(j), &secs, &nanos) != 0)
          return fail(d, "expected an RFC 3339 time such as \"2024-05-01T12:00:00Z\", got \"%s\"",
                      json_string_value(j));
        const ProtobufCFieldDescriptor *fs = field_named(md, "seconds");
        const ProtobufCFieldDescriptor *fn = field_named(md, "nanos");
        if (fs == NULL || fn == NULL || (sub = new_msg(md)) == NULL) return fail(d, "out of memory");
        *(int64_t *)FIELD_PTR(sub, fs) = secs;
        *(int32_t *)FIELD_PTR(sub, fn) = nanos;
      } else if (strcmp(md->name, TIMESTAMP_NAME) == 0 && !json_is_object(j)) {
        return fail(d, "expected an RFC 3339 time string, got %s", json_type_name(j));
      } else if (dec_msg(d, md, j, &sub) != 0) {
        return -1;
      }
      *(ProtobufCMessage **)dst = sub;
      return 0;
    }
  }
  return fail(d, "field type %d is not supported", (int)f->type);
}

/* A map field from a JSON object: one entry message per member. */
static int dec_map(dec_t *d, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                   const json_t *j) {
  if (!json_is_object(j)) return fail(d, "expected an object, got %s", json_type_name(j));
  const ProtobufCMessageDescriptor *ed = f->descriptor;
  const ProtobufCFieldDescriptor *kf = &ed->fields[0], *vf = &ed->fields[1];
  size_t n = json_object_size(j);
  ProtobufCMessage **arr = calloc(n ? n : 1, sizeof *arr);
  if (arr == NULL) return fail(d, "out of memory");
  *(ProtobufCMessage ***)FIELD_PTR(m, f) = arr;
  size_t *count = QUANT_PTR(m, f);
  const char *key;
  json_t *val;
  json_object_foreach((json_t *)j, key, val) {
    size_t saved = push(d, "[\"%s\"]", key);
    ProtobufCMessage *e = new_msg(ed);
    if (e == NULL) return fail(d, "out of memory");
    arr[(*count)++] = e; /* from here on freed with m */
    int rc = 0;
    if (kf->type == PROTOBUF_C_TYPE_BOOL) {
      if (strcmp(key, "true") != 0 && strcmp(key, "false") != 0)
        return fail(d, "a key of this map is true or false");
      *(protobuf_c_boolean *)FIELD_PTR(e, kf) = strcmp(key, "true") == 0;
    } else {
      json_t *k = json_string(key);
      if (k == NULL) return fail(d, "out of memory");
      rc = dec_value(d, kf, k, FIELD_PTR(e, kf));
      json_decref(k);
    }
    if (rc != 0) return -1;
    if (json_is_null(val)) return fail(d, "null is not a map value");
    if (dec_value(d, vf, val, FIELD_PTR(e, vf)) != 0) return -1;
    pop(d, saved);
  }
  return 0;
}

/* A repeated (non-map) field from a JSON array. */
static int dec_list(dec_t *d, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                    const json_t *j) {
  if (!json_is_array(j)) return fail(d, "expected a list, got %s", json_type_name(j));
  size_t n = json_array_size(j), sz = elem_size(f->type);
  char *arr = calloc(n ? n : 1, sz);
  if (arr == NULL) return fail(d, "out of memory");
  *(char **)FIELD_PTR(m, f) = arr;
  size_t *count = QUANT_PTR(m, f);
  for (size_t i = 0; i < n; i++) {
    size_t saved = push(d, "[%zu]", i);
    const json_t *v = json_array_get(j, i);
    if (json_is_null(v)) return fail(d, "null is not a list element");
    if (dec_value(d, f, v, arr + i * sz) != 0) return -1;
    (*count)++; /* only filled elements count: the free sees a consistent list */
    pop(d, saved);
  }
  return 0;
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *desc,
                                                  const char *key) {
  char name[256];
  for (unsigned i = 0; i < desc->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &desc->fields[i];
    if (strcmp(f->name, key) == 0 ||
        strcmp(pbjson_json_name(f->name, name, sizeof name), key) == 0)
      return f;
  }
  return NULL;
}

static int dec_fields(dec_t *d, ProtobufCMessage *m, const json_t *j) {
  const ProtobufCMessageDescriptor *desc = m->descriptor;
  const char *seen_as[desc->n_fields ? desc->n_fields : 1];
  memset(seen_as, 0, sizeof seen_as);
  const char *key;
  json_t *val;
  json_object_foreach((json_t *)j, key, val) {
    const ProtobufCFieldDescriptor *f = find_field(desc, key);
    size_t saved = push(d, "%s%s", d->len ? "." : "", key);
    if (f == NULL) return fail(d, "unknown field (%s has no such field)", desc->name);
    size_t idx = (size_t)(f - desc->fields);
    if (seen_as[idx] != NULL) return fail(d, "given twice (also as \"%s\")", seen_as[idx]);
    seen_as[idx] = key;
    if (json_is_null(val)) { /* null: the default value */
      pop(d, saved);
      continue;
    }
    int rc;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      rc = is_map_field(desc, f) ? dec_map(d, m, f, val) : dec_list(d, m, f, val);
    } else {
      if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *which = QUANT_PTR(m, f);
        if (*which != 0 && *which != f->id) {
          const ProtobufCFieldDescriptor *other =
              protobuf_c_message_descriptor_get_field(desc, *which);
          return fail(d, "only one of a oneof may be given (\"%s\" is set too)",
                      other ? other->name : "?");
        }
      }
      rc = dec_value(d, f, val, FIELD_PTR(m, f));
      if (rc == 0 && (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
        *(uint32_t *)QUANT_PTR(m, f) = f->id;
      else if (rc == 0 && f->label == PROTOBUF_C_LABEL_OPTIONAL &&
               f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
        *(protobuf_c_boolean *)QUANT_PTR(m, f) = 1;
    }
    if (rc != 0) return -1;
    pop(d, saved);
  }
  return 0;
}

static int dec_msg(dec_t *d, const ProtobufCMessageDescriptor *desc, const json_t *j,
                   ProtobufCMessage **out) {
  if (!json_is_object(j))
    return fail(d, "expected an object (%s), got %s", desc->name, json_type_name(j));
  if (d->depth >= MAX_DEPTH) return fail(d, "nested too deeply");
  ProtobufCMessage *m = new_msg(desc);
  if (m == NULL) return fail(d, "out of memory");
  d->depth++;
  int rc = dec_fields(d, m, j);
  d->depth--;
  if (rc != 0) {
    protobuf_c_message_free_unpacked(m, NULL);
    return -1;
  }
  *out = m;
  return 0;
}

ProtobufCMessage *pbjson_decode(const ProtobufCMessageDescriptor *desc, const json_t *json,
                                pbjson_error_t *err) {
  dec_t d = {.len = 0, .depth = 0, .err = err};
  d.path[0] = '\0';
  if (err != NULL) err->text[0] = '\0';
  ProtobufCMessage *m = NULL;
  if (desc == NULL || json == NULL) {
    fail(&d, "no descriptor or no JSON value");
    return NULL;
  }
  if (dec_msg(&d, desc, json, &m) != 0) return NULL;
  return m;
}
