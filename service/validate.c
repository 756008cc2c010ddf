#include "validate.h"

#include <stdio.h>
#include <string.h>

#include "pbtext.h"

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
