/* pbjson: the proto3 JSON mapping of clients/lib/pbjson.c, on the real
 * dvsconf.v1 messages. Round trips compare the protobuf encodings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dvsconf/v1/dvsconf.pb-c.h"
#include "pbjson.h"

/* ---- helpers ------------------------------------------------------------- */

static uint8_t *pack(const ProtobufCMessage *m, size_t *len) {
  *len = protobuf_c_message_get_packed_size(m);
  uint8_t *buf = malloc(*len ? *len : 1);
  assert_non_null(buf);
  assert_int_equal(protobuf_c_message_pack(m, buf), *len);
  return buf;
}

static void assert_same_message(const ProtobufCMessage *a, const ProtobufCMessage *b) {
  size_t la, lb;
  uint8_t *pa = pack(a, &la), *pb = pack(b, &lb);
  assert_int_equal(la, lb);
  assert_memory_equal(pa, pb, la);
  free(pa);
  free(pb);
}

/* encode -> text -> parse -> decode, and the result equals m. */
static void assert_round_trip(const ProtobufCMessage *m) {
  json_t *j = pbjson_encode(m);
  assert_non_null(j);
  char *text = json_dumps(j, JSON_COMPACT);
  assert_non_null(text);
  json_error_t jerr;
  json_t *back = json_loads(text, 0, &jerr);
  assert_non_null(back);
  pbjson_error_t err;
  ProtobufCMessage *m2 = pbjson_decode(m->descriptor, back, &err);
  if (m2 == NULL) fail_msg("decode failed: %s\nJSON: %s", err.text, text);
  assert_same_message(m, m2);
  protobuf_c_message_free_unpacked(m2, NULL);
  json_decref(back);
  json_decref(j);
  free(text);
}

/* Decode text as desc; expect failure with an error starting with want. */
static void assert_decode_error(const ProtobufCMessageDescriptor *desc, const char *text,
                                const char *want) {
  json_error_t jerr;
  json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);
  if (j == NULL) fail_msg("bad test JSON %s: %s", text, jerr.text);
  pbjson_error_t err;
  ProtobufCMessage *m = pbjson_decode(desc, j, &err);
  json_decref(j);
  if (m != NULL) {
    protobuf_c_message_free_unpacked(m, NULL);
    fail_msg("decoding %s succeeded; expected \"%s\"", text, want);
  }
  if (strncmp(err.text, want, strlen(want)) != 0)
    fail_msg("decoding %s:\n  got  \"%s\"\n  want \"%s...\"", text, err.text, want);
}

static ProtobufCMessage *decode_ok(const ProtobufCMessageDescriptor *desc, const char *text) {
  json_error_t jerr;
  json_t *j = json_loads(text, 0, &jerr);
  if (j == NULL) fail_msg("bad test JSON %s: %s", text, jerr.text);
  pbjson_error_t err;
  ProtobufCMessage *m = pbjson_decode(desc, j, &err);
  json_decref(j);
  if (m == NULL) fail_msg("decoding %s: %s", text, err.text);
  return m;
}

static char *encode_text(const ProtobufCMessage *m) {
  json_t *j = pbjson_encode(m);
  assert_non_null(j);
  char *text = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  assert_non_null(text);
  return text;
}

/* ---- a SwitchConfig with every field set -------------------------------------- */

typedef struct fixture {
  Dvsconf__V1__NumericRange r1, r2;
  Dvsconf__V1__NumericRange *ranges[2];
  Dvsconf__V1__VlanSpec vlan_trunk, vlan_id;
  Dvsconf__V1__SecurityPolicy sec;
  Dvsconf__V1__TeamingPolicy team;
  char *active[2], *standby[1];
  Dvsconf__V1__ShapingPolicy in, out;
  Dvsconf__V1__PortSettings sw_ports, pg_ports;
  Dvsconf__V1__LinkDiscovery ld;
  Dvsconf__V1__PortgroupConfig pg[4];
  Dvsconf__V1__PortgroupConfig *pgs[4];
  char *uplinks[2], *hosts[3];
  Dvsconf__V1__SwitchConfig cfg;
} fixture_t;

static void fill(fixture_t *f) {
  static const Dvsconf__V1__NumericRange range0 = DVSCONF__V1__NUMERIC_RANGE__INIT;
  static const Dvsconf__V1__VlanSpec vlan0 = DVSCONF__V1__VLAN_SPEC__INIT;
  static const Dvsconf__V1__SecurityPolicy sec0 = DVSCONF__V1__SECURITY_POLICY__INIT;
  static const Dvsconf__V1__TeamingPolicy team0 = DVSCONF__V1__TEAMING_POLICY__INIT;
  static const Dvsconf__V1__ShapingPolicy shape0 = DVSCONF__V1__SHAPING_POLICY__INIT;
  static const Dvsconf__V1__PortSettings ports0 = DVSCONF__V1__PORT_SETTINGS__INIT;
  static const Dvsconf__V1__LinkDiscovery ld0 = DVSCONF__V1__LINK_DISCOVERY__INIT;
  static const Dvsconf__V1__PortgroupConfig pg0 = DVSCONF__V1__PORTGROUP_CONFIG__INIT;
  static const Dvsconf__V1__SwitchConfig cfg0 = DVSCONF__V1__SWITCH_CONFIG__INIT;

  f->r1 = range0, f->r1.start = 100, f->r1.end = 200;
  f->r2 = range0, f->r2.start = 300, f->r2.end = 300;
  f->ranges[0] = &f->r1, f->ranges[1] = &f->r2;
  f->vlan_trunk = vlan0;
  f->vlan_trunk.kind = DVSCONF__V1__VLAN_KIND__VLAN_KIND_TRUNK;
  f->vlan_trunk.n_trunk_ranges = 2, f->vlan_trunk.trunk_ranges = f->ranges;
  f->vlan_id = vlan0;
  f->vlan_id.kind = DVSCONF__V1__VLAN_KIND__VLAN_KIND_PVLAN;
  f->vlan_id.vlan_id = 42, f->vlan_id.pvlan_id = 43;
  f->sec = sec0, f->sec.allow_promiscuous = 1, f->sec.mac_changes = 1, f->sec.forged_transmits = 1;
  f->team = team0;
  f->team.policy = "failover_explicit", f->team.notify_switches = 1, f->team.rolling_order = 1;
  f->active[0] = "uplink2", f->active[1] = "uplink1", f->standby[0] = "uplink3";
  f->team.n_active_uplinks = 2, f->team.active_uplinks = f->active;
  f->team.n_standby_uplinks = 1, f->team.standby_uplinks = f->standby;
  f->in = shape0, f->in.enabled = 1, f->in.average_bandwidth = INT64_C(100000000000);
  f->in.peak_bandwidth = INT64_MAX, f->in.burst_size = 1;
  f->out = shape0, f->out.average_bandwidth = -5; /* disabled, a value kept anyway */
  f->sw_ports = ports0;
  f->sw_ports.vlan = &f->vlan_trunk, f->sw_ports.security = &f->sec, f->sw_ports.teaming = &f->team;
  f->sw_ports.in_shaping = &f->in, f->sw_ports.out_shaping = &f->out;
  f->pg_ports = ports0, f->pg_ports.vlan = &f->vlan_id;
  f->ld = ld0, f->ld.protocol = "lldp", f->ld.operation = "both";
  const char *names[4] = {"web-01", "db \"main\"", "Zürich-ÄÖÜ", "empty"};
  for (int i = 0; i < 4; i++) {
    f->pg[i] = pg0;
    f->pg[i].name = (char *)names[i];
    f->pgs[i] = &f->pg[i];
  }
  f->pg[0].key = "dvportgroup-1", f->pg[0].description = "front end", f->pg[0].num_ports = 128;
  f->pg[0].binding_type = "earlyBinding", f->pg[0].auto_expand = 1;
  f->pg[0].default_port_config = &f->pg_ports;
  f->pg[1].key = "dvportgroup-2", f->pg[1].num_ports = -1;
  f->pg[2].key = "dvportgroup-3";
  f->uplinks[0] = "uplink1", f->uplinks[1] = "uplink2";
  f->hosts[0] = "esx-01", f->hosts[1] = "esx-02", f->hosts[2] = "esx-03";
  f->cfg = cfg0;
  f->cfg.name = "dvs-lab", f->cfg.uuid = "50 2a 9b 01";
  f->cfg.description = "line one\nline two\ttab \\ \"quoted\"";
  f->cfg.contact_name = "net team", f->cfg.contact_info = "net@example.com";
  f->cfg.max_mtu = 9000;
  f->cfg.n_uplink_port_names = 2, f->cfg.uplink_port_names = f->uplinks;
  f->cfg.num_standalone_ports = 2;
  f->cfg.link_discovery = &f->ld;
  f->cfg.default_port_config = &f->sw_ports;
  f->cfg.n_host_members = 3, f->cfg.host_members = f->hosts;
  f->cfg.n_portgroups = 4, f->cfg.portgroups = f->pgs;
  f->cfg.datacenter = "DC0";
}

/* ---- tests ------------------------------------------------------------------- */

static void test_json_names(void **state) {
  (void)state;
  char buf[64];
  assert_string_equal(pbjson_json_name("vlan_id", buf, sizeof buf), "vlanId");
  assert_string_equal(pbjson_json_name("default_port_config", buf, sizeof buf), "defaultPortConfig");
  assert_string_equal(pbjson_json_name("name", buf, sizeof buf), "name");
  assert_string_equal(pbjson_json_name("a_b_c", buf, sizeof buf), "aBC");
}

static void test_switch_config_round_trip(void **state) {
  (void)state;
  fixture_t f;
  fill(&f);
  assert_round_trip(&f.cfg.base);

  json_t *j = pbjson_encode(&f.cfg.base);
  assert_non_null(j);
  /* camelCase names, int64 as strings, enums by name, order kept */
  json_t *dpc = json_object_get(j, "defaultPortConfig");
  assert_non_null(dpc);
  assert_string_equal(json_string_value(json_object_get(json_object_get(dpc, "vlan"), "kind")),
                      "VLAN_KIND_TRUNK");
  json_t *in = json_object_get(dpc, "inShaping");
  assert_string_equal(json_string_value(json_object_get(in, "averageBandwidth")), "100000000000");
  assert_string_equal(json_string_value(json_object_get(in, "peakBandwidth")),
                      "9223372036854775807");
  json_t *out = json_object_get(dpc, "outShaping");
  assert_null(json_object_get(out, "enabled")); /* false: left out */
  assert_string_equal(json_string_value(json_object_get(out, "averageBandwidth")), "-5");
  assert_int_equal(json_integer_value(json_object_get(j, "maxMtu")), 9000);
  json_t *act = json_object_get(json_object_get(dpc, "teaming"), "activeUplinks");
  assert_string_equal(json_string_value(json_array_get(act, 0)), "uplink2");
  json_t *pgs = json_object_get(j, "portgroups");
  assert_int_equal(json_array_size(pgs), 4);
  assert_string_equal(json_string_value(json_object_get(json_array_get(pgs, 2), "name")),
                      "Zürich-ÄÖÜ");
  assert_int_equal(json_object_size(json_array_get(pgs, 3)), 1); /* only its name */
  assert_null(json_object_get(j, "vlan_id"));
  /* keys come in field-number order */
  const char *first = json_object_iter_key(json_object_iter(j));
  assert_string_equal(first, "name");
  json_decref(j);
}

static void test_version_timestamp_map_enum(void **state) {
  (void)state;
  fixture_t f;
  fill(&f);
  Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  ts.seconds = 1714564800; /* 2024-05-01T12:00:00Z */
  ts.nanos = 250000000;
  Dvsconf__V1__VersionInfo__LabelsEntry l1 = DVSCONF__V1__VERSION_INFO__LABELS_ENTRY__INIT;
  Dvsconf__V1__VersionInfo__LabelsEntry l2 = DVSCONF__V1__VERSION_INFO__LABELS_ENTRY__INIT;
  l1.key = "team", l1.value = "net";
  l2.key = "env", l2.value = "";
  Dvsconf__V1__VersionInfo__LabelsEntry *labels[] = {&l1, &l2};
  Dvsconf__V1__VersionInfo info = DVSCONF__V1__VERSION_INFO__INIT;
  info.id = "17", info.plane = "lab", info.switch_uuid = "50 2a", info.switch_name = "dvs-lab";
  info.number = 3, info.created_at = &ts, info.checksum = "abcdef0123456789";
  info.note = "before the change", info.n_labels = 2, info.labels = labels;
  info.portgroup_count = 4, info.scope = DVSCONF__V1__EXPORT_SCOPE__EXPORT_SCOPE_PORTGROUPS_ONLY;
  Dvsconf__V1__Version v = DVSCONF__V1__VERSION__INIT;
  v.info = &info, v.config = &f.cfg;

  char *text = encode_text(&info.base);
  assert_string_equal(text,
                      "{\"id\":\"17\",\"plane\":\"lab\",\"switchUuid\":\"50 2a\","
                      "\"switchName\":\"dvs-lab\",\"number\":\"3\","
                      "\"createdAt\":\"2024-05-01T12:00:00.250Z\",\"checksum\":\"abcdef0123456789\","
                      "\"note\":\"before the change\",\"labels\":{\"env\":\"\",\"team\":\"net\"},"
                      "\"portgroupCount\":4,\"scope\":\"EXPORT_SCOPE_PORTGROUPS_ONLY\"}");
  free(text);
  /* map entries come back sorted by key: compare with the sorted message */
  labels[0] = &l2, labels[1] = &l1;
  assert_round_trip(&v.base);

  /* timestamps: whole seconds, micro and nano precision, before 1970 */
  ts.nanos = 0;
  text = encode_text(&info.base);
  assert_non_null(strstr(text, "\"createdAt\":\"2024-05-01T12:00:00Z\""));
  free(text);
  ts.nanos = 1000;
  assert_round_trip(&info.base);
  ts.seconds = -1, ts.nanos = 999999999;
  text = encode_text(&info.base);
  assert_non_null(strstr(text, "\"createdAt\":\"1969-12-31T23:59:59.999999999Z\""));
  free(text);
  assert_round_trip(&info.base);
}

static void test_defaults_left_out(void **state) {
  (void)state;
  Dvsconf__V1__SwitchConfig cfg = DVSCONF__V1__SWITCH_CONFIG__INIT;
  char *text = encode_text(&cfg.base);
  assert_string_equal(text, "{}");
  free(text);
  Dvsconf__V1__VlanSpec vlan = DVSCONF__V1__VLAN_SPEC__INIT;
  Dvsconf__V1__PortSettings ps = DVSCONF__V1__PORT_SETTINGS__INIT;
  ps.vlan = &vlan; /* present but empty: written as {} */
  text = encode_text(&ps.base);
  assert_string_equal(text, "{\"vlan\":{}}");
  free(text);
  assert_round_trip(&ps.base);
}

static void test_lenient_input(void **state) {
  (void)state;
  /* original names, enum numbers, int64 as a number, int32 as a string, null,
   * a time with an offset */
  Dvsconf__V1__VersionInfo *v = (Dvsconf__V1__VersionInfo *)decode_ok(
      &dvsconf__v1__version_info__descriptor,
      "{\"switch_name\":\"a\",\"number\":12,\"portgroup_count\":\"7\",\"scope\":2,"
      "\"note\":null,\"created_at\":\"2024-05-01T14:00:00+02:00\",\"labels\":{\"k\":\"v\"}}");
  assert_string_equal(v->switch_name, "a");
  assert_int_equal(v->number, 12);
  assert_int_equal(v->portgroup_count, 7);
  assert_int_equal(v->scope, DVSCONF__V1__EXPORT_SCOPE__EXPORT_SCOPE_PORTGROUPS_ONLY);
  assert_string_equal(v->note, "");
  assert_non_null(v->created_at);
  assert_int_equal(v->created_at->seconds, 1714564800);
  assert_int_equal(v->n_labels, 1);
  assert_string_equal(v->labels[0]->key, "k");
  assert_string_equal(v->labels[0]->value, "v");
  protobuf_c_message_free_unpacked(&v->base, NULL);

  Dvsconf__V1__ShapingPolicy *s = (Dvsconf__V1__ShapingPolicy *)decode_ok(
      &dvsconf__v1__shaping_policy__descriptor,
      "{\"averageBandwidth\":\"-9223372036854775808\",\"peakBandwidth\":1e3,\"enabled\":true}");
  assert_true(s->average_bandwidth == INT64_MIN);
  assert_int_equal(s->peak_bandwidth, 1000);
  assert_true(s->enabled);
  protobuf_c_message_free_unpacked(&s->base, NULL);

  Dvsconf__V1__VlanSpec *vl = (Dvsconf__V1__VlanSpec *)decode_ok(
      &dvsconf__v1__vlan_spec__descriptor, "{\"kind\":\"VLAN_KIND_VLAN\",\"vlan_id\":10}");
  assert_int_equal(vl->kind, DVSCONF__V1__VLAN_KIND__VLAN_KIND_VLAN);
  assert_int_equal(vl->vlan_id, 10);
  protobuf_c_message_free_unpacked(&vl->base, NULL);
}

static void test_errors_name_the_path(void **state) {
  (void)state;
  const ProtobufCMessageDescriptor *put = &dvsconf__v1__put_version_request__descriptor;
  assert_decode_error(put,
                      "{\"config\":{\"portgroups\":[{},{},{},"
                      "{\"defaultPortConfig\":{\"vlan\":{\"vlanId\":true}}}]}}",
                      "config.portgroups[3].defaultPortConfig.vlan.vlanId: expected a number");
  assert_decode_error(put,
                      "{\"config\":{\"portgroups\":[{},{},{},"
                      "{\"defaultPortConfig\":{\"vlan\":{\"vlanId\":\"ten\"}}}]}}",
                      "config.portgroups[3].defaultPortConfig.vlan.vlanId: expected a number");
  assert_decode_error(put, "{\"config\":{\"colour\":\"red\"}}", "config.colour: unknown field");
  assert_decode_error(put, "{\"plane\":\"a\",\"planes\":\"b\"}", "planes: unknown field");
  assert_decode_error(put, "{\"config\":{\"maxMtu\":1,\"max_mtu\":2}}",
                      "config.max_mtu: given twice");
  assert_decode_error(put, "{\"config\":{\"maxMtu\":3000000000}}",
                      "config.maxMtu: 3000000000 is out of range for int32");
  assert_decode_error(put, "{\"config\":{\"maxMtu\":1.5}}", "config.maxMtu: expected an integer");
  assert_decode_error(put, "{\"scope\":\"EVERYTHING\"}",
                      "scope: unknown value \"EVERYTHING\" for dvsconf.v1.ExportScope");
  assert_decode_error(put, "{\"scope\":true}", "scope: expected a name of dvsconf.v1.ExportScope");
  assert_decode_error(put, "{\"config\":{\"hostMembers\":\"esx-01\"}}",
                      "config.hostMembers: expected a list, got a string");
  assert_decode_error(put, "{\"config\":{\"hostMembers\":[\"a\",null]}}",
                      "config.hostMembers[1]: null is not a list element");
  assert_decode_error(put, "{\"config\":{\"hostMembers\":[\"a\",7]}}",
                      "config.hostMembers[1]: expected a string, got a number");
  assert_decode_error(put, "{\"config\":{\"linkDiscovery\":5}}",
                      "config.linkDiscovery: expected an object");
  assert_decode_error(put, "{\"labels\":{\"k\":1}}", "labels[\"k\"]: expected a string");
  assert_decode_error(put, "{\"labels\":[\"k\"]}", "labels: expected an object, got a list");
  assert_decode_error(put, "{\"config\":{\"defaultPortConfig\":{\"security\":{\"macChanges\":1}}}}",
                      "config.defaultPortConfig.security.macChanges: expected true or false");
  assert_decode_error(put,
                      "{\"config\":{\"defaultPortConfig\":{\"inShaping\":{\"burstSize\":"
                      "\"99999999999999999999\"}}}}",
                      "config.defaultPortConfig.inShaping.burstSize: 99999999999999999999 is out "
                      "of range for int64");
  assert_decode_error(put, "[]", "expected an object (dvsconf.v1.PutVersionRequest), got a list");
  const ProtobufCMessageDescriptor *info = &dvsconf__v1__version_info__descriptor;
  assert_decode_error(info, "{\"createdAt\":\"2024-13-01T00:00:00Z\"}",
                      "createdAt: expected an RFC 3339 time");
  assert_decode_error(info, "{\"createdAt\":\"2023-02-29T00:00:00Z\"}",
                      "createdAt: expected an RFC 3339 time");
  assert_decode_error(info, "{\"createdAt\":\"2024-05-01 12:00:00\"}",
                      "createdAt: expected an RFC 3339 time");
  assert_decode_error(info, "{\"createdAt\":1714564800}",
                      "createdAt: expected an RFC 3339 time string, got a number");
}

static void test_invalid_utf8_is_replaced(void **state) {
  (void)state;
  Dvsconf__V1__Plane p = DVSCONF__V1__PLANE__INIT;
  p.name = "bad\xff-\xc3\xa9";
  char *text = encode_text(&p.base);
  assert_string_equal(text, "{\"name\":\"bad\xef\xbf\xbd-\xc3\xa9\"}");
  free(text);
}

static void test_import_request_round_trip(void **state) {
  (void)state;
  Dvsconf__V1__ImportRequest__PortgroupRenamesEntry e = DVSCONF__V1__IMPORT_REQUEST__PORTGROUP_RENAMES_ENTRY__INIT;
  e.key = "web-01", e.value = "web-01-copy";
  Dvsconf__V1__ImportRequest__PortgroupRenamesEntry *ep[] = {&e};
  Dvsconf__V1__ImportRequest r = DVSCONF__V1__IMPORT_REQUEST__INIT;
  r.version_id = "5", r.mode = DVSCONF__V1__IMPORT_MODE__IMPORT_MODE_CREATE_NEW;
  r.new_name = "dvs-copy", r.n_portgroup_renames = 1, r.portgroup_renames = ep;
  r.include_hosts = 1, r.dry_run = 1;
  char *text = encode_text(&r.base);
  assert_string_equal(text,
                      "{\"versionId\":\"5\",\"mode\":\"IMPORT_MODE_CREATE_NEW\",\"newName\":\"dvs-copy\","
                      "\"portgroupRenames\":{\"web-01\":\"web-01-copy\"},\"includeHosts\":true,"
                      "\"dryRun\":true}");
  free(text);
  assert_round_trip(&r.base);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_json_names),
      cmocka_unit_test(test_switch_config_round_trip),
      cmocka_unit_test(test_version_timestamp_map_enum),
      cmocka_unit_test(test_defaults_left_out),
      cmocka_unit_test(test_lenient_input),
      cmocka_unit_test(test_errors_name_the_path),
      cmocka_unit_test(test_invalid_utf8_is_replaced),
      cmocka_unit_test(test_import_request_round_trip),
  };
  return cmocka_run_group_tests_name("pbjson", tests, NULL, NULL);
}
