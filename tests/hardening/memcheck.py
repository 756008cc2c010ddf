"""A bounded request loop for the valgrind run of tests/hardening/run.sh:
every RPC, on its success and its error paths, ROUNDS times (default 10),
against a dvsconfd that runs under valgrind --leak-check=full. run.sh then
stops it with SIGTERM (deploy/down.sh) and reads valgrind's report: 0 bytes
definitely (or indirectly) lost, no memory error. A leak of even a few bytes
per request would show as ROUNDS x that.

    memcheck.py [ROUNDS]     (environment: deploy/up.sh's env file)
"""
import sys
import time

from common import (C, HEALTH, PLANE, channel, field_bytes, health, hook, pb, raw, status_of, stub,
                    vim)

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 10


def main():
    ch = channel("admin")
    api = stub(ch)
    t0 = time.monotonic()
    calls, unexpected = 0, []

    def call(fn, req, *ok):
        nonlocal calls
        calls += 1
        code, r = status_of(fn, req, timeout=60)
        if code not in (ok or (C.OK,)):
            unexpected.append("%s: %s %s" % (getattr(fn, "_method", fn), code, r))
        return r

    v = vim()
    first = call(api.Export, pb.ExportRequest(plane=PLANE, switch_name="DVS0", note="memcheck", labels={"k": "v"}))
    base = first.version
    cfg = call(api.GetVersion, pb.GetVersionRequest(version_id=base.id)).config
    call(api.Import, pb.ImportRequest(version_id=base.id, mode=pb.IMPORT_MODE_CREATE_NEW, new_name="mem-sw",
                                             portgroup_prefix="mem-", include_hosts=True))
    mine = call(api.Export, pb.ExportRequest(plane=PLANE, switch_name="mem-sw")).version
    pg = call(api.GetVersion, pb.GetVersionRequest(version_id=mine.id)).config.portgroups[0]
    for r in range(ROUNDS):
        # success paths
        v.set_vlan(pg.key, pg.name, 10 + r)
        new = call(api.Export, pb.ExportRequest(plane=PLANE, switch_name="mem-sw", note="round %d" % r)).version
        call(api.Export, pb.ExportRequest(plane=PLANE, switch_uuid=mine.switch_uuid))  # unchanged
        call(api.GetVersion, pb.GetVersionRequest(version_id=new.id))
        call(api.ListVersions, pb.ListVersionsRequest(switch_name="mem-sw", page_size=2))
        page = call(api.ListVersions, pb.ListVersionsRequest(page_size=1))
        call(api.ListVersions, pb.ListVersionsRequest(page_size=1, page_token=page.next_page_token))
        call(api.Diff, pb.DiffRequest(from_version_id=mine.id, to_version_id=new.id))
        call(api.Diff, pb.DiffRequest(from_version_id=base.id, to_plane=PLANE, to_switch_name="mem-sw"))
        call(api.Import, pb.ImportRequest(version_id=mine.id, mode=pb.IMPORT_MODE_APPLY_EXISTING, dry_run=True))
        call(api.Import, pb.ImportRequest(version_id=mine.id, mode=pb.IMPORT_MODE_APPLY_EXISTING))
        call(api.Import, pb.ImportRequest(version_id=base.id, mode=pb.IMPORT_MODE_CREATE_NEW, new_name="mem-x",
                                          dry_run=True))
        doc = pb.SwitchConfig()
        doc.CopyFrom(cfg)
        doc.uuid, doc.description = "u-memcheck", "round %d" % r
        call(api.PutVersion, pb.PutVersionRequest(plane=PLANE, config=doc, labels={"r": str(r)}))
        call(api.ListPlanes, pb.ListPlanesRequest())
        call(api.ListSwitches, pb.ListSwitchesRequest())
        call(api.ListSwitches, pb.ListSwitchesRequest(plane=PLANE, live=True))
        call(api.ListAuditEvents, pb.ListAuditEventsRequest(page_size=5))
        calls += 1
        health(ch)
        # error paths
        call(api.GetVersion, pb.GetVersionRequest(version_id="999999999"), C.NOT_FOUND)
        call(api.GetVersion, pb.GetVersionRequest(version_id="x"), C.INVALID_ARGUMENT)
        call(api.Export, pb.ExportRequest(plane=PLANE, switch_name="no-such-sw"), C.NOT_FOUND)
        call(api.Export, pb.ExportRequest(plane="no-such-plane", switch_name="x"), C.NOT_FOUND)
        call(api.ListVersions, pb.ListVersionsRequest(page_token="forged"), C.INVALID_ARGUMENT)
        call(raw(ch, "Export"), b"\xff\xff\xff", C.INVALID_ARGUMENT)
        call(raw(ch, "Export"), field_bytes(2, b"\xc3\x28"), C.INVALID_ARGUMENT)
        call(raw(ch, "GetVersion"), field_bytes(15, b"x" * (4 * 1024 * 1024 + 8)), C.RESOURCE_EXHAUSTED)
        call(raw(ch, "/no.such.Service/Method"), b"", C.UNIMPLEMENTED)
        call(raw(ch, HEALTH), b"\x0a\x01x", C.NOT_FOUND)
        bad = pb.SwitchConfig()
        bad.CopyFrom(doc)
        bad.portgroups[0].default_port_config.vlan.vlan_id = 5000
        call(api.PutVersion, pb.PutVersionRequest(plane=PLANE, config=bad), C.INVALID_ARGUMENT)
        # a vCenter fault in the middle of an apply: ABORTED, steps undone
        v.set_vlan(pg.key, pg.name, 1000 + r)
        hook("/dvsconf-test/fail?method=ReconfigureDVPortgroup_Task&fault=InvalidArgument")
        call(api.Import, pb.ImportRequest(version_id=mine.id, mode=pb.IMPORT_MODE_APPLY_EXISTING), C.ABORTED)
        hook("/dvsconf-test/reset")
        with channel("viewer") as vch:
            call(stub(vch).Export, pb.ExportRequest(plane=PLANE, switch_name="DVS0"), C.PERMISSION_DENIED)
        with channel(None) as nch:
            call(stub(nch).ListPlanes, pb.ListPlanesRequest(), C.UNAUTHENTICATED, C.OK)
    ch.close()
    print("memcheck: %d calls in %d rounds in %.1fs%s" % (calls, ROUNDS, time.monotonic() - t0,
                                                       "" if not unexpected else "; UNEXPECTED: %s" % unexpected[:5]))
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
