/* Request checks shared by every RPC. */
#ifndef DV_VALIDATE_H
#define DV_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "err.h"

#define DV_MAX_NAME_LEN 1024   /* names, ids, uuids, labels */
#define DV_MAX_TEXT_LEN 65536  /* notes, descriptions */

bool dv_utf8_valid(const char *s, size_t len);

/* Every string of a request, at any depth: valid UTF-8, and no longer than
 * DV_MAX_TEXT_LEN. INVALID_ARGUMENT naming the field. */
int dv_validate_strings(const ProtobufCMessage *m, dv_err_t *err);

/* A name-like field: when required, non-empty; at most DV_MAX_NAME_LEN;
 * no control characters. */
int dv_validate_name(const char *field, const char *value, bool required, dv_err_t *err);

#include "model.h"

/* A configuration document from a user (PutVersion): identities present and
 * unique, numbers in range, enums known. INVALID_ARGUMENT naming the field,
 * e.g. config.portgroups["web"].default_port_config.vlan.vlan_id. */
int dv_validate_config(const dv_switch_cfg_t *cfg, dv_err_t *err);

/* The parts of dv_validate_config, for a document checked port group by
 * port group (intake.h): the switch's own fields (cfg->portgroups is not
 * looked at when n_portgroups is 0); one port group, `index` being its
 * place in the document (for messages); and its strings, as
 * dv_validate_strings checks them. The cross-port-group checks (names and
 * identities unique) are the caller's. */
int dv_validate_settings(const dv_switch_cfg_t *cfg, dv_err_t *err);
int dv_validate_settings_strings(const dv_switch_cfg_t *cfg, dv_err_t *err);
int dv_validate_portgroup(const dv_pg_cfg_t *pg, size_t index, dv_err_t *err);
int dv_validate_portgroup_strings(const dv_pg_cfg_t *pg, size_t index, dv_err_t *err);

#endif
