#!/usr/bin/python3
"""Seed corpora for the fuzz targets request/ and canon/ (tests/fuzz/run.sh).

    PYTHONPATH=<protoc --python_out dir> make_seeds.py OUT_DIR

request/: one file per request, its first byte the request type (the order of
REQ in fuzz_request.c), then the message as a client sends it: real requests
like the ones the test suites and the CLI make, and some at the edges
(long and non-ASCII names, unknown enum values, tokens, labels).
canon/: pairs of configurations for fuzz_canon.c: a 2-byte little-endian
length, then config A, then config B. The configs are shaped like what the
vsphere adapter exports from vcsim's DVS0 (settings, 3 hosts, 4 port groups)
and what PutVersion receives (port groups without keys), and the pairs are the
changes a history records: a VLAN, a port group added or removed, switch
settings, hosts.
"""
import copy
import os
import struct
import sys

from dvsconf.v1 import dvsconf_pb2 as pb

REQUESTS = ["ExportRequest", "ListVersionsRequest", "GetVersionRequest", "DiffRequest",
            "ImportRequest", "ListPlanesRequest", "ListSwitchesRequest", "PutVersionRequest",
            "ListAuditEventsRequest", "HealthCheckRequest"]
UUID = "fea97929-4b2d-5972-b146-930c6d0b4014"


def teaming():
    return pb.TeamingPolicy(policy="loadbalance_srcid", notify_switches=True, rolling_order=False,
                            active_uplinks=["uplink1", "uplink2"], standby_uplinks=["uplink3"])


def pg(key, name, vlan=0, **kw):
    ps = pb.PortSettings(
        vlan=pb.VlanSpec(kind=pb.VLAN_KIND_VLAN if vlan else pb.VLAN_KIND_NONE, vlan_id=vlan),
        security=pb.SecurityPolicy(allow_promiscuous=False, mac_changes=True, forged_transmits=True),
        teaming=teaming())
    return pb.PortgroupConfig(key=key, name=name, num_ports=8, binding_type="earlyBinding",
                              default_port_config=ps, **kw)


def dvs0():
    c = pb.SwitchConfig(
        name="DVS0", uuid=UUID, description="", contact_name="ops", contact_info="ops@example",
        max_mtu=1500, uplink_port_names=["uplink1", "uplink2", "uplink3", "uplink4"],
        num_standalone_ports=0, link_discovery=pb.LinkDiscovery(protocol="cdp", operation="listen"),
        default_port_config=pb.PortSettings(
            vlan=pb.VlanSpec(kind=pb.VLAN_KIND_TRUNK,
                             trunk_ranges=[pb.NumericRange(start=100, end=200),
                                           pb.NumericRange(start=1, end=10)]),
            teaming=teaming(),
            in_shaping=pb.ShapingPolicy(enabled=True, average_bandwidth=100000,
                                        peak_bandwidth=200000, burst_size=4096)),
        host_members=["DC0_C0_H2", "DC0_C0_H0", "DC0_C0_H1"], datacenter="DC0")
    for i in range(4):
        c.portgroups.append(pg("dvportgroup-%d" % (13 + 2 * i), "DC0_DVPG%d" % i))
    return c


def changes(base):
    """(A, B) pairs: one history's consecutive versions."""
    out = []
    b = copy.deepcopy(base)
    b.portgroups[1].default_port_config.vlan.kind = pb.VLAN_KIND_VLAN
    b.portgroups[1].default_port_config.vlan.vlan_id = 1234
    out.append(b)
    b = copy.deepcopy(base)
    b.portgroups.append(pg("dvportgroup-64", "py-added-pg", vlan=7))
    out.append(b)
    b = copy.deepcopy(base)
    del b.portgroups[2]
    out.append(b)
    b = copy.deepcopy(base)
    b.description, b.max_mtu = "changed in vCenter", 9000
    del b.host_members[1]
    out.append(b)
    b = copy.deepcopy(base)
    b.portgroups[0].default_port_config.vlan.CopyFrom(pb.VlanSpec(kind=pb.VLAN_KIND_PVLAN, pvlan_id=42))
    b.portgroups[3].name = "renamed-pg"
    out.append(b)
    return out


def keyless(base):
    """A document edited by hand for PutVersion: port groups without keys."""
    c = copy.deepcopy(base)
    for p in c.portgroups:
        p.key = ""
    c.portgroups.append(pg("", "web-%s" % ("é" * 60), vlan=10, description="naïve ☃ 日本"))
    return c


def main():
    out = sys.argv[1]
    req_dir, canon_dir = os.path.join(out, "request"), os.path.join(out, "canon")
    os.makedirs(req_dir, exist_ok=True)
    os.makedirs(canon_dir, exist_ok=True)
    base = dvs0()
    long_name = "ü" * 200  # 400 bytes: messages that quote it get truncated
    reqs = [
        pb.ExportRequest(plane="vcsim", switch_name="DVS0", note="baseline", labels={"env": "lab"}),
        pb.ExportRequest(plane="vcsim", switch_uuid=UUID, scope=pb.EXPORT_SCOPE_PORTGROUPS_ONLY,
                         portgroups=["DC0_DVPG0", "DC0_DVPG1"]),
        pb.ExportRequest(plane=long_name, switch_name=long_name, labels={long_name: "x", "k": "v"}),
        pb.ListVersionsRequest(plane="vcsim", switch_name="DVS0", page_size=50),
        pb.ListVersionsRequest(switch_uuid=UUID, page_size=1,
                               page_token="cDEuMi5kYjJkNzg3ZWM2ZGY4NzE4"),
        pb.GetVersionRequest(version_id="1"),
        pb.GetVersionRequest(version_id="999999999999999999"),
        pb.DiffRequest(from_version_id="1", to_version_id="2"),
        pb.DiffRequest(from_version_id="1", to_plane="vcsim", to_switch_name="DVS0"),
        pb.ImportRequest(version_id="1", mode=pb.IMPORT_MODE_APPLY_EXISTING, dry_run=True, prune=True),
        pb.ImportRequest(version_id="1", mode=pb.IMPORT_MODE_CREATE_NEW, new_name="DVS0-prod",
                         portgroup_prefix="prod-", portgroup_renames={"DC0_DVPG0": "web"},
                         include_hosts=True, target_datacenter="DC0"),
        pb.ListPlanesRequest(),
        pb.ListSwitchesRequest(plane="vcsim", live=True),
        pb.PutVersionRequest(plane="vcsim", config=base, note="edited", labels={"by": "hand"}),
        pb.PutVersionRequest(plane="vcsim", config=keyless(base)),
        pb.ListAuditEventsRequest(page_size=100, method="/dvsconf.v1.ConfigManager/Export"),
    ]
    bad = copy.deepcopy(base)
    bad.portgroups[0].default_port_config.vlan.vlan_id = 5000
    reqs.append(pb.PutVersionRequest(plane="vcsim", config=bad))
    dup = keyless(base)
    dup.portgroups.append(pg("", dup.portgroups[-1].name))
    reqs.append(pb.PutVersionRequest(plane="vcsim", config=dup))
    n = 0
    for r in reqs:
        kind = REQUESTS.index(type(r).__name__)
        with open(os.path.join(req_dir, "%02d-%s" % (n, type(r).__name__)), "wb") as f:
            f.write(bytes([kind]) + r.SerializeToString())
        n += 1
    # HealthCheckRequest {service = "dvsconf.v1.ConfigManager"} by hand (no stub here)
    svc = b"dvsconf.v1.ConfigManager"
    with open(os.path.join(req_dir, "%02d-HealthCheckRequest" % n), "wb") as f:
        f.write(bytes([REQUESTS.index("HealthCheckRequest"), 0x0a, len(svc)]) + svc)

    pairs = [(base, b) for b in changes(base)] + [(b, base) for b in changes(base)]
    kl = keyless(base)
    pairs += [(kl, b) for b in changes(kl)] + [(base, kl)]
    for i, (x, y) in enumerate(pairs):
        bx = x.SerializeToString()
        with open(os.path.join(canon_dir, "pair-%02d" % i), "wb") as f:
            f.write(struct.pack("<H", len(bx)) + bx + y.SerializeToString())
    print("make_seeds: %d requests, %d config pairs in %s" % (n + 1, len(pairs), out))


if __name__ == "__main__":
    main()
