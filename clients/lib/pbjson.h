/* pbjson: the proto3 JSON mapping for protobuf-c messages, driven by their
 * descriptors (one walker for every message type, no code per message).
 *
 * Message -> JSON (pbjson_encode):
 *   - an object whose keys are the lowerCamelCase JSON names (protoc's rule:
 *     "default_port_config" -> "defaultPortConfig"; protobuf-c 1.4 keeps no
 *     json_name, so it is computed), in field-number order;
 *   - proto3 defaults are left out (0, false, "", empty lists and maps, enum
 *     value 0, absent sub-messages); present sub-messages are always written;
 *   - int64/uint64 (all 64-bit kinds) as decimal strings, other integers as
 *     numbers; enums by name (an unknown number as a number); bytes as base64;
 *     float/double as numbers, or "NaN" / "Infinity" / "-Infinity";
 *   - map fields (repeated FooEntry{key=1, value=2} nested in the message) as
 *     JSON objects;
 *   - google.protobuf.Timestamp as an RFC 3339 string in UTC
 *     ("2024-05-01T12:00:00Z", with 3, 6 or 9 fraction digits when needed).
 *
 * JSON -> message (pbjson_decode): the reverse, and more lenient in what it
 * takes, as the proto3 mapping says: JSON names or the original field names,
 * enums by name or number, integers as numbers or decimal strings, null for
 * "default". Unknown fields, a field given twice (under both names), wrong
 * types and out-of-range numbers are errors whose text starts with the JSON
 * path of the value, e.g.
 *   config.portgroups[3].defaultPortConfig.vlan.vlanId: expected a number
 */
#ifndef DVSCONF_PBJSON_H
#define DVSCONF_PBJSON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pbjson_error {
  char text[512]; /* "path: what is wrong", truncated to fit */
} pbjson_error_t;

/* msg as a JSON object: a new reference the caller json_decref()s. NULL only
 * when out of memory. Text that is not valid UTF-8 (protobuf-c does not check)
 * is written with U+FFFD in place of the bad bytes. */
json_t *pbjson_encode(const ProtobufCMessage *msg);

/* json (an object) as a message of type desc. The message is allocated with
 * protobuf-c's default allocator; the caller frees it with
 * protobuf_c_message_free_unpacked(msg, NULL). On error returns NULL, frees
 * whatever was built and fills *err (when err is not NULL). */
ProtobufCMessage *pbjson_decode(const ProtobufCMessageDescriptor *desc, const json_t *json,
                                pbjson_error_t *err);

/* The JSON name of a proto field name into out (size cap): "vlan_id" -> "vlanId".
 * Returns out. */
char *pbjson_json_name(const char *proto_name, char *out, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
