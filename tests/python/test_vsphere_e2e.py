"""End to end through the gRPC API, against vcsim and a real PostgreSQL:
the product's story on a switch of its own (issue 3).

create-new a working copy of DVS0 -> export -> change a port group in vCenter
-> export -> list -> diff shows exactly that change -> apply-existing dry run
(one step, nothing changed) -> apply (reverted, safety version) -> apply again
(empty plan) -> a fault injected mid-apply leaves the switch as it was ->
destroy the switch in vCenter -> create-original brings it back and its next
export continues the same history -> create-new makes a renamed copy.

Environment (deploy/up.sh's env file): DVSCONF_ADDR, DVSCONF_PLANE, VCSIM_URL,
VCSIM_USER, VCSIM_PASSWORD_FILE, VCSIM_HOOKS_URL; DVSCONF_CA and
DVSCONF_ADMIN_TOKEN when the stack runs with TLS and tokens (stack.py).
"""
import json
import os
import unittest
import urllib.request

import grpc

from dvsconf.v1 import dvsconf_pb2 as pb
from dvsconf.v1 import dvsconf_pb2_grpc as pb_grpc
import stack
from vim_soap import Vim

PLANE = os.environ.get("DVSCONF_PLANE", "vcsim")
SW = "e2e-sw"
TIMEOUT = 60


def hook(path):
    req = urllib.request.Request(os.environ["VCSIM_HOOKS_URL"] + path, method="POST", data=b"")
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read()


def counts():
    with urllib.request.urlopen(os.environ["VCSIM_HOOKS_URL"] + "/dvsconf-test/counts", timeout=10) as r:
        return json.loads(r.read())


class VsphereStory(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ch = stack.channel()
        cls.api = pb_grpc.ConfigManagerStub(cls.ch)
        with open(os.environ["VCSIM_PASSWORD_FILE"]) as f:
            cls.vim = Vim(os.environ["VCSIM_URL"], os.environ["VCSIM_USER"], f.read())

    @classmethod
    def tearDownClass(cls):
        cls.ch.close()

    def call(self, name, req):
        return getattr(self.api, name)(req, timeout=TIMEOUT)

    def export(self, name=SW):
        return self.call("Export", pb.ExportRequest(plane=PLANE, switch_name=name))

    def config(self, version_id):
        return self.call("GetVersion", pb.GetVersionRequest(version_id=version_id)).config

    def live_diff(self, version_id, name=SW):
        return self.call("Diff", pb.DiffRequest(from_version_id=version_id, to_plane=PLANE,
                                                to_switch_name=name)).changes

    def assertStatus(self, code, fn, *args):
        with self.assertRaises(grpc.RpcError) as cm:
            fn(*args)
        self.assertEqual(cm.exception.code(), code, cm.exception.details())
        return cm.exception.details()

    def test_story(self):
        Mode = pb.ImportMode
        # A working copy of the simulator's switch, so the story owns its switch.
        base = self.export("DVS0").version
        made = self.call("Import", pb.ImportRequest(
            version_id=base.id, mode=Mode.Value("IMPORT_MODE_CREATE_NEW"), new_name=SW,
            portgroup_prefix="e2e-", include_hosts=True))
        self.assertTrue(made.applied)
        self.assertNotEqual(made.switch_uuid, base.switch_uuid)

        # export -> change a port group in vCenter -> export
        v1 = self.export().version
        self.assertEqual(v1.number, 1)
        self.assertEqual(v1.portgroup_count, base.portgroup_count)
        cfg1 = self.config(v1.id)
        self.assertEqual(len(cfg1.host_members), 3)
        pg = next(p for p in cfg1.portgroups if p.name == "e2e-DC0_DVPG1")
        self.vim.set_vlan(pg.key, pg.name, 1234)
        v2 = self.export().version
        self.assertEqual(v2.number, 2)
        self.assertNotEqual(v2.checksum, v1.checksum)

        # list: newest first
        listed = self.call("ListVersions", pb.ListVersionsRequest(plane=PLANE, switch_uuid=v1.switch_uuid))
        self.assertEqual([v.id for v in listed.versions], [v2.id, v1.id])

        # diff shows exactly that change
        changes = self.call("Diff", pb.DiffRequest(from_version_id=v1.id, to_version_id=v2.id)).changes
        prefix = 'portgroups["e2e-DC0_DVPG1"].default_port_config.vlan.'
        self.assertEqual(sorted(c.path for c in changes), [prefix + "kind", prefix + "vlan_id"], changes)
        vid = next(c for c in changes if c.path.endswith("vlan_id"))
        self.assertEqual((vid.old_value, vid.new_value, vid.kind),
                         ("0", "1234", pb.ChangeKind.Value("CHANGE_KIND_MODIFIED")))

        # apply-existing dry run: one step, nothing changed
        revert = pb.ImportRequest(version_id=v1.id, mode=Mode.Value("IMPORT_MODE_APPLY_EXISTING"))
        revert.dry_run = True
        dry = self.call("Import", revert)
        self.assertEqual([(s.kind, s.object) for s in dry.plan],
                         [(pb.PlanStepKind.Value("PLAN_STEP_RECONFIGURE_PORTGROUP"), "e2e-DC0_DVPG1")])
        self.assertFalse(dry.applied)
        self.assertTrue(self.export().unchanged)

        # a vCenter fault in the middle of a two-step apply leaves the switch as it was
        pg0 = next(p for p in cfg1.portgroups if p.name == "e2e-DC0_DVPG0")
        self.vim.set_vlan(pg0.key, pg0.name, 77)
        before = self.export().version
        hook("/dvsconf-test/fail?method=ReconfigureDVPortgroup_Task&fault=InvalidArgument&after=1")
        revert.dry_run = False
        details = self.assertStatus(grpc.StatusCode.ABORTED, self.call, "Import", revert)
        self.assertIn("step 2", details)
        hook("/dvsconf-test/reset")
        after = self.export()
        self.assertTrue(after.unchanged, "the failed apply changed the switch")
        self.assertEqual(after.version.id, before.id)

        # apply: reverted in vCenter, with a safety version of what was there
        done = self.call("Import", revert)
        self.assertTrue(done.applied)
        self.assertEqual(len(done.plan), 2)
        self.assertEqual(done.safety_version_id, before.id)
        self.assertEqual(list(self.live_diff(v1.id)), [])
        # the same version again changes nothing
        again = self.call("Import", revert)
        self.assertEqual(list(again.plan), [])
        reconfigures = counts().get("ReconfigureDVPortgroup_Task", 0)
        self.call("Import", revert)
        self.assertEqual(counts().get("ReconfigureDVPortgroup_Task", 0), reconfigures)

        # lose the switch; create-original brings it back
        self.vim.destroy_switch(pg.key)
        self.assertStatus(grpc.StatusCode.NOT_FOUND, self.export)
        orig = pb.ImportRequest(version_id=v1.id, mode=Mode.Value("IMPORT_MODE_CREATE_ORIGINAL"))
        back = self.call("Import", orig)
        self.assertTrue(back.applied)
        self.assertEqual(back.switch_name, SW)
        self.assertTrue(any(m.object == "portgroup" for m in back.identity_map))
        # same names, settings, port groups and hosts: only the keys vCenter chose differ
        for c in self.live_diff(v1.id):
            self.assertTrue(c.path.endswith(".key") or c.path == "uuid", c)
        self.assertEqual(sorted(self.config(self.export().version.id).host_members),
                         sorted(cfg1.host_members))
        # ... and its exports continue the same history
        nxt = self.export().version
        self.assertGreater(nxt.number, v2.number)
        hist = self.call("ListVersions", pb.ListVersionsRequest(switch_uuid=back.switch_uuid, page_size=100))
        self.assertIn(v1.id, [v.id for v in hist.versions])
        # create-original while it exists
        self.assertStatus(grpc.StatusCode.ALREADY_EXISTS, self.call, "Import", orig)

        # create-new: a renamed copy with new identifiers
        copy = self.call("Import", pb.ImportRequest(
            version_id=v1.id, mode=Mode.Value("IMPORT_MODE_CREATE_NEW"), new_name=SW + "-prod",
            portgroup_renames={"e2e-DC0_DVPG0": "prod-web"}, portgroup_prefix="prod-"))
        self.assertTrue(copy.applied)
        self.assertNotEqual(copy.switch_uuid, back.switch_uuid)
        names = sorted(p.name for p in self.config(self.export(SW + "-prod").version.id).portgroups)
        want = sorted(["prod-web"] + ["prod-" + p.name for p in cfg1.portgroups
                                      if p.name != "e2e-DC0_DVPG0"])
        self.assertEqual(names, want)


if __name__ == "__main__":
    unittest.main()
