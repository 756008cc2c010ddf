/* Generic text of protobuf-c values, walked from their descriptors: used by
 * the diff for old/new values, so that every field of the model is covered
 * without code per message. */
#ifndef DV_PBTEXT_H
#define DV_PBTEXT_H

#include <stdbool.h>

#include <protobuf-c/protobuf-c.h>

#include "arena.h"

/* The message m with every field absent or zero: what a NULL sub-message
 * reads as. Never NULL unless out of memory. */
const ProtobufCMessage *dv_pb_empty(dv_arena_t *a, const ProtobufCMessageDescriptor *d);

/* Number of values a field holds: repeated -> its count; singular -> 1. */
size_t dv_pb_count(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f);

/* Address of value i of field f (for repeated fields, element i). */
const void *dv_pb_value(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, size_t i);

/* True when field f holds the same values in x and y, compared without
 * making text (the diff's fast path). False for message values: their text
 * decides. */
bool dv_pb_field_same(const ProtobufCMessage *x, const ProtobufCMessage *y,
                      const ProtobufCFieldDescriptor *f);
/* One scalar (or enum, string, bytes) value as text; a message as compact
 * text {field: value, ...} with default values left out. */
char *dv_pb_value_text(dv_arena_t *a, const ProtobufCFieldDescriptor *f, const void *value);
char *dv_pb_msg_text(dv_arena_t *a, const ProtobufCMessage *m);

/* All values of a repeated field as "[a, b]" (or the one value). */
char *dv_pb_field_text(dv_arena_t *a, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f);

#endif
