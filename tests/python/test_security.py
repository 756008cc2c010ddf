"""Identity, roles, TLS and the audit log, against the secure local stack
(deploy/up.sh: TLS with a private CA, admin/operator/viewer tokens)."""
import os
import unittest

import grpc

from dvsconf.v1 import dvsconf_pb2 as pb
from dvsconf.v1 import dvsconf_pb2_grpc as pb_grpc
import stack

PLANE = os.environ.get("DVSCONF_PLANE", "vcsim")
T = 30
EXPORT = "/dvsconf.v1.ConfigManager/Export"


class Security(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.environ.get("DVSCONF_CA"):
            raise AssertionError("the stack is not secure: deploy/up.sh must run without --plaintext")
        cls.channels = {r: stack.channel(r) for r in ("admin", "operator", "viewer", None)}
        cls.api = {r: pb_grpc.ConfigManagerStub(ch) for r, ch in cls.channels.items()}

    @classmethod
    def tearDownClass(cls):
        for ch in cls.channels.values():
            ch.close()

    def status(self, fn, req):
        try:
            fn(req, timeout=T)
        except grpc.RpcError as e:
            return e.code(), e.details()
        return grpc.StatusCode.OK, ""

    def test_no_token_is_unauthenticated_and_says_nothing_more(self):
        for call, req in ((self.api[None].ListVersions, pb.ListVersionsRequest()),
                          (self.api[None].GetVersion, pb.GetVersionRequest(version_id="999999")),
                          (self.api[None].Export, pb.ExportRequest(plane="nope", switch_name="x"))):
            self.assertEqual(self.status(call, req),
                             (grpc.StatusCode.UNAUTHENTICATED, "authentication required"))

    def test_wrong_token(self):
        with open(os.environ["DVSCONF_CA"], "rb") as f:
            ca = f.read()
        creds = grpc.composite_channel_credentials(grpc.ssl_channel_credentials(ca),
                                                   grpc.access_token_call_credentials("not-a-token"))
        with grpc.secure_channel(os.environ["DVSCONF_ADDR"], creds) as ch:
            code, _ = self.status(pb_grpc.ConfigManagerStub(ch).ListPlanes, pb.ListPlanesRequest())
        self.assertEqual(code, grpc.StatusCode.UNAUTHENTICATED)

    def test_health_needs_no_identity(self):
        reply = self.channels[None].unary_unary("/grpc.health.v1.Health/Check")(b"", timeout=T)
        self.assertEqual(reply, b"\x08\x01")

    def test_roles(self):
        viewer, operator, admin = self.api["viewer"], self.api["operator"], self.api["admin"]
        export = pb.ExportRequest(plane=PLANE, switch_name="DVS0")
        denied = (grpc.StatusCode.PERMISSION_DENIED, "permission denied")
        self.assertEqual(self.status(viewer.ListPlanes, pb.ListPlanesRequest())[0], grpc.StatusCode.OK)
        self.assertEqual(self.status(viewer.Export, export), denied)
        self.assertEqual(self.status(operator.Export, export)[0], grpc.StatusCode.OK)
        latest = viewer.ListVersions(pb.ListVersionsRequest(switch_name="DVS0", page_size=1),
                                     timeout=T).versions[0]
        imp = pb.ImportRequest(version_id=latest.id, mode=pb.ImportMode.Value("IMPORT_MODE_APPLY_EXISTING"),
                               dry_run=True)
        self.assertEqual(self.status(operator.Import, imp), denied)
        self.assertEqual(self.status(viewer.ListAuditEvents, pb.ListAuditEventsRequest()), denied)
        self.assertEqual(self.status(admin.Import, imp)[0], grpc.StatusCode.OK)
        # and for real (the switch is at that version already: nothing to change); its safety
        # version is stored on the way, its record is written once, when the import is over
        applied = pb.ImportRequest(version_id=latest.id, mode=pb.ImportMode.Value("IMPORT_MODE_APPLY_EXISTING"))
        rid = "sec-import-%d" % os.getpid()
        admin.Import(applied, timeout=T, metadata=[("x-request-id", rid)])
        # a denied call is not told whether what it named exists
        self.assertEqual(self.status(viewer.Import, pb.ImportRequest(version_id="999999999", mode=3)),
                         denied)

        # the audit log has who did what, including the refusals
        events = admin.ListAuditEvents(pb.ListAuditEventsRequest(page_size=100), timeout=T).events
        mine = [(e.caller, e.role, e.method.rsplit("/", 1)[1], e.result) for e in events]
        self.assertIn(("local-viewer", "viewer", "Export", "PERMISSION_DENIED"), mine)
        self.assertIn(("local-operator", "operator", "Export", "OK"), mine)
        self.assertIn(("local-operator", "operator", "Import", "PERMISSION_DENIED"), mine)
        self.assertIn(("local-admin", "admin", "Import", "OK"), mine)
        ok_import = next(e for e in events if e.caller == "local-admin" and e.method.endswith("Import"))
        self.assertEqual(len(ok_import.plan_sha256), 64)
        self.assertIn("version %s" % latest.id, ok_import.target)
        applied_records = [e for e in events if e.request_id == rid]
        self.assertEqual([(e.method.rsplit("/", 1)[1], e.result) for e in applied_records], [("Import", "OK")])
        self.assertEqual(len(applied_records[0].plan_sha256), 64)
        # an Export that stores writes its record in the version's own transaction: once, complete
        ok_export = next(e for e in events if e.caller == "local-operator" and e.method.endswith("Export")
                         and e.result == "OK")
        self.assertIn("DVS0", ok_export.target)
        self.assertTrue(ok_export.peer and ok_export.request_id)
        self.assertEqual([e.request_id for e in events].count(ok_export.request_id), 1)
        # filtered and paged
        page = admin.ListAuditEvents(pb.ListAuditEventsRequest(page_size=1, method=EXPORT), timeout=T)
        self.assertEqual(len(page.events), 1)
        self.assertTrue(page.next_page_token)
        nxt = admin.ListAuditEvents(pb.ListAuditEventsRequest(page_size=1, method=EXPORT,
                                                              page_token=page.next_page_token), timeout=T)
        self.assertLess(int(nxt.events[0].id), int(page.events[0].id))

    def test_plaintext_client_cannot_talk_to_tls(self):
        with grpc.insecure_channel(os.environ["DVSCONF_ADDR"]) as ch:
            code, _ = self.status(pb_grpc.ConfigManagerStub(ch).ListPlanes, pb.ListPlanesRequest())
        self.assertEqual(code, grpc.StatusCode.UNAVAILABLE)

    def test_plane_password_never_leaks(self):
        with open(os.environ["VCSIM_PASSWORD_FILE"]) as f:
            password = f.read().strip()
        admin = self.api["admin"]
        planes = admin.ListPlanes(pb.ListPlanesRequest(), timeout=T)
        self.assertNotIn(password, str(planes))
        v = admin.Export(pb.ExportRequest(plane=PLANE, switch_name="DVS0"), timeout=T).version
        full = admin.GetVersion(pb.GetVersionRequest(version_id=v.id), timeout=T)
        self.assertNotIn(password, full.SerializeToString().decode("utf-8", "replace"))
        with open(os.environ["DVSCONF_LOG"], errors="replace") as f:
            log = f.read()
        self.assertNotIn(":" + password + "@", log)
        self.assertNotIn("password=" + password, log)


if __name__ == "__main__":
    unittest.main()
