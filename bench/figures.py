"""The measurements of bench/run.sh, one subcommand per figure (or step).

  figures.py history  ADDR PGURI WORKDIR LOG   figures 1, 2, 3 (5,000-port-group history vs git)
  figures.py small    ADDR WORKDIR             figure 4 setup: small switch, 120 versions, h2load inputs
  figures.py export   ADDR SDK_URL LOG         figure 5 (Export vs the plane's own calls)
  figures.py apply    ADDR SDK_URL             figure 6 (APPLY_EXISTING sends k reconfigures)
  figures.py logcheck LOG OFFSET               non-OK statuses in the dvsconfd log after OFFSET
  figures.py record   KEY VALUE [k=v ...]      add a figure measured by run.sh itself
  figures.py table                             the final table

Every figure is appended to $BENCH_RESULTS; `table` reads it back.
Environment: BENCH_REPEAT (timing samples per figure, default 5), BENCH_HISTORY
(versions in figure 1, default 300), BENCH_PG (port groups, default 5000).
"""
import json
import os
import shutil
import struct
import sys
import time

import lib
from lib import pb, record, say, median

REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
HISTORY = int(os.environ.get("BENCH_HISTORY", "300"))
N_PG = int(os.environ.get("BENCH_PG", "5000"))
PLANE = "vcsim"
# the floor server's methods (echo_server.c)
ECHO, COMMIT = "/bench.Echo/Echo", "/bench.Echo/Commit"


def frame(msg):
    """A gRPC length-prefixed message, as h2load -d sends it."""
    b = msg.SerializeToString()
    return b"\0" + struct.pack(">I", len(b)) + b


def log_size(log):
    return os.path.getsize(log)


def logged(log, since, rpc, n=1):
    """Wait (up to 5 s) for dvsconfd to log n calls of rpc after byte offset since: it
    writes a call's line once the reply has been sent, which may be after the client has it."""
    deadline = time.monotonic() + 5
    while len(lib.dvsconfd_log_ms(log, rpc=rpc, since=since)) < n and time.monotonic() < deadline:
        time.sleep(0.005)


def server_ms(log, since, rpc):
    rows = lib.dvsconfd_log_ms(log, rpc=rpc, since=since)
    bad = [r for r in rows if r[1] != "OK"]
    if bad:
        raise SystemExit("dvsconfd answered %s with %s" % (rpc, bad[0][1]))
    return [r[2] for r in rows]


# --- figures 1, 2, 3 ------------------------------------------------------------------
def history(addr, pguri, work, log, floor):
    rpc, bare = lib.Rpc(addr), lib.Rpc(floor)
    empty = lib.table_sizes(pguri)
    n_versions = int(lib.psql(pguri, "SELECT count(*) FROM versions"))
    if n_versions:
        raise SystemExit("history: the database is not empty (%d versions)" % n_versions)

    sw = lib.make_switch(N_PG, "bench-dvs-%d" % N_PG, seed=1)
    doc = lib.JsonDoc(sw)
    repo = os.path.join(work, "git-history")
    rel = "%s/%s.json" % (PLANE, sw.uuid.replace(" ", ""))
    lib.git_init(repo)
    say("switch %s: %d port groups, %d bytes protobuf, %d bytes pretty JSON"
        % (sw.name, N_PG, sw.ByteSize(), len(doc.text())))

    ids, commits, put_s = {}, {}, []
    t0 = time.perf_counter()
    for n in range(1, HISTORY + 1):
        if n > 1:
            doc.update(lib.change_vlan(sw, n, N_PG))
        dt, r = rpc.call("PutVersion", pb.PutVersionRequest(plane=PLANE, config=sw, note="v%d" % n),
                         pb.ExportResponse)
        if r.unchanged or r.version.number != n:
            raise SystemExit("PutVersion %d: got number %d unchanged=%s" % (n, r.version.number, r.unchanged))
        put_s.append(dt)
        ids[n] = r.version.id
        lib.git_store(repo, rel, doc.text(), "v%d" % n)
        commits[n] = lib.git(repo, "rev-parse", "HEAD", capture=True).strip()
    say("stored %d versions in dvsconf and in git in %.1f s (PutVersion median %.1f ms)"
        % (HISTORY, time.perf_counter() - t0, median(put_s) * 1e3))

    # ---- figure 1: bytes
    lib.psql(pguri, "CHECKPOINT")
    full = lib.table_sizes(pguri)
    per_table = {t: full.get(t, 0) - empty.get(t, 0) for t in sorted(set(full) | set(empty))}
    dv_bytes = sum(per_table.values())
    git_bytes = lib.du_sb(os.path.join(repo, ".git"))
    gc_repo = os.path.join(work, "git-history-gc")
    shutil.copytree(repo, gc_repo, symlinks=True)
    t = time.perf_counter()
    lib.git(gc_repo, "gc", "-q", "--aggressive", "--prune=now")
    gc_s = time.perf_counter() - t
    gc_bytes = lib.du_sb(os.path.join(gc_repo, ".git"))
    shutil.rmtree(gc_repo)
    say("PostgreSQL bytes by table (minus the empty migrated database): %s"
        % ", ".join("%s %d" % kv for kv in per_table.items() if kv[1]))
    try:
        say("  versions: heap %s, TOAST %s, indexes %s; bodies %s bytes (whole versions: %s)" % tuple(
            lib.psql(pguri, "SELECT pg_relation_size('versions'), pg_relation_size(reltoastrelid), "
                     "pg_indexes_size('versions'), (SELECT sum(octet_length(body)) FROM versions), "
                     "(SELECT count(*) FROM versions WHERE number = base_number) FROM pg_class "
                     "WHERE relname = 'versions'").split("|")))
    except Exception as e:  # the schema is not this script's: detail only
        say("  (versions detail unavailable: %s)" % e)
    say("git .git: %d bytes as committed, %d after gc --aggressive (%.1f s)" % (git_bytes, gc_bytes, gc_s))
    record("1a", dv_bytes, anchor=git_bytes, n=1, tables=per_table)
    record("1b", dv_bytes, anchor=gc_bytes, n=1)

    # ---- figure 3 (before figure 2 adds versions): diff
    # The floor of a call here: a tiny request to the bare echo server, also
    # right after 3a's git diff (twice per sample, each time after another
    # git diff, so that each Diff still follows one too).
    pairs = {"3a": (HISTORY - 1, HISTORY), "3b": (1, HISTORY)}
    tiny = pb.DiffRequest(from_version_id=ids[1], to_version_id=ids[2]).SerializeToString()
    floor_s = []
    for key, (a, b) in pairs.items():
        rpc_s, git_s, since, cpu0 = [], [], log_size(log), lib.cpu_s()
        for _ in range(REPEAT):
            dt, d = rpc.call("Diff", pb.DiffRequest(from_version_id=ids[a], to_version_id=ids[b]),
                             pb.DiffResponse)
            rpc_s.append(dt)
            t = time.perf_counter()
            out = lib.git(repo, "diff", commits[a], commits[b], capture=True)
            git_s.append(time.perf_counter() - t)
            for _ in range(2 if key == "3a" else 0):
                floor_s.append(bare.path_call(ECHO, tiny))
                lib.git(repo, "diff", commits[a], commits[b], capture=True)
        cpu = (lib.cpu_s() - cpu0) / REPEAT * 1e3
        srv = server_ms(log, since, "Diff")
        lines = sum(1 for ln in out.splitlines() if ln[:1] in "+-" and ln[:3] not in ("+++", "---"))
        say("diff v%d..v%d: %d structural changes (e.g. %s: %s -> %s); git diff: %d changed lines"
            % (a, b, len(d.changes), d.changes[0].path if d.changes else "-",
               d.changes[0].old_value if d.changes else "", d.changes[0].new_value if d.changes else "",
               lines))
        say("  Diff RPC %.2f ms (server %.2f ms, dvsconfd CPU %.1f ms per call), git diff %.2f ms"
            % (median(rpc_s) * 1e3, median(srv), cpu, median(git_s) * 1e3))
        record(key, median(rpc_s) * 1e3, anchor=median(git_s) * 1e3, n=REPEAT, server_ms=median(srv),
               cpu_ms=cpu, changes=len(d.changes), git_lines=lines, pair=[a, b])
        if key == "3a":
            git_3a = median(git_s) * 1e3
    say("  the floor: a tiny call to the bare echo server after a git diff: %.2f ms"
        % (median(floor_s) * 1e3))
    record("3f", median(floor_s) * 1e3, anchor=git_3a, n=len(floor_s))

    # ---- figure 2: one more version (three times the samples: cheap, and a
    # put is a few milliseconds that the machine's noise moves by one)
    # The floor, in turn with each PutVersion and also right after a git
    # commit: the same request bytes to the bare gRPC C-core server, which
    # commits one row to PostgreSQL and replies (echo_server.c). What no
    # store behind gRPC on this machine can go below.
    samples = 3 * REPEAT
    rpc_s, git_s, floor_s, since, cpu = [], [], [], log_size(log), 0.0
    for n in range(HISTORY + 1, HISTORY + 1 + samples):
        doc.update(lib.change_vlan(sw, n, N_PG))
        req = pb.PutVersionRequest(plane=PLANE, config=sw, note="v%d" % n)
        cpu0 = lib.cpu_s()
        dt, r = rpc.call("PutVersion", req, pb.ExportResponse)
        cpu += lib.cpu_s() - cpu0
        if r.version.number != n:
            raise SystemExit("PutVersion %d: got %d" % (n, r.version.number))
        rpc_s.append(dt)
        text = doc.text()  # the document is ready, as the request was
        t = time.perf_counter()
        lib.git_store(repo, rel, text, "v%d" % n)
        git_s.append(time.perf_counter() - t)
        floor_s.append(bare.path_call(COMMIT, req.SerializeToString()))
        lib.git_store(repo, rel, text + "\n", "v%d again" % n)  # (the refusals below add spaces)
    logged(log, since, "PutVersion", samples)
    srv = server_ms(log, since, "PutVersion")
    stored = lib.dvsconfd_log_field(log, "store_ms", "PutVersion", since)
    cpu = cpu / samples * 1e3
    say("version %d..%d: PutVersion %.2f ms (server %.2f ms, of which storing %.2f ms; dvsconfd CPU "
        "%.1f ms per call); write + git add + git commit %.2f ms"
        % (HISTORY + 1, HISTORY + samples, median(rpc_s) * 1e3, median(srv), median(stored), cpu,
           median(git_s) * 1e3))
    record("2", median(rpc_s) * 1e3, anchor=median(git_s) * 1e3, n=samples, server_ms=median(srv),
           cpu_ms=cpu)
    record("2s", median(srv), anchor=median(git_s) * 1e3, n=samples)
    say("  the floor: the same request to the bare server that commits one row: %.2f ms; "
        "PutVersion over it: %.2f ms" % (median(floor_s) * 1e3,
                                         (median(rpc_s) - median(floor_s)) * 1e3))
    record("2f", median(floor_s) * 1e3, anchor=median(git_s) * 1e3, n=samples)
    # what no server work can remove: moving the document to dvsconfd. The same
    # request for a plane that is not configured is refused (NOT_FOUND) as soon
    # as it has arrived, and so is a tiny one; both write the refusal's audit
    # record, so their difference is the document's way in. Each follows a git
    # commit, as the samples above do.
    bad = pb.PutVersionRequest(plane="not-configured", config=sw, note="refused").SerializeToString()
    small = pb.PutVersionRequest(plane="not-configured", config=lib.make_switch(2, "tiny", seed=3),
                                 note="refused").SerializeToString()
    big_s, tiny_s, k = [], [], 0
    for _ in range(REPEAT):
        for data, out in ((bad, big_s), (small, tiny_s)):
            k += 1
            lib.git_store(repo, rel, doc.text() + " " * k, "refused %d" % k)
            dt, code = rpc.refused("PutVersion", data)
            if code != "NOT_FOUND":
                raise SystemExit("PutVersion for an unknown plane: %s, not NOT_FOUND" % code)
            out.append(dt)
    move = (median(big_s) - median(tiny_s)) * 1e3
    say("PutVersion refused on arrival: %.2f ms for %d bytes, %.2f ms for %d bytes: moving the "
        "document costs %.2f ms" % (median(big_s) * 1e3, len(bad), median(tiny_s) * 1e3, len(small),
                                    move))
    record("2t", move, anchor=median(git_s) * 1e3, n=REPEAT, refused_big_ms=median(big_s) * 1e3,
           refused_tiny_ms=median(tiny_s) * 1e3)


# --- figure 4 setup -----------------------------------------------------------------
def small(addr, work):
    rpc = lib.Rpc(addr)
    sw = lib.make_switch(4, "bench-small", seed=2)
    for n in range(1, 121):
        if n > 1:
            lib.change_vlan(sw, n, 4)
        _, r = rpc.call("PutVersion", pb.PutVersionRequest(plane=PLANE, config=sw, note="v%d" % n),
                        pb.ExportResponse)
    get = pb.GetVersionRequest(version_id=r.version.id)
    lst = pb.ListVersionsRequest(plane=PLANE, switch_uuid=sw.uuid, page_size=50)
    # the same requests through a real client first: h2load cannot see grpc-status
    _, v = rpc.call("GetVersion", get, pb.Version)
    _, page = rpc.call("ListVersions", lst, pb.ListVersionsResponse)
    if len(v.config.portgroups) != 4 or len(page.versions) != 50 or not page.next_page_token:
        raise SystemExit("small switch: unexpected replies")
    for name, msg in (("get.bin", get), ("list.bin", lst), ("echo.bin", get)):
        with open(os.path.join(work, name), "wb") as f:
            f.write(frame(msg))
    say("small switch %s: 120 versions; GetVersion reply %d bytes, ListVersions(50) reply %d bytes"
        % (sw.name, v.ByteSize(), page.ByteSize()))


# --- the machine ------------------------------------------------------------------------
def machine(addr, floor):
    """How this machine wakes up: the same tiny RPC (ListPlanes, no
    database) back to back and after 50 ms idle. On a VM whose idle vCPUs
    are slow to wake, the second is milliseconds, and every latency figure
    (2, 3, 5) carries several such wake-ups (client, dvsconfd, PostgreSQL).
    The bare echo server answers the same bytes after the same idle, in
    turn with dvsconfd: what gRPC alone costs here."""
    rpc, bare = lib.Rpc(addr), lib.Rpc(floor)
    req = pb.ListPlanesRequest()
    data = req.SerializeToString()
    tight, idle, echo = [], [], []
    for _ in range(10 * REPEAT):
        tight.append(rpc.call("ListPlanes", req, pb.ListPlanesResponse)[0])
    for _ in range(6 * REPEAT):
        time.sleep(0.05)
        idle.append(rpc.call("ListPlanes", req, pb.ListPlanesResponse)[0])
        time.sleep(0.05)
        echo.append(bare.path_call(ECHO, data))
    say("a ListPlanes call: %.2f ms back to back, %.2f ms after 50 ms idle; the bare echo server "
        "after 50 ms idle: %.2f ms" % (median(tight) * 1e3, median(idle) * 1e3, median(echo) * 1e3))
    record("0", median(idle) * 1e3, anchor=median(tight) * 1e3, n=len(idle))
    record("0e", median(echo) * 1e3, anchor=median(idle) * 1e3, n=len(echo))


# --- figure 5 -------------------------------------------------------------------------
PLANE_SEQUENCE_CALLS = {"CreateContainerView": 1, "DestroyView": 1, "RetrievePropertiesEx": 3}


def plane_sequence(vim, sw_ref):
    """The SOAP calls one Export makes (see vcsim's counts), timed on the wire:
    list the switches through a view, read the switch + every port group's
    config, then the member hosts' names with the switch's folder and every
    folder above it up to the root (one call, a traversal of `parent`)."""
    t0 = time.perf_counter()
    view = vim.create_view(["DistributedVirtualSwitch"])
    vim.retrieve_raw("<propSet><type>DistributedVirtualSwitch</type><pathSet>name</pathSet>"
                     "<pathSet>uuid</pathSet></propSet>" + vim.view_objects(view))
    vim.destroy_view(view)
    t1 = time.perf_counter()
    vim.retrieve_raw(vim.switch_and_portgroups_spec(sw_ref))
    t2 = time.perf_counter()
    hosts = "".join("<objectSet>%s</objectSet>" % lib.moref("obj", "HostSystem", h) for h in vim.hosts)
    typ, val = vim.parents[0]
    vim.retrieve_raw("<propSet><type>HostSystem</type><pathSet>name</pathSet></propSet>"
                     "<propSet><type>Folder</type><pathSet>name</pathSet><pathSet>parent</pathSet>"
                     "</propSet><propSet><type>Datacenter</type><pathSet>name</pathSet>"
                     "<pathSet>parent</pathSet></propSet>" + hosts +
                     "<objectSet>%s<skip>false</skip><selectSet xsi:type=\"TraversalSpec\"><name>up</name>"
                     "<type>ManagedEntity</type><path>parent</path><skip>false</skip><selectSet><name>up"
                     "</name></selectSet></selectSet></objectSet>" % lib.moref("obj", typ, val))
    t3 = time.perf_counter()
    return t3 - t0, t2 - t1


def plane_context(vim, sw_ref):
    """Host refs and the parent chain of the switch, for plane_sequence."""
    r = vim.retrieve("<propSet><type>%s</type><pathSet>summary.hostMember</pathSet><pathSet>parent"
                     "</pathSet></propSet><objectSet>%s</objectSet>" % (sw_ref[0], lib.moref("obj", *sw_ref)))
    vim.hosts, parent = [], None
    for ps in r.iter("{urn:vim25}propSet"):
        if ps.findtext("v:name", namespaces=lib.NS) == "summary.hostMember":
            vim.hosts = [m.text for m in ps.find("v:val", lib.NS)]
        else:
            p = ps.find("v:val", lib.NS)
            parent = (p.get("type"), p.text)
    vim.parents = []
    while parent is not None:
        vim.parents.append(parent)
        if parent[0] == "Datacenter":
            break
        r = vim.retrieve("<propSet><type>%s</type><pathSet>parent</pathSet></propSet><objectSet>%s"
                         "</objectSet>" % (parent[0], lib.moref("obj", *parent)))
        p = r.find(".//v:propSet/v:val", lib.NS)
        parent = (p.get("type"), p.text) if p is not None else None


def user_portgroups(configs):
    return sorted(k for k, c in configs.items() if c.findtext("v:uplink", namespaces=lib.NS) != "true")


def export(addr, sdk, log):
    rpc = lib.Rpc(addr)
    vim = lib.Vim(sdk)
    sw_ref = vim.find_switch("DVS0")
    plane_context(vim, sw_ref)
    configs = vim.portgroup_configs(sw_ref)
    keys = user_portgroups(configs)
    req = pb.ExportRequest(plane=PLANE, switch_name="DVS0")
    _, first = rpc.call("Export", req, pb.ExportResponse)  # warms the plane session
    if first.version.portgroup_count != len(keys):
        raise SystemExit("Export: %d port groups, vcsim has %d" % (first.version.portgroup_count, len(keys)))
    lib.hook(sdk, "reset", "POST")
    rpc.call("Export", req, pb.ExportResponse)
    calls = lib.hook(sdk, "counts")
    say("one Export of DVS0 (%d port groups) makes these vCenter calls: %s" % (len(keys), calls))
    if calls != PLANE_SEQUENCE_CALLS:  # the anchor makes the calls an Export makes
        raise SystemExit("an Export's calls are %s; plane_sequence makes %s: make them the same"
                         % (calls, PLANE_SEQUENCE_CALLS))

    changed, unchanged, seq, big = [], [], [], []
    srv_changed, srv_unchanged, cpu_changed, cpu_unchanged = [], [], [], []
    store_changed, store_unchanged = [], []
    samples = 3 * REPEAT  # cheap, and the store part is a small difference
    for i in range(samples):
        vim.set_portgroup_vlan(keys[i], configs[keys[i]], 100 + i)  # so that the next export stores
        time.sleep(0.2)  # each sample starts quiet (vcsim's Go GC after the previous 4 MB reply)
        since, cpu0 = log_size(log), lib.cpu_s()
        dt, r = rpc.call("Export", req, pb.ExportResponse)
        cpu_changed.append(lib.cpu_s() - cpu0)
        if r.unchanged:
            raise SystemExit("Export after a change: unchanged")
        changed.append(dt)
        logged(log, since, "Export")
        srv_changed += server_ms(log, since, "Export")
        store_changed += lib.dvsconfd_log_field(log, "store_ms", "Export", since)
        time.sleep(0.2)
        since, cpu0 = log_size(log), lib.cpu_s()
        dt, r = rpc.call("Export", req, pb.ExportResponse)
        cpu_unchanged.append(lib.cpu_s() - cpu0)
        if not r.unchanged:
            raise SystemExit("second Export: not unchanged")
        unchanged.append(dt)
        logged(log, since, "Export")
        srv_unchanged += server_ms(log, since, "Export")
        store_unchanged += lib.dvsconfd_log_field(log, "store_ms", "Export", since)
        time.sleep(0.2)
        s, b = plane_sequence(vim, sw_ref)
        seq.append(s)
        big.append(b)
    m = lambda xs: median(xs) * 1e3  # noqa: E731
    say("Export that stores a version %.1f ms (server %.1f, dvsconfd CPU %.1f), unchanged %.1f ms "
        "(server %.1f, dvsconfd CPU %.1f)"
        % (m(changed), median(srv_changed), sum(cpu_changed) / samples * 1e3, m(unchanged),
           median(srv_unchanged), sum(cpu_unchanged) / samples * 1e3))
    say("plane: the same SOAP calls %.1f ms, of which RetrievePropertiesEx of switch + port groups %.1f ms"
        % (m(seq), m(big)))
    record("5", m(changed) - m(seq), anchor=m(seq), n=samples, export_ms=m(changed),
           export_unchanged_ms=m(unchanged), store_ms=m(changed) - m(unchanged),
           server_ms=median(srv_changed), big_retrieve_ms=m(big),
           cpu_ms=sum(cpu_changed) / samples * 1e3)
    # Storing: dvsconfd's own time in dv_store_put_version (encoding, checksum,
    # PostgreSQL), from its log (store_ms). Differences of whole Exports drown
    # in the plane's variance (vcsim answers the same call 5-15 ms apart), and
    # /proc's CPU times count in 10 ms ticks.
    if len(store_changed) != samples or len(store_unchanged) != samples:
        raise SystemExit("dvsconfd's log: store_ms of %d and %d Exports, not %d"
                         % (len(store_changed), len(store_unchanged), samples))
    say("storing the version: %.2f ms of dvsconfd's time (its log, store_ms); finding it unchanged "
        "%.2f ms" % (median(store_changed), median(store_unchanged)))
    record("5s", median(store_changed), anchor=m(seq), n=samples,
           unchanged_ms=median(store_unchanged))


# --- figure 6 ---------------------------------------------------------------------------
def apply_(addr, sdk):
    rpc = lib.Rpc(addr)
    vim = lib.Vim(sdk)
    sw_ref = vim.find_switch("DVS0")
    configs = vim.portgroup_configs(sw_ref)
    keys = user_portgroups(configs)
    _, v1 = rpc.call("Export", pb.ExportRequest(plane=PLANE, switch_name="DVS0", note="v1 of figure 6"),
                     pb.ExportResponse)
    say("v1 = version %d of DVS0 (%d port groups)" % (v1.version.number, v1.version.portgroup_count))
    start = 100
    for k in (1, 10, 100):
        changed = keys[start:start + k]
        start += k
        for j, key in enumerate(changed):
            vim.set_portgroup_vlan(key, configs[key], 3000 + j)
        _, d = rpc.call("Diff", pb.DiffRequest(from_version_id=v1.version.id, to_plane=PLANE,
                                               to_switch_name="DVS0"), pb.DiffResponse)
        lib.hook(sdk, "reset", "POST")
        dt, r = rpc.call("Import", pb.ImportRequest(version_id=v1.version.id,
                                                    mode=pb.IMPORT_MODE_APPLY_EXISTING), pb.ImportResponse)
        counts = lib.hook(sdk, "counts")
        n = counts.get("ReconfigureDVPortgroup_Task", 0)
        _, after = rpc.call("Diff", pb.DiffRequest(from_version_id=v1.version.id, to_plane=PLANE,
                                                   to_switch_name="DVS0"), pb.DiffResponse)
        say("k=%d: live differs from v1 in %d fields; Import applied=%s, %d plan steps, %.0f ms; "
            "vCenter calls %s; after: %d differences"
            % (k, len(d.changes), r.applied, len(r.plan), dt * 1e3, counts, len(after.changes)))
        record("6k%d" % k, n, anchor=k, n=1, plan_steps=len(r.plan), import_ms=dt * 1e3,
               diff_before=len(d.changes), diff_after=len(after.changes), applied=r.applied)

    # the switch is lost; create-original re-creates all of it from v1
    vim.destroy_switch(sw_ref)
    dt, r = rpc.call("Import", pb.ImportRequest(version_id=v1.version.id,
                                                mode=pb.IMPORT_MODE_CREATE_ORIGINAL), pb.ImportResponse)
    _, after = rpc.call("Diff", pb.DiffRequest(from_version_id=v1.version.id, to_plane=PLANE,
                                               to_switch_name="DVS0"), pb.DiffResponse)
    other = [c.path for c in after.changes if not c.path.endswith(".key") and c.path != "uuid"]
    made = sum(1 for m in r.identity_map if m.object == "portgroup")
    say("re-create DVS0 (CREATE_ORIGINAL of v1): %d port groups in %.0f ms; afterwards it differs "
        "from v1 in %d port-group keys (chosen by vCenter) and %d other fields"
        % (made, dt * 1e3, len(after.changes) - len(other), len(other)))
    record("6r", made if not other else -1, anchor=v1.version.portgroup_count, n=1,
           import_ms=dt * 1e3, other_differences=len(other))


# --- helpers for run.sh ----------------------------------------------------------------------
def logcheck(log, since):
    """Every call OK, except those whose connection was already gone (peer
    unknown): h2load resets the streams still in flight when its time is up."""
    rows = lib.dvsconfd_log_ms(log, since=int(since))
    bad, gone = {}, 0
    for _, status, _, peer in rows:
        if status != "OK":
            if peer == "unknown":
                gone += 1
            else:
                bad[status] = bad.get(status, 0) + 1
    print("%d calls logged, %d cut off by the client's end, not OK: %s"
          % (len(rows), gone, bad or "none"))
    return 1 if bad else 0


def record_cmd(key, value, *kv):
    extra = {}
    for item in kv:
        k, v = item.split("=", 1)
        try:
            extra[k] = json.loads(v)
        except ValueError:
            extra[k] = v
    record(key, float(value), **extra)


# --- the table -----------------------------------------------------------------------------
def fmt_bytes(b):
    return "%.2f MB" % (b / 1e6)


def fmt_ms(x):
    return "%.2f ms" % x if x < 100 else "%.0f ms" % x


def fmt_rate(x):
    return "%.0f/s" % x


ROWS = [
    # key, figure, anchor name, format, target text, test(ratio)
    ("0", "machine: a tiny RPC after 50 ms idle (wake-ups)", "the same RPC back to back",
     fmt_ms, "(info)", None),
    ("0e", "  the bare echo server, the same call after 50 ms idle", "dvsconfd's (row 0)",
     fmt_ms, "(info)", None),
    ("1a", "history bytes in PostgreSQL (300 versions, 5,000 PG)", "git .git as committed",
     fmt_bytes, "(info)", None),
    ("1b", "history bytes in PostgreSQL (300 versions, 5,000 PG)", "git .git after gc --aggressive",
     fmt_bytes, "ratio < 1", lambda r: r < 1),
    ("2", "store one more version: PutVersion RPC", "write + git add + git commit",
     fmt_ms, "ratio <= 0.1", lambda r: r <= 0.1),
    ("2s", "  of which dvsconfd's time (its log)", "write + git add + git commit",
     fmt_ms, "(info)", None),
    ("2t", "  moving the 883 KB document in (refused big - refused tiny)", "write + git add + git commit",
     fmt_ms, "(info)", None),
    ("2f", "  floor: the request to a bare gRPC server committing 1 row", "write + git add + git commit",
     fmt_ms, "(info)", None),
    ("3a", "Diff RPC, adjacent versions", "git diff C1 C2",
     fmt_ms, "ratio <= 0.05", lambda r: r <= 0.05),
    ("3b", "Diff RPC, first vs last version", "git diff C1 C2",
     fmt_ms, "ratio <= 0.05", lambda r: r <= 0.05),
    ("3f", "  floor: a tiny call to the bare echo server", "git diff C1 C2 (3a)",
     fmt_ms, "(info)", None),
    ("4a", "GetVersion, small switch (h2load)", "bare C-core echo (h2load)",
     fmt_rate, "ratio >= 0.5", lambda r: r >= 0.5),
    ("4b", "ListVersions page 50 (h2load)", "pgbench -S -M prepared TPS",
     fmt_rate, "ratio >= 0.5", lambda r: r >= 0.5),
    ("5", "Export 2,000 PG: dvsconf overhead", "plane's own SOAP calls",
     fmt_ms, "ratio < 0.2", lambda r: r < 0.2),
    ("5s", "  of which storing the version (dvsconfd's log)", "plane's own SOAP calls",
     fmt_ms, "(info)", None),
    ("6k1", "APPLY_EXISTING, k=1: ReconfigureDVPortgroup_Task", "k",
     str, "ratio = 1", lambda r: r == 1),
    ("6k10", "APPLY_EXISTING, k=10: ReconfigureDVPortgroup_Task", "k",
     str, "ratio = 1", lambda r: r == 1),
    ("6k100", "APPLY_EXISTING, k=100: ReconfigureDVPortgroup_Task", "k",
     str, "ratio = 1", lambda r: r == 1),
    ("6r", "CREATE_ORIGINAL of the lost 2,000-PG switch: PGs re-created", "PGs in v1",
     str, "ratio = 1", lambda r: r == 1),
    ("7", "dvsconfd RSS after 100,000 calls", "RSS after 1,000 calls",
     fmt_bytes, "ratio <= 2", lambda r: r <= 2),
]


def table():
    rows = {}
    with open(os.environ["BENCH_RESULTS"]) as f:
        for line in f:
            r = json.loads(line)
            rows[r["key"]] = r
    out = []
    head = ("#", "figure", "dvsconf", "anchor", "anchor value", "ratio", "target", "n", "result")
    for key, name, anchor, fmt, target, test in ROWS:
        r = rows.get(key)
        if r is None:
            out.append((key, name, "-", anchor, "-", "-", target, "-", "NOT MEASURED"))
            continue
        v, a = r["value"], r["anchor"]
        ratio = v / a if a else float("inf")
        if fmt is str:
            vs, as_ = "%d" % v, "%d" % a
        else:
            vs, as_ = fmt(v), fmt(a)
        res = "-" if test is None else ("met" if test(ratio) else "MISSED")
        out.append((key, name, vs, anchor, as_, "%.3g" % ratio, target, str(r.get("n", "")), res))
    w = [max(len(str(row[i])) for row in out + [head]) for i in range(len(head))]
    line = lambda row: " | ".join(str(c).ljust(w[i]) for i, c in enumerate(row))  # noqa: E731
    print(line(head))
    print("-+-".join("-" * x for x in w))
    for row in out:
        print(line(row))


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "history":
        history(*args)
    elif cmd == "small":
        small(*args)
    elif cmd == "machine":
        machine(*args)
    elif cmd == "export":
        export(*args)
    elif cmd == "apply":
        apply_(*args)
    elif cmd == "logcheck":
        return logcheck(*args)
    elif cmd == "record":
        record_cmd(*args)
    elif cmd == "table":
        table()
    else:
        raise SystemExit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
