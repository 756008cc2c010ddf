"""Shared by the hardening suites: channels to the stack that deploy/up.sh
started (its env file is in the environment), raw calls, psql, the vcsim
launcher's test hooks, and a wire-format builder for hand-made requests.

Environment (deploy/up.sh's env file, plus tests/hardening/run.sh):
DVSCONF_ADDR, DVSCONF_PLANE, PGURI, VCSIM_URL, VCSIM_USER, VCSIM_PASSWORD_FILE,
VCSIM_HOOKS_URL, DVSCONF_LOG; with TLS: DVSCONF_CA and DVSCONF_*_TOKEN.
"""
import json
import os
import subprocess
import time
import urllib.request

import grpc

from dvsconf.v1 import dvsconf_pb2 as pb
from dvsconf.v1 import dvsconf_pb2_grpc as pb_grpc
from vim_soap import Vim

C = grpc.StatusCode
PLANE = os.environ.get("DVSCONF_PLANE", "vcsim")
T = float(os.environ.get("DVSCONF_RPC_TIMEOUT", "30"))  # deadline of every call
PSQL = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin") + "/psql"
SVC = "/dvsconf.v1.ConfigManager/"
HEALTH = "/grpc.health.v1.Health/Check"
METHODS = ["Export", "PutVersion", "Import", "ListVersions", "GetVersion", "Diff", "ListPlanes",
           "ListSwitches", "ListAuditEvents"]


def channel(role="admin", addr=None, options=None):
    """TLS + `role`'s token when the stack is secure, plaintext otherwise."""
    addr = addr or os.environ["DVSCONF_ADDR"]
    ca = os.environ.get("DVSCONF_CA")
    opts = list(options or [])
    if not ca:
        return grpc.insecure_channel(addr, options=opts)
    with open(ca, "rb") as f:
        creds = grpc.ssl_channel_credentials(f.read())
    if role:
        token = os.environ["DVSCONF_%s_TOKEN" % role.upper()]
        creds = grpc.composite_channel_credentials(creds, grpc.access_token_call_credentials(token))
    return grpc.secure_channel(addr, creds, options=opts)


def stub(ch):
    return pb_grpc.ConfigManagerStub(ch)


def raw(ch, method):
    """A unary call that sends and receives bytes as they are."""
    path = method if method.startswith("/") else SVC + method
    return ch.unary_unary(path, request_serializer=None, response_deserializer=None)


def health(ch, timeout=10):
    """grpc.health.v1 Check with an empty request; SERVING is b"\\x08\\x01"."""
    return raw(ch, HEALTH)(b"", timeout=timeout) == b"\x08\x01"


def psql(sql, uri=None):
    """One statement through psql; rows as lists of strings."""
    out = subprocess.run([PSQL, uri or os.environ["PGURI"], "-XqAt", "-F", "\t", "-v",
                          "ON_ERROR_STOP=1", "-c", sql],
                         check=True, capture_output=True, text=True, timeout=60).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def write_counts(uri=None):
    """Rows in every table a call may write, but the audit log (refused calls
    are audited by design)."""
    row = psql("SELECT (SELECT count(*) FROM versions), (SELECT count(*) FROM imports),"
               " (SELECT count(*) FROM switches), (SELECT count(*) FROM switch_aliases),"
               " (SELECT coalesce(sum(latest_number), 0) FROM switches)", uri)[0]
    return dict(zip(("versions", "imports", "switches", "switch_aliases", "latest_numbers"),
                    map(int, row)))


def hook(path, base=None):
    req = urllib.request.Request((base or os.environ["VCSIM_HOOKS_URL"]) + path, method="POST",
                                 data=b"")
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read()


def counts(base=None):
    """SOAP method -> calls vcsim saw since start or reset."""
    url = (base or os.environ["VCSIM_HOOKS_URL"]) + "/dvsconf-test/counts"
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def vim():
    with open(os.environ["VCSIM_PASSWORD_FILE"]) as f:
        return Vim(os.environ["VCSIM_URL"], os.environ["VCSIM_USER"], f.read(), timeout=T)


def status_of(fn, req, timeout=T, metadata=None):
    """(code, details) of one call; (OK, response) when it succeeds."""
    try:
        return C.OK, fn(req, timeout=timeout, metadata=metadata)
    except grpc.RpcError as e:
        return e.code(), e.details() or ""


def wait_for(pred, timeout, what, interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("%s: not within %gs" % (what, timeout))
        time.sleep(interval)


def working_copy(api, name, prefix=None):
    """A switch of the test's own: CREATE_NEW copy of DVS0 with its hosts.
    Returns its first exported version."""
    base = api.Export(pb.ExportRequest(plane=PLANE, switch_name="DVS0"), timeout=T).version
    r = api.Import(pb.ImportRequest(version_id=base.id, mode=pb.IMPORT_MODE_CREATE_NEW,
                                    new_name=name, portgroup_prefix=prefix or (name + "-"),
                                    include_hosts=True), timeout=T)
    assert r.applied, r
    return api.Export(pb.ExportRequest(plane=PLANE, switch_name=name), timeout=T).version


# --- the protobuf wire format, by hand -----------------------------------------

def varint(n):
    n &= (1 << 64) - 1  # negative int32/int64 values are 10-byte varints
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_bytes(num, data):
    """A length-delimited field (string, bytes, message)."""
    return varint(num << 3 | 2) + varint(len(data)) + data


def field_varint(num, value):
    return varint(num << 3) + varint(value)


def map_entry(num, key, value):
    """One entry of a map<string, string> field, raw bytes."""
    return field_bytes(num, field_bytes(1, key) + field_bytes(2, value))
