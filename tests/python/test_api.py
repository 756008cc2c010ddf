"""dvsconf.v1.ConfigManager seen from an independent client (Debian's grpcio).

Run by tests/python/run.sh against a dvsconfd of its own, a fresh database and
a vcsim with switch DVS0 (4 port groups). Environment: DVSCONF_ADDR,
DVSCONF_PLANE, VCSIM_URL (sdk URL without credentials), VCSIM_USER,
VCSIM_PASSWORD_FILE.

setUpClass makes the history every test reads: version 1 (first export), an
unchanged re-export, a port group added in vcsim, version 2.
"""
import os
import re
import unittest

import grpc

from dvsconf.v1 import dvsconf_pb2 as pb
from dvsconf.v1 import dvsconf_pb2_grpc as pb_grpc
import stack
import vim_soap

ADDR = os.environ["DVSCONF_ADDR"]
PLANE = os.environ.get("DVSCONF_PLANE", "vcsim")
SWITCH = os.environ.get("DVSCONF_SWITCH", "DVS0")
VCSIM_URL = os.environ["VCSIM_URL"]
T = float(os.environ.get("DVSCONF_RPC_TIMEOUT", "30"))  # deadline of every call
ADDED_PG = "py-added-pg"
C = grpc.StatusCode


class ConfigManagerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.channel = stack.channel()
        grpc.channel_ready_future(cls.channel).result(timeout=T)
        cls.stub = pb_grpc.ConfigManagerStub(cls.channel)
        s = cls.stub
        cls.first = s.Export(pb.ExportRequest(plane=PLANE, switch_name=SWITCH, note="first",
                                              labels={"by": "test_api"}), timeout=T)
        cls.again = s.Export(pb.ExportRequest(plane=PLANE, switch_name=SWITCH), timeout=T)
        cls.v1 = s.GetVersion(pb.GetVersionRequest(version_id=cls.first.version.id), timeout=T)

        # Change the live switch: one more port group.
        with open(os.environ["VCSIM_PASSWORD_FILE"]) as f:
            vim = vim_soap.Vim(VCSIM_URL, os.environ["VCSIM_USER"], f.read(), timeout=T)
        some_pg = next(pg.key for pg in cls.v1.config.portgroups if pg.key)
        vim.add_portgroup(some_pg, ADDED_PG)

        cls.second = s.Export(pb.ExportRequest(plane=PLANE, switch_name=SWITCH), timeout=T)
        cls.v2 = s.GetVersion(pb.GetVersionRequest(version_id=cls.second.version.id), timeout=T)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()

    def assertStatus(self, code, fn, req, *words):
        """fn(req) fails with code and its details name every word."""
        with self.assertRaises(grpc.RpcError) as cm:
            fn(req, timeout=T)
        err = cm.exception
        self.assertEqual(err.code(), code, "details: %r" % err.details())
        for w in words:
            self.assertIn(w, err.details() or "", "status %s" % err.code())
        return err

    # --- ListPlanes ------------------------------------------------------------
    def test_list_planes(self):
        r = self.stub.ListPlanes(pb.ListPlanesRequest(), timeout=T)
        planes = {p.name: p for p in r.planes}
        self.assertIn(PLANE, planes)
        p = planes[PLANE]
        self.assertEqual(p.kind, "vsphere")
        self.assertEqual(p.url, VCSIM_URL)
        self.assertNotIn("@", p.url)
        with open(os.environ["VCSIM_PASSWORD_FILE"]) as f:
            self.assertNotIn(f.read(), str(r))

    # --- ListSwitches ----------------------------------------------------------
    def test_list_switches_live(self):
        r = self.stub.ListSwitches(pb.ListSwitchesRequest(plane=PLANE, live=True), timeout=T)
        sw = {x.name: x for x in r.switches}
        self.assertIn(SWITCH, sw)
        self.assertEqual(sw[SWITCH].plane, PLANE)
        self.assertEqual(sw[SWITCH].uuid, self.first.version.switch_uuid)
        self.assertEqual(sw[SWITCH].portgroup_count, self.second.version.portgroup_count)

    def test_list_switches_stored(self):
        r = self.stub.ListSwitches(pb.ListSwitchesRequest(plane=PLANE), timeout=T)
        self.assertEqual([x.name for x in r.switches], [SWITCH])
        latest = r.switches[0].latest_version
        self.assertEqual(latest.id, self.second.version.id)
        self.assertEqual(latest.number, 2)

    def test_list_switches_live_needs_plane(self):
        self.assertStatus(C.INVALID_ARGUMENT, self.stub.ListSwitches,
                          pb.ListSwitchesRequest(live=True), "plane")

    def test_list_switches_unknown_plane(self):
        self.assertStatus(C.NOT_FOUND, self.stub.ListSwitches,
                          pb.ListSwitchesRequest(plane="no-such-plane", live=True), "no-such-plane")

    # --- Export ----------------------------------------------------------------
    def test_export_first(self):
        v = self.first.version
        self.assertFalse(self.first.unchanged)
        self.assertEqual(v.number, 1)
        self.assertRegex(v.checksum, r"^[0-9a-f]{64}$")
        self.assertEqual((v.plane, v.switch_name), (PLANE, SWITCH))
        self.assertTrue(v.switch_uuid)
        self.assertTrue(v.id)
        self.assertEqual(v.note, "first")
        self.assertEqual(dict(v.labels), {"by": "test_api"})
        self.assertEqual(v.scope, pb.EXPORT_SCOPE_ALL)
        self.assertGreater(v.created_at.seconds, 1600000000)
        self.assertGreaterEqual(v.portgroup_count, 4)
        self.assertEqual(v.portgroup_count, len(self.v1.config.portgroups))

    def test_export_again_unchanged(self):
        self.assertTrue(self.again.unchanged)
        self.assertEqual(self.again.version.id, self.first.version.id)
        self.assertEqual(self.again.version.number, 1)
        self.assertEqual(self.again.version.checksum, self.first.version.checksum)

    def test_export_after_change(self):
        v = self.second.version
        self.assertFalse(self.second.unchanged)
        self.assertEqual(v.number, 2)
        self.assertNotEqual(v.id, self.first.version.id)
        self.assertNotEqual(v.checksum, self.first.version.checksum)
        self.assertEqual(v.portgroup_count, self.first.version.portgroup_count + 1)
        self.assertIn(ADDED_PG, [pg.name for pg in self.v2.config.portgroups])

    def test_export_by_uuid(self):
        r = self.stub.Export(pb.ExportRequest(plane=PLANE, switch_uuid=self.second.version.switch_uuid),
                             timeout=T)
        self.assertTrue(r.unchanged)
        self.assertEqual(r.version.id, self.second.version.id)

    def test_export_unknown_switch(self):
        self.assertStatus(C.NOT_FOUND, self.stub.Export,
                          pb.ExportRequest(plane=PLANE, switch_name="no-such-switch"), "no-such-switch")

    def test_export_both_switch_name_and_uuid(self):
        self.assertStatus(C.INVALID_ARGUMENT, self.stub.Export,
                          pb.ExportRequest(plane=PLANE, switch_name=SWITCH,
                                           switch_uuid=self.first.version.switch_uuid),
                          "switch_name", "switch_uuid")

    def test_export_neither_switch_name_nor_uuid(self):
        self.assertStatus(C.INVALID_ARGUMENT, self.stub.Export, pb.ExportRequest(plane=PLANE),
                          "switch_name", "switch_uuid")

    def test_export_unknown_plane(self):
        self.assertStatus(C.NOT_FOUND, self.stub.Export,
                          pb.ExportRequest(plane="no-such-plane", switch_name=SWITCH), "no-such-plane")

    # --- ListVersions ----------------------------------------------------------
    def list_versions(self, **kw):
        return self.stub.ListVersions(pb.ListVersionsRequest(plane=PLANE, switch_name=SWITCH, **kw),
                                      timeout=T)

    def test_list_versions_newest_first(self):
        r = self.list_versions()
        self.assertEqual([v.number for v in r.versions], [2, 1])
        self.assertEqual([v.id for v in r.versions], [self.second.version.id, self.first.version.id])
        self.assertEqual(r.next_page_token, "")

    def test_list_versions_paging(self):
        seen, token, pages = [], "", 0
        while True:
            r = self.list_versions(page_size=1, page_token=token)
            pages += 1
            self.assertLessEqual(len(r.versions), 1)
            seen += [v.number for v in r.versions]
            token = r.next_page_token
            if not token:
                break
            self.assertLess(pages, 10, "paging does not end")
        self.assertEqual(seen, [2, 1])

    def test_list_versions_forged_token(self):
        self.assertStatus(C.INVALID_ARGUMENT, self.stub.ListVersions,
                          pb.ListVersionsRequest(plane=PLANE, switch_name=SWITCH, page_token="forged"),
                          "page_token")
        token = self.list_versions(page_size=1).next_page_token
        self.assertTrue(token)
        # a real token used with another filter
        self.assertStatus(C.INVALID_ARGUMENT, self.stub.ListVersions,
                          pb.ListVersionsRequest(plane=PLANE, switch_name="other", page_token=token),
                          "page_token")

    def test_list_versions_negative_page_size(self):
        self.assertStatus(C.INVALID_ARGUMENT, self.stub.ListVersions,
                          pb.ListVersionsRequest(plane=PLANE, switch_name=SWITCH, page_size=-1),
                          "page_size")

    # --- GetVersion ------------------------------------------------------------
    def test_get_version(self):
        self.assertEqual(self.v1.info, self.first.version)
        cfg = self.v1.config
        self.assertEqual(cfg.name, SWITCH)
        self.assertEqual(cfg.uuid, self.first.version.switch_uuid)
        names = [pg.name for pg in cfg.portgroups]
        for i in range(4):
            self.assertIn("DC0_DVPG%d" % i, names)
        self.assertNotIn(ADDED_PG, names)
        self.assertGreaterEqual(len(cfg.host_members), 3)  # the cluster's 3 hosts
        self.assertEqual(list(cfg.host_members), sorted(cfg.host_members))

    def test_get_version_unknown(self):
        vid = self.second.version.id
        unknown = str(int(vid) + 1000000) if vid.isdigit() else "999999999"
        self.assertStatus(C.NOT_FOUND, self.stub.GetVersion, pb.GetVersionRequest(version_id=unknown),
                          unknown)

    def test_get_version_malformed(self):
        self.assertStatus(C.INVALID_ARGUMENT, self.stub.GetVersion,
                          pb.GetVersionRequest(version_id="not an id!"), "version_id")

    # --- Diff ------------------------------------------------------------------
    def test_diff_self(self):
        vid = self.first.version.id
        r = self.stub.Diff(pb.DiffRequest(from_version_id=vid, to_version_id=vid), timeout=T)
        self.assertEqual(list(r.changes), [])

    def test_diff_versions(self):
        r = self.stub.Diff(pb.DiffRequest(from_version_id=self.first.version.id,
                                          to_version_id=self.second.version.id), timeout=T)
        added = [c for c in r.changes if c.kind == pb.CHANGE_KIND_ADDED and ADDED_PG in c.path]
        self.assertTrue(added, "changes: %s" % r)

    def test_diff_live(self):
        r = self.stub.Diff(pb.DiffRequest(from_version_id=self.second.version.id, to_plane=PLANE,
                                          to_switch_name=SWITCH), timeout=T)
        self.assertEqual(list(r.changes), [])
        r = self.stub.Diff(pb.DiffRequest(from_version_id=self.first.version.id, to_plane=PLANE,
                                          to_switch_name=SWITCH), timeout=T)
        self.assertTrue([c for c in r.changes if c.kind == pb.CHANGE_KIND_ADDED and ADDED_PG in c.path],
                        "changes: %s" % r)

    # --- Import ----------------------------------------------------------------
    def test_import_apply_existing_unchanged(self):
        r = self.stub.Import(pb.ImportRequest(version_id=self.second.version.id,
                                              mode=pb.IMPORT_MODE_APPLY_EXISTING, dry_run=True), timeout=T)
        self.assertEqual(list(r.plan), [])
        self.assertFalse(r.applied)

    def test_import_apply_existing_prune_plan(self):
        r = self.stub.Import(pb.ImportRequest(version_id=self.first.version.id, prune=True,
                                              mode=pb.IMPORT_MODE_APPLY_EXISTING, dry_run=True), timeout=T)
        self.assertFalse(r.applied)
        self.assertEqual([(s.kind, s.object) for s in r.plan],
                         [(pb.PLAN_STEP_REMOVE_PORTGROUP, ADDED_PG)])

    def test_import_mode_unspecified(self):
        self.assertStatus(C.INVALID_ARGUMENT, self.stub.Import,
                          pb.ImportRequest(version_id=self.first.version.id, dry_run=True), "mode")

    def test_import_create_new_needs_name(self):
        self.assertStatus(C.INVALID_ARGUMENT, self.stub.Import,
                          pb.ImportRequest(version_id=self.first.version.id,
                                           mode=pb.IMPORT_MODE_CREATE_NEW, dry_run=True), "new_name")

    def test_import_create_new_dry_run(self):
        r = self.stub.Import(pb.ImportRequest(version_id=self.first.version.id,
                                              mode=pb.IMPORT_MODE_CREATE_NEW, new_name="DVS0-copy",
                                              dry_run=True), timeout=T)
        self.assertFalse(r.applied)
        self.assertTrue(r.plan)
        self.assertEqual(r.plan[0].kind, pb.PLAN_STEP_CREATE_SWITCH)
        self.assertEqual(r.plan[0].object, "DVS0-copy")
        adds = [s.object for s in r.plan if s.kind == pb.PLAN_STEP_ADD_PORTGROUP]
        for i in range(4):
            self.assertIn("DC0_DVPG%d" % i, adds)
        # nothing was created
        live = self.stub.ListSwitches(pb.ListSwitchesRequest(plane=PLANE, live=True), timeout=T)
        self.assertNotIn("DVS0-copy", [x.name for x in live.switches])

    # --- the wire ------------------------------------------------------------
    def raw(self, method):
        return self.channel.unary_unary(method, request_serializer=None, response_deserializer=None)

    def test_garbage_request(self):
        for garbage in (b"\xff\xff\xff\xff", b"\x0a\x7f"):
            self.assertStatus(C.INVALID_ARGUMENT, self.raw("/dvsconf.v1.ConfigManager/Export"), garbage)

    def test_invalid_utf8_string(self):
        # plane = "vcsim", switch_name = b"\xff\xfe": a proto3 string must be UTF-8
        req = b"\x0a" + bytes([len(PLANE)]) + PLANE.encode() + b"\x12\x02\xff\xfe"
        self.assertStatus(C.INVALID_ARGUMENT, self.raw("/dvsconf.v1.ConfigManager/Export"), req)

    def test_unknown_method(self):
        self.assertStatus(C.UNIMPLEMENTED, self.raw("/dvsconf.v1.ConfigManager/NoSuchMethod"), b"")
        self.assertStatus(C.UNIMPLEMENTED, self.raw("/no.such.Service/Method"), b"")

    def test_health(self):
        # grpc.health.v1.HealthCheckRequest{} is empty; the reply {status: SERVING} is 08 01
        reply = self.raw("/grpc.health.v1.Health/Check")(b"", timeout=T)
        self.assertEqual(reply, b"\x08\x01")


if __name__ == "__main__":
    unittest.main()
