"""Bad input, from an independent client (Debian's grpcio), for every RPC of
dvsconf.v1.ConfigManager (and grpc.health.v1.Health/Check): missing, empty,
oversized and invalid fields, unknown ids, invalid UTF-8 built by hand,
unknown enum values, negative and huge page sizes, forged page tokens,
garbage bytes, no message at all.

Every refused call must get the right status and a message naming the field
(or, for undecodable bytes, "request"); the service must stay up (health
SERVING after every test) and nothing may be written: the rows of versions,
imports, switches and switch_aliases are counted through psql before and
after every test (the audit log is left out: refused calls are audited by
design).

BadInput tests refused calls only. FoundBugs holds the failing tests of bugs
found here (see the report in tests/hardening/README.md); they may write.

Runs against the secure stack of tests/hardening/run.sh (TLS + tokens).
"""
import hashlib
import base64
import os
import time
import unittest

import grpc

from common import (C, HEALTH, METHODS, PLANE, SVC, T, channel, field_bytes, field_varint, health,
                    map_entry, pb, raw, status_of, stub, write_counts)

MiB = 1024 * 1024
BAD_UTF8 = [b"\xff", b"ab\xc0\xafcd", b"\xed\xa0\x80", b"abc\xe2\x82", b"\xf4\x90\x80\x80", b"\x80"]

# Every request type; its string fields (number, name) at the top level.
REQUEST_TYPES = {m: getattr(pb, m + "Request") for m in METHODS}


def top_string_fields(msg_type):
    out = []
    for f in msg_type.DESCRIPTOR.fields:
        if f.type == f.TYPE_STRING:
            rep = f.label == f.LABEL_REPEATED
            out.append((f.number, f.name + ("[0]" if rep else "")))
    return out


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ch = channel("admin")
        grpc.channel_ready_future(cls.ch).result(timeout=T)
        cls.api = stub(cls.ch)
        first = cls.api.Export(pb.ExportRequest(plane=PLANE, switch_name="DVS0"), timeout=T)
        cls.vid = first.version.id
        cls.uuid = first.version.switch_uuid
        cls.v = cls.api.GetVersion(pb.GetVersionRequest(version_id=cls.vid), timeout=T)

    @classmethod
    def tearDownClass(cls):
        cls.ch.close()

    def tearDown(self):
        self.assertTrue(health(self.ch), "health is not SERVING after %s" % self.id())

    def call(self, method, req, timeout=T):
        """(code, details) of a raw call: req is a message or bytes."""
        if not isinstance(req, bytes):
            req = req.SerializeToString()
        code, r = status_of(raw(self.ch, method), req, timeout=timeout)
        return code, (r if code != C.OK else "")

    def refused(self, method, req, code, *words, timeout=T):
        """method(req) fails with code, its details name every word."""
        got, details = self.call(method, req, timeout=timeout)
        where = "%s(%r)" % (method, req if isinstance(req, bytes) else str(req)[:200])
        self.assertEqual(got, code, "%s: details %r" % (where[:300], details))
        for w in words:
            self.assertIn(w, details, "%s: status %s" % (where[:300], got))
        return details


class BadInput(Base):
    """Refused calls: right status, message naming the field, nothing written."""

    def setUp(self):
        self.before = write_counts()

    def tearDown(self):
        self.assertEqual(write_counts(), self.before, "a refused call wrote something")
        super().tearDown()

    # --- no message, empty message ---------------------------------------------
    def test_no_message_at_all(self):
        # a client that half-closes without sending the request message
        for m in METHODS + [HEALTH]:
            path = m if m.startswith("/") else SVC + m
            call = self.ch.stream_unary(path, request_serializer=None, response_deserializer=None)
            with self.assertRaises(grpc.RpcError, msg=m) as cm:
                call(iter([]), timeout=T)
            self.assertEqual(cm.exception.code(), C.INVALID_ARGUMENT, m)
            self.assertIn("request", cm.exception.details(), m)

    def test_empty_requests(self):
        # an empty message is every field at its default
        want = {
            "Export": (C.INVALID_ARGUMENT, "switch_name", "switch_uuid"),
            "PutVersion": (C.INVALID_ARGUMENT, "plane", "required"),
            "Import": (C.INVALID_ARGUMENT, "mode"),
            "GetVersion": (C.INVALID_ARGUMENT, "version_id", "required"),
            "Diff": (C.INVALID_ARGUMENT, "to_version_id", "to_plane"),
        }
        for m in METHODS:
            if m in want:
                self.refused(m, b"", *want[m])
            else:  # lists: no filter is a valid request
                self.assertEqual(self.call(m, b"")[0], C.OK, m)
        self.assertEqual(raw(self.ch, HEALTH)(b"", timeout=T), b"\x08\x01")

    def test_missing_fields(self):
        v = self.vid
        cases = [
            ("Export", pb.ExportRequest(switch_name="DVS0"), C.INVALID_ARGUMENT, "plane: required"),
            ("Export", pb.ExportRequest(plane=PLANE), C.INVALID_ARGUMENT, "switch_name, switch_uuid"),
            ("PutVersion", pb.PutVersionRequest(plane=PLANE), C.INVALID_ARGUMENT, "config: required"),
            ("PutVersion", pb.PutVersionRequest(config=self.v.config), C.INVALID_ARGUMENT, "plane: required"),
            ("PutVersion", pb.PutVersionRequest(plane=PLANE, config=pb.SwitchConfig(uuid="u")),
             C.INVALID_ARGUMENT, "config.name: required"),
            ("PutVersion", pb.PutVersionRequest(plane=PLANE, config=pb.SwitchConfig(name="n")),
             C.INVALID_ARGUMENT, "config.uuid: required"),
            ("Import", pb.ImportRequest(mode=pb.IMPORT_MODE_APPLY_EXISTING, dry_run=True),
             C.INVALID_ARGUMENT, "version_id: required"),
            ("Import", pb.ImportRequest(version_id=v, dry_run=True), C.INVALID_ARGUMENT, "mode"),
            ("Import", pb.ImportRequest(version_id=v, mode=pb.IMPORT_MODE_CREATE_NEW, dry_run=True),
             C.INVALID_ARGUMENT, "new_name"),
            ("GetVersion", pb.GetVersionRequest(), C.INVALID_ARGUMENT, "version_id: required"),
            ("Diff", pb.DiffRequest(to_version_id=v), C.INVALID_ARGUMENT, "from_version_id"),
            ("Diff", pb.DiffRequest(from_version_id=v), C.INVALID_ARGUMENT, "to_version_id", "to_plane"),
            ("Diff", pb.DiffRequest(from_version_id=v, to_switch_name="DVS0"), C.INVALID_ARGUMENT,
             "to_plane: required"),
            ("Diff", pb.DiffRequest(from_version_id=v, to_plane=PLANE), C.INVALID_ARGUMENT,
             "to_switch_name", "to_switch_uuid"),
            ("ListSwitches", pb.ListSwitchesRequest(live=True), C.INVALID_ARGUMENT, "plane: required"),
        ]
        for m, req, code, *words in cases:
            with self.subTest(method=m, req=str(req)[:80]):
                self.refused(m, req, code, *words)

    # --- oversized ---------------------------------------------------------------
    def test_oversized_request_every_rpc(self):
        # > the 4 MiB default request limit: refused by gRPC before any handler
        pad = b"x" * (4 * MiB + 64)
        for m in METHODS + [HEALTH]:
            # field 15 is unknown to every request type: a well-formed message
            self.refused(m, field_bytes(15, pad), C.RESOURCE_EXHAUSTED, "larger than max")

    def test_long_fields_under_the_limit(self):
        name = "n" * 1025  # names: at most 1024 bytes
        text = "t" * 65537  # notes, descriptions: at most 65536 bytes
        v = self.vid
        cases = [
            ("Export", pb.ExportRequest(plane=PLANE, switch_name=name), "switch_name: longer than 1024"),
            ("Export", pb.ExportRequest(plane=PLANE, switch_name="DVS0", note=text), "note: longer than 65536"),
            ("Export", pb.ExportRequest(plane=PLANE, switch_name="DVS0", labels={name: "v"}),
             "labels[0].key: longer than 1024"),
            ("ListVersions", pb.ListVersionsRequest(switch_name=name), "switch_name: longer than 1024"),
            ("ListVersions", pb.ListVersionsRequest(plane=name), "plane: longer than 1024"),
            ("GetVersion", pb.GetVersionRequest(version_id=name), "version_id"),
            ("Diff", pb.DiffRequest(from_version_id=v, to_plane=PLANE, to_switch_uuid=name),
             "to_switch_uuid: longer than 1024"),
            ("Import", pb.ImportRequest(version_id=v, mode=pb.IMPORT_MODE_CREATE_NEW, new_name=name,
                                        dry_run=True), "new_name: longer than 1024"),
            ("PutVersion", pb.PutVersionRequest(plane=PLANE, config=pb.SwitchConfig(name=name, uuid="u")),
             "config.name: longer than 1024"),
            ("PutVersion", pb.PutVersionRequest(plane=PLANE, note=text, config=self.v.config),
             "note: longer than 65536"),
            ("ListAuditEvents", pb.ListAuditEventsRequest(method=name), "method: longer than 1024"),
            ("ListSwitches", pb.ListSwitchesRequest(plane=text), "plane: longer than 65536"),
        ]
        for m, req, words in cases:
            with self.subTest(method=m, words=words):
                self.refused(m, req, C.INVALID_ARGUMENT, words)
        # a 4 MB string just under the request limit
        self.refused("Export", pb.ExportRequest(plane=PLANE, switch_name="DVS0", note="x" * (4 * MiB - 200)),
                     C.INVALID_ARGUMENT, "note: longer than 65536")

    # --- invalid values ------------------------------------------------------------
    def test_control_characters_in_names(self):
        for bad in ("DVS\x010", "DVS0\x7f", "a\nb"):
            self.refused("Export", pb.ExportRequest(plane=PLANE, switch_name=bad), C.INVALID_ARGUMENT,
                         "switch_name: contains a control character")
            self.refused("Import", pb.ImportRequest(version_id=self.vid, mode=pb.IMPORT_MODE_CREATE_NEW,
                                                    new_name=bad, dry_run=True),
                         C.INVALID_ARGUMENT, "new_name: contains a control character")

    def test_both_or_neither(self):
        v, u = self.vid, self.uuid
        self.refused("Export", pb.ExportRequest(plane=PLANE, switch_name="DVS0", switch_uuid=u),
                     C.INVALID_ARGUMENT, "switch_name, switch_uuid: give exactly one")
        self.refused("Diff", pb.DiffRequest(from_version_id=v, to_version_id=v, to_plane=PLANE),
                     C.INVALID_ARGUMENT, "not both")
        self.refused("Diff", pb.DiffRequest(from_version_id=v, to_plane=PLANE, to_switch_name="DVS0",
                                            to_switch_uuid=u), C.INVALID_ARGUMENT, "to_switch_name, to_switch_uuid")
        self.refused("Import", pb.ImportRequest(version_id=v, mode=pb.IMPORT_MODE_APPLY_EXISTING,
                                                target_switch_name="DVS0", target_switch_uuid=u, dry_run=True),
                     C.INVALID_ARGUMENT, "target_switch_name, target_switch_uuid")

    def test_import_option_combinations(self):
        v = self.vid
        M = pb.ImportRequest
        cases = [
            (M(version_id=v, mode=pb.IMPORT_MODE_CREATE_NEW, new_name="x", target_switch_name="DVS0",
               dry_run=True), "target_switch_name"),
            (M(version_id=v, mode=pb.IMPORT_MODE_APPLY_EXISTING, new_name="x", dry_run=True), "new_name"),
            (M(version_id=v, mode=pb.IMPORT_MODE_CREATE_ORIGINAL, portgroup_prefix="p-", dry_run=True),
             "portgroup_prefix"),
            (M(version_id=v, mode=pb.IMPORT_MODE_CREATE_ORIGINAL, prune=True, dry_run=True), "prune"),
            (M(version_id=v, mode=pb.IMPORT_MODE_CREATE_NEW, new_name="x",
               portgroup_renames={"no-such-pg": "y"}, dry_run=True), "portgroup_renames"),
            (M(version_id=v, mode=pb.IMPORT_MODE_CREATE_NEW, new_name="x",
               portgroup_renames={"DC0_DVPG0": "DC0_DVPG1"}, dry_run=True), "portgroup_renames"),
            (M(version_id=v, mode=pb.IMPORT_MODE_CREATE_NEW, new_name="x",
               portgroup_renames={"DC0_DVPG0": ""}, dry_run=True), "portgroup_renames"),
        ]
        for req, word in cases:
            with self.subTest(req=str(req)[:100]):
                self.refused("Import", req, C.INVALID_ARGUMENT, word)
        # create-new onto an existing name, and create-original while it exists
        self.refused("Import", M(version_id=v, mode=pb.IMPORT_MODE_CREATE_NEW, new_name="DVS0", dry_run=True),
                     C.ALREADY_EXISTS, "DVS0")
        self.refused("Import", M(version_id=v, mode=pb.IMPORT_MODE_CREATE_ORIGINAL), C.ALREADY_EXISTS, "DVS0")

    def test_unknown_enum_values(self):
        e = pb.ExportRequest(plane=PLANE, switch_name="DVS0").SerializeToString()
        for scope in (3, 99, -1, 2**31 - 1, -2**31):
            self.refused("Export", e + field_varint(4, scope), C.INVALID_ARGUMENT, "scope: unknown value %d" % scope)
            cfg = field_bytes(2, self.v.config.SerializeToString())
            self.refused("PutVersion", field_bytes(1, PLANE.encode()) + cfg + field_varint(5, scope),
                         C.INVALID_ARGUMENT, "scope: unknown value %d" % scope)
        i = pb.ImportRequest(version_id=self.vid, dry_run=True).SerializeToString()
        for mode in (0, 4, 99, -1, 2**31 - 1):
            self.refused("Import", i + field_varint(2, mode), C.INVALID_ARGUMENT, "mode", "got %d" % mode)
        # an unknown VlanKind deep in a configuration document: port group 0
        # sent again, last, with default_port_config.vlan.kind set by hand
        cfg = pb.SwitchConfig()
        cfg.CopyFrom(self.v.config)
        pg0 = cfg.portgroups[0]
        pg0.default_port_config.vlan.Clear()
        pg0_bytes, pg_name = pg0.SerializeToString(), pg0.name
        del cfg.portgroups[0]
        for kind in (4, 77, -3):
            bad_pg = pg0_bytes + field_bytes(7, field_bytes(1, field_varint(1, kind)))
            req = field_bytes(1, PLANE.encode()) + field_bytes(2, cfg.SerializeToString() + field_bytes(12, bad_pg))
            self.refused("PutVersion", req, C.INVALID_ARGUMENT,
                         'config.portgroups["%s"].default_port_config.vlan.kind: ' % pg_name)

    def test_page_sizes(self):
        for m, req_type in (("ListVersions", pb.ListVersionsRequest), ("ListAuditEvents", pb.ListAuditEventsRequest)):
            for size in (-1, -2**31, 1001, 2**31 - 1):
                with self.subTest(method=m, page_size=size):
                    self.refused(m, req_type(page_size=size), C.INVALID_ARGUMENT, "page_size", str(size))
            self.assertEqual(self.call(m, req_type(page_size=1000))[0], C.OK)

    def test_forged_page_tokens(self):
        flt = dict(plane=PLANE, switch_name="DVS0")

        def b64(s):
            return base64.urlsafe_b64encode(s.encode()).decode().rstrip("=")

        fp = hashlib.sha256(("%s\0%s\0%s" % (PLANE, "", "DVS0")).encode()).hexdigest()[:16]
        bad = ["forged", "=", "A", "AAAA", "p1.1.0000", b64("p1.1." + "0" * 16), b64("p1.0." + fp),
               b64("p1.-5." + fp), b64("p1.1." + fp + "x"), b64("p2.1." + fp), "x" * 81,
               b64("p1.1\0." + fp), "////", "é" * 4]
        for tok in bad:
            for m, req in (("ListVersions", pb.ListVersionsRequest(page_token=tok, **flt)),
                           ("ListAuditEvents", pb.ListAuditEventsRequest(page_token=tok))):
                with self.subTest(method=m, token=tok[:40]):
                    self.refused(m, req, C.INVALID_ARGUMENT, "page_token")
        # a real token, replayed with another filter
        r = self.api.ListVersions(pb.ListVersionsRequest(page_size=1), timeout=T)
        if r.next_page_token:
            self.refused("ListVersions", pb.ListVersionsRequest(page_size=1, page_token=r.next_page_token,
                                                                switch_name="other"), C.INVALID_ARGUMENT, "page_token")
        a = self.api.ListAuditEvents(pb.ListAuditEventsRequest(page_size=1), timeout=T)
        self.assertTrue(a.next_page_token)
        self.refused("ListAuditEvents", pb.ListAuditEventsRequest(page_size=1, page_token=a.next_page_token,
                                                                  method=SVC + "Export"), C.INVALID_ARGUMENT,
                     "page_token")
        self.refused("ListVersions", pb.ListVersionsRequest(page_token=a.next_page_token), C.INVALID_ARGUMENT,
                     "page_token")
        # tokens are not secret: a well-formed one for this filter only lists what the filter may
        ok = self.api.ListVersions(pb.ListVersionsRequest(page_token=b64("p1.%d.%s" % (2**62, fp)), **flt),
                                   timeout=T)
        self.assertTrue(all(x.switch_name == "DVS0" for x in ok.versions))
        huge = b64("p1.99999999999999999999." + fp)  # more than int64
        self.assertIn(self.call("ListVersions", pb.ListVersionsRequest(page_token=huge, **flt))[0],
                      (C.OK, C.INVALID_ARGUMENT))

    # --- unknown ids ------------------------------------------------------------------
    def test_unknown_ids(self):
        v, nope = self.vid, "999999999999"
        cases = [
            ("GetVersion", pb.GetVersionRequest(version_id=nope), C.NOT_FOUND, nope),
            ("Diff", pb.DiffRequest(from_version_id=nope, to_version_id=v), C.NOT_FOUND, nope),
            ("Diff", pb.DiffRequest(from_version_id=v, to_version_id=nope), C.NOT_FOUND, nope),
            ("Diff", pb.DiffRequest(from_version_id=v, to_plane=PLANE, to_switch_name="no-such-sw"),
             C.NOT_FOUND, "no-such-sw"),
            ("Diff", pb.DiffRequest(from_version_id=v, to_plane="no-such-plane", to_switch_name="DVS0"),
             C.NOT_FOUND, "to_plane", "no-such-plane"),
            ("Import", pb.ImportRequest(version_id=nope, mode=pb.IMPORT_MODE_APPLY_EXISTING, dry_run=True),
             C.NOT_FOUND, nope),
            ("Import", pb.ImportRequest(version_id=v, mode=pb.IMPORT_MODE_APPLY_EXISTING, target_plane="no-such-plane",
                                        dry_run=True), C.NOT_FOUND, "target_plane", "no-such-plane"),
            ("Import", pb.ImportRequest(version_id=v, mode=pb.IMPORT_MODE_APPLY_EXISTING,
                                        target_switch_name="no-such-sw", dry_run=True), C.NOT_FOUND, "no-such-sw"),
            ("Import", pb.ImportRequest(version_id=v, mode=pb.IMPORT_MODE_APPLY_EXISTING,
                                        target_switch_uuid="no-such-uuid"), C.NOT_FOUND, "no-such-uuid"),
            ("Export", pb.ExportRequest(plane=PLANE, switch_name="no-such-sw"), C.NOT_FOUND, "no-such-sw"),
            ("Export", pb.ExportRequest(plane=PLANE, switch_uuid="no-such-uuid"), C.NOT_FOUND, "no-such-uuid"),
            ("Export", pb.ExportRequest(plane="no-such-plane", switch_name="DVS0"), C.NOT_FOUND, "plane",
             "no-such-plane"),
            ("Export", pb.ExportRequest(plane=PLANE, switch_name="DVS0", portgroups=["no-such-pg"]),
             C.NOT_FOUND, "portgroups[0]", "no-such-pg"),
            ("ListSwitches", pb.ListSwitchesRequest(plane="no-such-plane"), C.NOT_FOUND, "no-such-plane"),
            ("ListSwitches", pb.ListSwitchesRequest(plane="no-such-plane", live=True), C.NOT_FOUND, "no-such-plane"),
        ]
        for m, req, code, *words in cases:
            with self.subTest(method=m, req=str(req)[:80]):
                self.refused(m, req, code, *words)
        for bad in ("0", "-1", "1.5", "0x10", " 1", "1 ", "+1", "1" * 19, "١"):  # the last: Arabic-Indic one
            for m, req in (("GetVersion", pb.GetVersionRequest(version_id=bad)),
                           ("Diff", pb.DiffRequest(from_version_id=bad, to_version_id=v)),
                           ("Import", pb.ImportRequest(version_id=bad, mode=pb.IMPORT_MODE_APPLY_EXISTING,
                                                       dry_run=True))):
                with self.subTest(method=m, id=bad):
                    self.refused(m, req, C.INVALID_ARGUMENT, "version_id")
        # an unknown filter is an empty list, not an error
        r = self.api.ListVersions(pb.ListVersionsRequest(switch_uuid="no-such-uuid"), timeout=T)
        self.assertEqual(list(r.versions), [])

    # --- invalid UTF-8, by hand -------------------------------------------------------
    def test_invalid_utf8_in_every_string_field(self):
        for m, msg_type in REQUEST_TYPES.items():
            for num, name in top_string_fields(msg_type):
                for bad in BAD_UTF8:
                    with self.subTest(method=m, field=name, bytes=bad):
                        # a string field appended last: the last value wins
                        self.refused(m, field_bytes(num, bad), C.INVALID_ARGUMENT, name, "not valid UTF-8")

    def test_invalid_utf8_in_maps_and_nested_messages(self):
        bad = b"\xc3\x28"
        base = pb.ExportRequest(plane=PLANE, switch_name="DVS0").SerializeToString()
        self.refused("Export", base + map_entry(7, bad, b"v"), C.INVALID_ARGUMENT, "labels[0].key", "UTF-8")
        self.refused("Export", base + map_entry(7, b"k", bad), C.INVALID_ARGUMENT, "labels[0].value", "UTF-8")
        imp = pb.ImportRequest(version_id=self.vid, mode=pb.IMPORT_MODE_CREATE_NEW, new_name="x",
                               dry_run=True).SerializeToString()
        self.refused("Import", imp + map_entry(8, b"DC0_DVPG0", bad), C.INVALID_ARGUMENT,
                     "portgroup_renames[0].value", "UTF-8")
        # config.portgroups[N].default_port_config.teaming.active_uplinks[0], and friends
        cfg = self.v.config
        n = len(cfg.portgroups)
        teaming = field_bytes(7, field_bytes(3, field_bytes(4, bad)))
        nested = {
            "config.name": field_bytes(1, bad),
            "config.host_members[%d]" % len(cfg.host_members): field_bytes(11, bad),
            "config.portgroups[%d].name" % n: field_bytes(12, field_bytes(2, bad)),
            "config.portgroups[%d].default_port_config.teaming.active_uplinks[0]" % n: field_bytes(12, teaming),
            "config.link_discovery.protocol": field_bytes(9, field_bytes(1, bad)),
        }
        for path, extra in nested.items():
            with self.subTest(path=path):
                req = field_bytes(1, PLANE.encode()) + field_bytes(2, cfg.SerializeToString() + extra)
                self.refused("PutVersion", req, C.INVALID_ARGUMENT, path, "not valid UTF-8")
        self.refused("PutVersion", field_bytes(1, PLANE.encode()) + field_bytes(2, cfg.SerializeToString()) +
                     map_entry(4, b"k", bad), C.INVALID_ARGUMENT, "labels[0].value", "UTF-8")

    # --- garbage ---------------------------------------------------------------------
    def test_garbage_bytes_every_rpc(self):
        garbage = [b"\xff" * 8, b"\x08\xff", b"\x0a\x10abc", b"\x0b", b"\x0e\x00", b"\x0a",
                   b"\x0a\xff\xff\xff\xff\x0f" + b"x" * 16, b"\x12\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01",
                   bytes(range(256)) * 4]
        for m in METHODS:
            for g in garbage:
                with self.subTest(method=m, garbage=g[:12]):
                    self.refused(m, g, C.INVALID_ARGUMENT, "request", "not a valid")
        # a field with the wrong wire type (string field 1 sent as a varint)
        for m in ("Export", "GetVersion", "Import", "PutVersion", "ListVersions", "Diff"):
            self.refused(m, field_varint(1, 5), C.INVALID_ARGUMENT, "request")
        self.refused(HEALTH, b"\xff\xff", C.INVALID_ARGUMENT, "request")

    def test_unknown_method_and_service(self):
        self.refused(SVC + "NoSuchMethod", b"", C.UNIMPLEMENTED, "NoSuchMethod")
        self.refused("/no.such.Service/Export", b"\xff", C.UNIMPLEMENTED, "no.such.Service")
        self.refused(HEALTH, b"\x0a\x05other", C.NOT_FOUND, "service")

    # --- configuration documents (PutVersion) ------------------------------------------
    def test_put_version_documents(self):
        def doc(**changes):
            c = pb.SwitchConfig()
            c.CopyFrom(self.v.config)
            for k, fn in changes.items():
                fn(c)
            return c

        pg0 = self.v.config.portgroups[0].name
        p = 'config.portgroups["%s"]' % pg0

        def vlan(c):
            return c.portgroups[0].default_port_config.vlan

        cases = [
            (doc(a=lambda c: setattr(vlan(c), "vlan_id", 5000)), p + ".default_port_config.vlan.vlan_id: 5000 is outside 0..4094"),
            (doc(a=lambda c: setattr(vlan(c), "vlan_id", -1)), p + ".default_port_config.vlan.vlan_id: -1"),
            (doc(a=lambda c: setattr(vlan(c), "pvlan_id", 4095)), p + ".default_port_config.vlan.pvlan_id: 4095"),
            (doc(a=lambda c: vlan(c).trunk_ranges.add(start=20, end=10)),
             (p + ".default_port_config.vlan.trunk_ranges[", "end: 10 is outside 20..4094")),
            (doc(a=lambda c: vlan(c).trunk_ranges.add(start=-5, end=10)), ("trunk_ranges[", "start: -5")),
            (doc(a=lambda c: setattr(c, "max_mtu", 100)), "config.max_mtu: 100 is outside 1280..9000"),
            (doc(a=lambda c: setattr(c, "max_mtu", 2**31 - 1)), "config.max_mtu"),
            (doc(a=lambda c: setattr(c, "num_standalone_ports", -1)), "config.num_standalone_ports: -1"),
            (doc(a=lambda c: setattr(c.portgroups[0], "num_ports", -1)), p + ".num_ports: -1"),
            (doc(a=lambda c: setattr(c.portgroups[0].default_port_config.in_shaping, "burst_size", -1)),
             p + ".default_port_config.in_shaping.burst_size: -1"),
            (doc(a=lambda c: setattr(c.default_port_config.out_shaping, "peak_bandwidth", -2**63)),
             "config.default_port_config.out_shaping.peak_bandwidth"),
            (doc(a=lambda c: c.portgroups.add(name=pg0)), 'config.portgroups: name "%s" appears twice' % pg0),
            (doc(a=lambda c: c.portgroups.add(name="new", key=c.portgroups[0].key)), "appears twice"),
            (doc(a=lambda c: c.portgroups.add(name="")), "config.portgroups[%d].name: required" % len(self.v.config.portgroups)),
            (doc(a=lambda c: c.host_members.append("")), "config.host_members[%d]: required" % len(self.v.config.host_members)),
            (doc(a=lambda c: c.host_members.append("h\x01")), ("config.host_members[", "contains a control character")),
            (doc(a=lambda c: setattr(c, "uuid", "u\x02")), "config.uuid: contains a control character"),
            (doc(a=lambda c: setattr(c, "datacenter", "d" * 1025)), "config.datacenter: longer than 1024"),
        ]
        for c, words in cases:
            words = words if isinstance(words, tuple) else (words,)
            with self.subTest(words=words):
                self.refused("PutVersion", pb.PutVersionRequest(plane=PLANE, config=c), C.INVALID_ARGUMENT, *words)
        self.refused("PutVersion", pb.PutVersionRequest(plane=PLANE, config=self.v.config, labels={"": "v"}),
                     C.INVALID_ARGUMENT, "labels[0].key: required")

    def test_labels(self):
        base = pb.ExportRequest(plane=PLANE, switch_name="DVS0").SerializeToString()
        self.refused("Export", base + map_entry(7, b"", b"v"), C.INVALID_ARGUMENT, "labels[0].key: required")
        self.refused("Export", base + map_entry(7, b"env", b"a") + map_entry(7, b"env", b"b"),
                     C.INVALID_ARGUMENT, 'labels: key "env" appears twice')
        self.refused("Export", base + map_entry(7, b"k\x01", b"a"), C.INVALID_ARGUMENT,
                     "labels[0].key: contains a control character")

    # --- identity is checked before anything else ---------------------------------------
    def test_roles_come_before_validation(self):
        with channel("viewer") as ch:
            for m in ("Export", "PutVersion", "Import", "ListAuditEvents"):
                code, details = status_of(raw(ch, SVC + m), b"\xff\xff\xff")
                self.assertEqual((code, details), (C.PERMISSION_DENIED, "permission denied"), m)
        if os.environ.get("DVSCONF_CA"):
            with channel(None) as ch:
                for m in METHODS:
                    code, details = status_of(raw(ch, SVC + m), b"\xff\xff\xff")
                    self.assertEqual((code, details), (C.UNAUTHENTICATED, "authentication required"), m)


class FoundBugs(Base):
    """Regression tests of the bugs this suite found (one per bug; see
    README.md). They may write, each on a switch of its own."""

    def test_status_message_truncation_keeps_utf8(self):
        # Names are quoted as %.128s into status messages: the cut falls inside
        # a 2-byte character and the status details are not UTF-8. grpcio then
        # decodes the whole message as Latin-1 (mojibake) and logs an error.
        name = "a" + "é" * 100
        details = self.refused("Export", pb.ExportRequest(plane=name, switch_name="DVS0"), C.NOT_FOUND, "plane")
        self.assertNotIn("Ã", details, "the status message is not valid UTF-8: %r" % details[:80])
        self.assertIn("é" * 10, details)
        c = pb.SwitchConfig(name="hard-utf8", uuid="u-hard-utf8")
        c.portgroups.add(name=name)
        c.portgroups.add(name=name)
        details = self.refused("PutVersion", pb.PutVersionRequest(plane=PLANE, config=c), C.INVALID_ARGUMENT,
                               "appears twice")
        self.assertNotIn("Ã", details, "the status message is not valid UTF-8: %r" % details[:80])

    def test_put_version_messages_name_the_element(self):
        # Since 697bd00 (paths formatted only on error) a bad trunk range or
        # host member is named without its index ("trunk_ranges[].end",
        # "host_members[]"): in a long list the message no longer says which;
        # and a negative VlanKind is shown as 4294967293 (the enum is read
        # as unsigned).
        cfg = pb.SwitchConfig(name="hard-idx", uuid="u-hard-idx", host_members=["h0", "h1", "h\x01"])
        with self.subTest("host member index"):
            self.refused("PutVersion", pb.PutVersionRequest(plane=PLANE, config=cfg), C.INVALID_ARGUMENT,
                         "config.host_members[2]: contains a control character")
        cfg = pb.SwitchConfig(name="hard-idx", uuid="u-hard-idx")
        vlan = cfg.default_port_config.vlan
        vlan.kind = pb.VLAN_KIND_TRUNK
        vlan.trunk_ranges.add(start=1, end=10)
        vlan.trunk_ranges.add(start=30, end=20)
        with self.subTest("trunk range index"):
            self.refused("PutVersion", pb.PutVersionRequest(plane=PLANE, config=cfg), C.INVALID_ARGUMENT,
                         "config.default_port_config.vlan.trunk_ranges[1].end: 20 is outside 30..4094")
        cfg = pb.SwitchConfig(name="hard-idx", uuid="u-hard-idx").SerializeToString()
        kind = field_bytes(10, field_bytes(1, field_varint(1, -3)))  # default_port_config.vlan.kind = -3
        with self.subTest("negative enum value"):
            self.refused("PutVersion", field_bytes(1, PLANE.encode()) + field_bytes(2, cfg + kind),
                         C.INVALID_ARGUMENT, "config.default_port_config.vlan.kind: -3")

    def test_put_version_needs_a_configured_plane(self):
        # Export, Import, Diff and ListSwitches answer NOT_FOUND for a plane that
        # is not configured; PutVersion stores a version under it.
        before = write_counts()
        c = pb.SwitchConfig(name="hard-noplane", uuid="u-hard-noplane")
        self.refused("PutVersion", pb.PutVersionRequest(plane="no-such-plane", config=c), C.NOT_FOUND,
                     "plane", "no-such-plane")
        self.assertEqual(write_counts(), before)

    def test_export_many_labels_is_bounded(self):
        # validate_labels used to compare every label key with every other: a
        # request under the 4 MiB limit with ~320k labels kept a worker busy
        # for minutes. Now labels are capped (256) and checked with a map:
        # a huge label list is refused at once, naming the limit, and a
        # duplicate among the allowed number is still found.
        base = pb.ExportRequest(plane=PLANE, switch_name="DVS0").SerializeToString()
        many = base + b"".join(map_entry(7, b"k%d" % i, b"") for i in range(100000))
        t0 = time.monotonic()
        self.refused("Export", many, C.INVALID_ARGUMENT, "labels: at most 256 (got 100000)", timeout=60)
        self.assertLess(time.monotonic() - t0, 10)
        dup = base + b"".join(map_entry(7, b"k%d" % i, b"") for i in range(255)) + map_entry(7, b"k0", b"")
        self.refused("Export", dup, C.INVALID_ARGUMENT, 'labels: key "k0" appears twice', timeout=60)


if __name__ == "__main__":
    unittest.main()
