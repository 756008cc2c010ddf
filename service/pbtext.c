#include "pbtext.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

const ProtobufCMessage *dv_pb_empty(dv_arena_t *a, const ProtobufCMessageDescriptor *d) {
  return dv_arena_msg(a, d);
}

size_t dv_pb_count(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
  if (f->label == PROTOBUF_C_LABEL_REPEATED)
    return *(const size_t *)((const char *)m + f->quantifier_offset);
  return 1;
}

static size_t scalar_size(ProtobufCType t) {
  switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
      return 8;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
      return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
      return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_BOOL:
      return sizeof(protobuf_c_boolean);
    default:
      return 4;
  }
}

const void *dv_pb_value(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, size_t i) {
  const char *p = (const char *)m + f->offset;
  if (f->label == PROTOBUF_C_LABEL_REPEATED) return *(const char *const *)p + i * scalar_size(f->type);
  return p;
}

static bool value_equal(const ProtobufCFieldDescriptor *f, const void *x, const void *y) {
  switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
      const char *sx = *(char *const *)x, *sy = *(char *const *)y;
      return sx != NULL && sy != NULL && strcmp(sx, sy) == 0;
    }
    case PROTOBUF_C_TYPE_BYTES: {
      const ProtobufCBinaryData *bx = x, *by = y;
      return bx->len == by->len && (bx->len == 0 || memcmp(bx->data, by->data, bx->len) == 0);
    }
    case PROTOBUF_C_TYPE_MESSAGE:
      return false; /* left to the text */
    default:
      return memcmp(x, y, scalar_size(f->type)) == 0;
  }
}

bool dv_pb_field_same(const ProtobufCMessage *x, const ProtobufCMessage *y,
                      const ProtobufCFieldDescriptor *f) {
  size_t n = dv_pb_count(x, f);
  if (n != dv_pb_count(y, f)) return false;
  for (size_t i = 0; i < n; i++)
    if (!value_equal(f, dv_pb_value(x, f, i), dv_pb_value(y, f, i))) return false;
  return true;
}

char *dv_pb_value_text(dv_arena_t *a, const ProtobufCFieldDescriptor *f, const void *v) {
  switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
      return dv_arena_printf(a, "%" PRId32, *(const int32_t *)v);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
      return dv_arena_printf(a, "%" PRIu32, *(const uint32_t *)v);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
      return dv_arena_printf(a, "%" PRId64, *(const int64_t *)v);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
      return dv_arena_printf(a, "%" PRIu64, *(const uint64_t *)v);
    case PROTOBUF_C_TYPE_FLOAT:
      return dv_arena_printf(a, "%g", *(const float *)v);
    case PROTOBUF_C_TYPE_DOUBLE:
      return dv_arena_printf(a, "%g", *(const double *)v);
    case PROTOBUF_C_TYPE_BOOL:
      return dv_arena_strdup(a, *(const protobuf_c_boolean *)v ? "true" : "false");
    case PROTOBUF_C_TYPE_ENUM: {
      int e = *(const int *)v;
      const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, e);
      return ev ? dv_arena_strdup(a, ev->name) : dv_arena_printf(a, "%d", e);
    }
    case PROTOBUF_C_TYPE_STRING:
      return dv_arena_strdup(a, *(char *const *)v);
    case PROTOBUF_C_TYPE_BYTES: {
      const ProtobufCBinaryData *b = v;
      char *s = dv_arena_alloc(a, b->len * 2 + 1);
      if (s == NULL) return NULL;
      for (size_t i = 0; i < b->len; i++) sprintf(s + 2 * i, "%02x", b->data[i]);
      return s;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
      const ProtobufCMessage *m = *(const ProtobufCMessage *const *)v;
      return m ? dv_pb_msg_text(a, m) : dv_arena_strdup(a, "{}");
    }
  }
  return dv_arena_strdup(a, "?");
}

/* A growing string in the arena. */
typedef struct sbuf {
  dv_arena_t *a;
  char *s;
  size_t len, cap;
  int failed;
} sbuf_t;

static void sb_add(sbuf_t *b, const char *t) {
  if (b->failed || t == NULL) {
    b->failed = 1;
    return;
  }
  size_t n = strlen(t);
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 64;
    while (cap < b->len + n + 1) cap *= 2;
    char *s = dv_arena_alloc(b->a, cap);
    if (s == NULL) {
      b->failed = 1;
      return;
    }
    if (b->len) memcpy(s, b->s, b->len);
    b->s = s;
    b->cap = cap;
  }
  memcpy(b->s + b->len, t, n + 1);
  b->len += n;
}

static int is_default(const ProtobufCFieldDescriptor *f, const void *v) {
  switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
      const char *s = *(char *const *)v;
      return s == NULL || s[0] == '\0';
    }
    case PROTOBUF_C_TYPE_MESSAGE:
      return *(void *const *)v == NULL;
    case PROTOBUF_C_TYPE_BYTES:
      return ((const ProtobufCBinaryData *)v)->len == 0;
    default: {
      static const char zero[8];
      return memcmp(v, zero, scalar_size(f->type)) == 0;
    }
  }
}

char *dv_pb_field_text(dv_arena_t *a, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
  if (f->label != PROTOBUF_C_LABEL_REPEATED) return dv_pb_value_text(a, f, dv_pb_value(m, f, 0));
  sbuf_t b = {a, NULL, 0, 0, 0};
  sb_add(&b, "[");
  size_t n = dv_pb_count(m, f);
  for (size_t i = 0; i < n; i++) {
    if (i) sb_add(&b, ", ");
    sb_add(&b, dv_pb_value_text(a, f, dv_pb_value(m, f, i)));
  }
  sb_add(&b, "]");
  return b.failed ? NULL : b.s;
}

char *dv_pb_msg_text(dv_arena_t *a, const ProtobufCMessage *m) {
  sbuf_t b = {a, NULL, 0, 0, 0};
  const ProtobufCMessageDescriptor *d = m->descriptor;
  int first = 1;
  sb_add(&b, "{");
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (f->label == PROTOBUF_C_LABEL_REPEATED ? dv_pb_count(m, f) == 0
                                               : is_default(f, dv_pb_value(m, f, 0)))
      continue;
    if (!first) sb_add(&b, ", ");
    first = 0;
    sb_add(&b, f->name);
    sb_add(&b, ": ");
    sb_add(&b, dv_pb_field_text(a, m, f));
  }
  sb_add(&b, "}");
  return b.failed ? NULL : b.s;
}
