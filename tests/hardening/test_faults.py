"""Faults, against a stack of its own (tests/hardening/run.sh: PostgreSQL in a
private cluster this suite may stop, vcsim with test hooks, dvsconfd with
TLS and tokens and no version cache, so that every read is verified against
the database). The tests run in name order and share one switch:

- test_1_corrupt_versions: a version's checksum or body changed through psql:
  GetVersion, Diff and Import answer DATA_LOSS naming the version, Import
  touches nothing in vCenter (vcsim call counts unchanged); a whole version
  that later deltas are built on makes them DATA_LOSS too.
- test_2_vcenter_faults_mid_apply: a vSphere fault injected at each step of a
  4-step apply (add, reconfigure, reconfigure, remove; as a task error or a
  SOAP fault): ABORTED naming the step, and the switch exactly as before (the
  next export is unchanged, the same version).
- test_3_fault_during_undo: a step fails and undoing an earlier one fails too:
  DATA_LOSS whose message says which steps are still applied, which were
  undone and which never ran; the switch is in exactly that state; the audit
  log (ListAuditEvents as admin) records the DATA_LOSS with that message.
  test_3b: the same with long port group names.
- test_4_postgres_stopped: pg_ctl stop -m fast while threads export, import
  and put versions: every call ends OK or UNAVAILABLE within its deadline,
  dvsconfd stays up; after PostgreSQL is back (same port) the same dvsconfd
  serves again, every version stored before and every version a call
  reported is there and verifies (GetVersion of each).
- test_5_vcenter_stopped: vcsim frozen (SIGSTOP): a call with a 2 s deadline
  ends at its deadline and the service serves again once vcsim is back;
  vcsim killed: Export, Import, Diff and ListSwitches(live) answer
  UNAVAILABLE naming the plane; what needs only the store still works.
- test_6_sigterm_under_load: a PutVersion held in flight (a row lock taken
  through psql) and threads calling in a bounded loop; SIGTERM through
  deploy/down.sh: new calls are refused (UNAVAILABLE), the call in flight
  finishes OK once the lock is released, and dvsconfd exits with status 0
  (down.sh reports it).
- test_7_sigterm_grace_is_bounded: a dvsconfd started by hand with
  --grace-seconds 1 and a call blocked on a lock nobody releases: it stops
  within a few seconds of SIGTERM.
"""
import os
import signal
import subprocess
import threading
import time
import unittest

import grpc

from common import (C, PLANE, T, channel, counts, health, hook, pb, psql, raw, status_of, stub, vim,
                    wait_for, working_copy)
from vim_soap import NS

ROOT = os.environ["DVSCONF_ROOT"]
STATE = os.environ["HARD_STACK"]  # deploy/up.sh's state dir for this stack
PG_DIR = os.environ["HARD_PG_DIR"]
PG_PORT = os.environ["HARD_PG_PORT"]
PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")
SW = "hard-faults"


def pg_ctl(*args):
    cmd = [PG_BIN + "/pg_ctl", "-D", PG_DIR + "/data"] + list(args)
    if os.getuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    subprocess.run(cmd, check=True, capture_output=True, timeout=90)


def pg_stop():
    pg_ctl("-m", "fast", "-w", "-t", "60", "stop")


def pg_start():
    pg_ctl("-l", PG_DIR + "/postgres.log", "-w", "-t", "60", "-o",
           "-c listen_addresses=127.0.0.1 -c unix_socket_directories=%s -p %s -c fsync=off"
           " -c synchronous_commit=off -c full_page_writes=off" % (PG_DIR, PG_PORT), "start")


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def pid_of(name):
    with open(os.path.join(STATE, name + ".pid")) as f:
        return int(f.read())


def state_of(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:  # reaped meanwhile
        return False


class Faults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ch = channel("admin")
        grpc.channel_ready_future(cls.ch).result(timeout=T)
        cls.api = stub(cls.ch)
        cls.dvsconfd = pid_of("dvsconfd")

    @classmethod
    def tearDownClass(cls):
        cls.ch.close()

    def export(self, sw=SW):
        return self.api.Export(pb.ExportRequest(plane=PLANE, switch_name=sw), timeout=T)

    def get(self, vid):
        return self.api.GetVersion(pb.GetVersionRequest(version_id=vid), timeout=T)

    def refused(self, fn, req, code, *words, timeout=T):
        got, details = status_of(fn, req, timeout=timeout)
        self.assertEqual(got, code, "details: %r" % (details,))
        for w in words:
            self.assertIn(w, details)
        return details

    def pgs(self, version):
        return {p.name: p for p in self.get(version.id).config.portgroups}

    # ------------------------------------------------------------------------------
    def test_1_corrupt_versions(self):
        v = vim()
        v1 = working_copy(self.api, SW)
        cfg = self.get(v1.id).config
        pg = cfg.portgroups[0]
        v.set_vlan(pg.key, pg.name, 11)
        v2 = self.export().version
        v.set_vlan(pg.key, pg.name, 12)
        v3 = self.export().version
        rows = {i: (n, b) for i, n, b in psql("SELECT id, number, base_number FROM versions WHERE id IN (%s, %s, %s)"
                                               % (v1.id, v2.id, v3.id))}
        self.assertEqual(rows[v3.id][1], rows[v1.id][0], "version 3 is not a delta on version 1: %s" % rows)
        saved = {i: psql("SELECT encode(checksum, 'hex'), encode(body, 'hex') FROM versions WHERE id = %s" % i)[0]
                 for i in (v1.id, v2.id, v3.id)}

        def restore():
            for i, (s, b) in saved.items():
                psql("UPDATE versions SET checksum = decode('%s', 'hex'), body = decode('%s', 'hex') WHERE id = %s"
                     % (s, b, i))

        apply3 = pb.ImportRequest(version_id=v3.id, mode=pb.IMPORT_MODE_APPLY_EXISTING)
        try:
            # (a) the checksum of the latest version
            psql("UPDATE versions SET checksum = decode(repeat('00', 32), 'hex') WHERE id = %s" % v3.id)
            before = counts()
            self.refused(self.api.GetVersion, pb.GetVersionRequest(version_id=v3.id), C.DATA_LOSS,
                         "version %s" % v3.id, "corrupt")
            self.refused(self.api.Diff, pb.DiffRequest(from_version_id=v1.id, to_version_id=v3.id), C.DATA_LOSS,
                         "version %s" % v3.id)
            self.refused(self.api.Import, apply3, C.DATA_LOSS, "version %s" % v3.id)
            self.refused(self.api.Import, pb.ImportRequest(version_id=v3.id, mode=pb.IMPORT_MODE_CREATE_NEW,
                                                          new_name="hard-never"), C.DATA_LOSS, "version %s" % v3.id)
            self.assertEqual(counts(), before, "an import of a corrupt version reached vCenter")
            self.assertEqual(self.get(v2.id).info.checksum, v2.checksum)  # the others are fine
            restore()
            # (b) the whole version the deltas are built on
            psql("UPDATE versions SET body = decode('deadbeef', 'hex') WHERE id = %s" % v1.id)
            before = counts()
            for vid in (v1.id, v2.id, v3.id):
                self.refused(self.api.GetVersion, pb.GetVersionRequest(version_id=vid), C.DATA_LOSS, "version %s" % vid)
            self.refused(self.api.Import, apply3, C.DATA_LOSS, "version %s" % v3.id)
            self.assertEqual(counts(), before, "an import of a corrupt version reached vCenter")
            restore()
            # (c) one byte of a delta flipped
            psql("UPDATE versions SET body = set_byte(body, octet_length(body) / 2,"
                 " get_byte(body, octet_length(body) / 2) # 85) WHERE id = %s" % v2.id)
            self.refused(self.api.GetVersion, pb.GetVersionRequest(version_id=v2.id), C.DATA_LOSS, "version %s" % v2.id)
            self.refused(self.api.Import, pb.ImportRequest(version_id=v2.id, mode=pb.IMPORT_MODE_APPLY_EXISTING),
                         C.DATA_LOSS, "version %s" % v2.id)
            self.assertTrue(health(self.ch))
        finally:
            restore()
        for vv in (v1, v2, v3):
            self.assertEqual(self.get(vv.id).info.checksum, vv.checksum)
        self.assertTrue(self.export().unchanged)

    # ------------------------------------------------------------------------------
    def prepare_four_steps(self, sw=SW):
        """Change the switch in vCenter so that applying its first version is
        add (pg2), reconfigure (pg0), reconfigure (pg1), remove (extra)."""
        v = vim()
        first = self.api.ListVersions(pb.ListVersionsRequest(plane=PLANE, switch_name=sw, page_size=1000),
                                      timeout=T).versions[-1]
        cfg = self.get(first.id).config
        by_name = {p.name: p for p in cfg.portgroups}
        names = sorted(by_name)
        p0, p1, p2 = by_name[names[0]], by_name[names[1]], by_name[names[2]]
        live = {p.name: p for p in self.get(self.export(sw).version.id).config.portgroups}
        v.set_vlan(live[p0.name].key, p0.name, 77)
        v.set_vlan(live[p1.name].key, p1.name, 88)
        resp = v.call("Destroy_Task", v.pg_moref(live[p2.name].key))
        v.wait_task(resp.find("v:returnval", NS).text)
        v.add_portgroup(live[p0.name].key, sw + "-extra")
        state = self.export(sw).version
        req = pb.ImportRequest(version_id=first.id, mode=pb.IMPORT_MODE_APPLY_EXISTING, prune=True)
        dry = pb.ImportRequest()
        dry.CopyFrom(req)
        dry.dry_run = True
        plan = self.api.Import(dry, timeout=T).plan
        self.assertEqual([(s.kind, s.object) for s in plan],
                         [(pb.PLAN_STEP_ADD_PORTGROUP, p2.name), (pb.PLAN_STEP_RECONFIGURE_PORTGROUP, p0.name),
                          (pb.PLAN_STEP_RECONFIGURE_PORTGROUP, p1.name),
                          (pb.PLAN_STEP_REMOVE_PORTGROUP, sw + "-extra")])
        return first, state, req, (p0, p1, p2)

    def test_2_vcenter_faults_mid_apply(self):
        first, state, req, (_, _, added) = self.prepare_four_steps()
        cases = [("AddDVPortgroup_Task", 0, "task", 1), ("ReconfigureDVPortgroup_Task", 0, "task", 2),
                 ("ReconfigureDVPortgroup_Task", 1, "soap", 3), ("Destroy_Task", 0, "task", 4),
                 ("Destroy_Task", 0, "soap", 4)]
        for method, after, where, step in cases:
            with self.subTest(method=method, after=after, where=where):
                hook("/dvsconf-test/reset")
                hook("/dvsconf-test/fail?method=%s&fault=InvalidArgument&after=%d&in=%s" % (method, after, where))
                details = self.refused(self.api.Import, req, C.ABORTED, "step %d of 4" % step)
                hook("/dvsconf-test/reset")
                again = self.export()
                self.assertTrue(again.unchanged, "the switch changed after an ABORTED import (%s)" % details)
                self.assertEqual(again.version.id, state.id)
        # once the plane behaves, the same import applies
        done = self.api.Import(req, timeout=T)
        self.assertTrue(done.applied)
        self.assertEqual(done.safety_version_id, state.id)
        # the live switch is the first version; the port group it re-added has the key vCenter chose
        changes = self.api.Diff(pb.DiffRequest(from_version_id=first.id, to_plane=PLANE, to_switch_name=SW),
                                timeout=T).changes
        self.assertEqual([c.path for c in changes], ['portgroups["%s"].key' % added.name], changes)

    # ------------------------------------------------------------------------------
    def test_3_fault_during_undo(self):
        first, state, req, (p0, p1, p2) = self.prepare_four_steps()
        hook("/dvsconf-test/reset")
        # reconfigure #1 (step 2) works, #2 (step 3) fails, #3 (undoing step 2) fails
        hook("/dvsconf-test/fail?method=ReconfigureDVPortgroup_Task&fault=InvalidArgument&after=1&count=2")
        details = self.refused(self.api.Import, req, C.DATA_LOSS)
        hook("/dvsconf-test/reset")
        for words in ("step 3 of 4", "still applied: 2 (RECONFIGURE_PORTGROUP \"%s\")" % p0.name,
                      "undone: 1 (ADD_PORTGROUP \"%s\")" % p2.name, "steps 3-4 not applied"):
            self.assertIn(words, details)
        # the switch is what the message says: step 2 applied, step 1 undone, 3-4 never ran
        exported = self.export()
        self.assertFalse(exported.unchanged, "the DATA_LOSS import changed nothing")
        now = exported.version
        live, was, target = self.pgs(now), self.pgs(state), self.pgs(first)
        vlan = lambda p: (p.default_port_config.vlan.kind, p.default_port_config.vlan.vlan_id)  # noqa: E731
        self.assertEqual(vlan(live[p0.name]), vlan(target[p0.name]), "step 2 is not applied")
        self.assertEqual(vlan(live[p1.name]), vlan(was[p1.name]), "step 3 ran")
        self.assertNotIn(p2.name, live, "step 1 was not undone")
        self.assertIn(SW + "-extra", live, "step 4 ran")
        # the audit log has it, with the same message
        ev = self.api.ListAuditEvents(pb.ListAuditEventsRequest(method="/dvsconf.v1.ConfigManager/Import",
                                                                page_size=1), timeout=T).events[0]
        self.assertEqual((ev.result, ev.caller), ("DATA_LOSS", "local-admin"))
        self.assertIn("still applied: 2", ev.message)
        self.assertEqual(len(ev.plan_sha256), 64)
        # and the imports table
        row = psql("SELECT result, message FROM imports ORDER BY id DESC LIMIT 1")[0]
        self.assertEqual(row[0], "DATA_LOSS")
        self.assertIn("still applied", row[1])

    def test_3b_fault_during_undo_long_names(self):
        # The same with port group names of 150 bytes (names may have 1024):
        # the DATA_LOSS message must still say what state the switch is in.
        sw = "hard-long"
        working_copy(self.api, sw, prefix="p" * 140 + "-")
        first, state, req, (p0, p1, p2) = self.prepare_four_steps(sw)
        hook("/dvsconf-test/reset")
        hook("/dvsconf-test/fail?method=ReconfigureDVPortgroup_Task&fault=InvalidArgument&after=1&count=2")
        details = self.refused(self.api.Import, req, C.DATA_LOSS)
        hook("/dvsconf-test/reset")
        for words in ("still applied: 2", p0.name, "undone: 1", "steps 3-4 not applied"):
            self.assertIn(words, details, "the DATA_LOSS message (%d bytes) does not say what state the switch is"
                          " in: %r" % (len(details.encode()), details[-200:]))

    # ------------------------------------------------------------------------------
    def all_versions(self):
        out, token = {}, ""
        while True:
            r = self.api.ListVersions(pb.ListVersionsRequest(page_size=1000, page_token=token), timeout=T)
            out.update({v.id: v.checksum for v in r.versions})
            token = r.next_page_token
            if not token:
                return out

    def test_4_postgres_stopped(self):
        stored = self.all_versions()
        self.assertGreater(len(stored), 3)
        latest = self.export().version
        results, lock, stop = [], threading.Lock(), threading.Event()
        deadline = 10.0
        doc = self.get(latest.id).config

        def loop(kind):
            def run():
                api = stub(self.ch)
                n = 0
                while not stop.is_set() and n < 2000:
                    n += 1
                    if kind == "export":
                        fn, req = api.Export, pb.ExportRequest(plane=PLANE, switch_name=SW)
                    elif kind == "import":
                        fn, req = api.Import, pb.ImportRequest(version_id=latest.id,
                                                               mode=pb.IMPORT_MODE_APPLY_EXISTING)
                    elif kind == "dry":
                        fn, req = api.Import, pb.ImportRequest(version_id=latest.id, dry_run=True,
                                                               mode=pb.IMPORT_MODE_APPLY_EXISTING)
                    else:
                        c = pb.SwitchConfig()
                        c.CopyFrom(doc)
                        c.uuid, c.description = "u-hard-put", "%s-%d" % (kind, n)
                        fn, req = api.PutVersion, pb.PutVersionRequest(plane=PLANE, config=c)
                    t0 = time.monotonic()
                    code, r = status_of(fn, req, timeout=deadline)
                    with lock:
                        results.append((kind, time.monotonic() - t0, code, r))
                    time.sleep(0.01)
            return run

        threads = [threading.Thread(target=loop(k), daemon=True) for k in ("export", "import", "dry", "put")]
        for t in threads:
            t.start()
        time.sleep(1.0)
        down_at = time.monotonic()
        pg_stop()
        stopped_in = time.monotonic() - down_at
        time.sleep(2.0)
        stop.set()
        for t in threads:
            t.join(deadline + 10)
            self.assertFalse(t.is_alive(), "a call did not end within its deadline")
        self.assertTrue(alive(self.dvsconfd), "dvsconfd died when PostgreSQL stopped")
        self.assertTrue(health(self.ch))
        codes = {}
        for kind, took, code, r in results:
            codes[code] = codes.get(code, 0) + 1
            self.assertIn(code, (C.OK, C.UNAVAILABLE), "%s: %s %s" % (kind, code, r))
            self.assertLess(took, deadline + 1, "%s took %.1fs" % (kind, took))
            if code == C.UNAVAILABLE:
                self.assertIn("PostgreSQL", r)
        self.assertGreater(codes.get(C.UNAVAILABLE, 0), 0, "no call noticed that PostgreSQL was down")
        self.assertGreater(codes.get(C.OK, 0), 0)
        # while it is down
        self.refused(self.api.GetVersion, pb.GetVersionRequest(version_id=latest.id), C.UNAVAILABLE, "PostgreSQL")
        pg_start()
        # the same dvsconfd serves again, by itself
        wait_for(lambda: status_of(self.api.Export, pb.ExportRequest(plane=PLANE, switch_name=SW))[0] == C.OK,
                 30, "Export after PostgreSQL came back")
        self.assertEqual(pid_of("dvsconfd"), self.dvsconfd)
        self.assertTrue(alive(self.dvsconfd))
        # nothing lost: every version stored before, every version a call reported
        reported = {r.version.id: r.version.checksum for kind, _, code, r in results
                    if code == C.OK and kind in ("export", "put")}
        now = self.all_versions()
        for vid, checksum in list(stored.items()) + list(reported.items()):
            self.assertEqual(now.get(vid), checksum, "version %s" % vid)
            self.assertEqual(self.get(vid).info.checksum, checksum)  # verified server-side on read
        print("\n  postgres stopped in %.1fs under %d calls: %s" % (stopped_in, len(results), {
            c.name: n for c, n in codes.items()}), end=" ", flush=True)

    # ------------------------------------------------------------------------------
    def test_5_vcenter_stopped(self):
        pid = pid_of("vcsim")
        latest = self.export().version
        # frozen: the call ends at the client's deadline, the service recovers
        os.kill(pid, signal.SIGSTOP)
        try:
            wait_for(lambda: state_of(pid) == "T", 5, "vcsim stopped")
            t0 = time.monotonic()
            code, r = status_of(self.api.Export, pb.ExportRequest(plane=PLANE, switch_name=SW), timeout=2)
            took = time.monotonic() - t0
            st = state_of(pid)
        finally:
            os.kill(pid, signal.SIGCONT)
        self.assertEqual(code, C.DEADLINE_EXCEEDED, "vcsim (pid %d, state %s) frozen, Export: %.2fs %s" % (
            pid, st, took, r))
        self.assertLess(took, 3.0)
        wait_for(lambda: status_of(self.api.Export, pb.ExportRequest(plane=PLANE, switch_name=SW),
                                   timeout=10)[0] == C.OK, 40, "Export after vcsim was thawed")
        # gone
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not alive(pid), 15, "vcsim exiting")
        plane = 'plane "%s"' % PLANE
        cases = [
            (self.api.Export, pb.ExportRequest(plane=PLANE, switch_name=SW)),
            (self.api.ListSwitches, pb.ListSwitchesRequest(plane=PLANE, live=True)),
            (self.api.Diff, pb.DiffRequest(from_version_id=latest.id, to_plane=PLANE, to_switch_name=SW)),
            (self.api.Import, pb.ImportRequest(version_id=latest.id, mode=pb.IMPORT_MODE_APPLY_EXISTING)),
            (self.api.Import, pb.ImportRequest(version_id=latest.id, mode=pb.IMPORT_MODE_CREATE_NEW,
                                               new_name="hard-never", dry_run=True)),
        ]
        for fn, req in cases:
            with self.subTest(req=str(req)[:60]):
                t0 = time.monotonic()
                self.refused(fn, req, C.UNAVAILABLE, plane, timeout=20)
                self.assertLess(time.monotonic() - t0, 10)
        # the store alone still answers
        self.assertEqual(self.get(latest.id).info.checksum, latest.checksum)
        self.assertTrue(self.api.ListSwitches(pb.ListSwitchesRequest(plane=PLANE), timeout=T).switches)
        self.assertTrue(health(self.ch))

    # ------------------------------------------------------------------------------
    def test_6_sigterm_under_load(self):
        pid = self.dvsconfd
        self.assertTrue(alive(pid))
        latest = self.api.ListVersions(pb.ListVersionsRequest(plane=PLANE, switch_name=SW, page_size=1),
                                       timeout=T).versions[0]
        doc = self.get(latest.id).config
        doc.description = "written while dvsconfd stops (%f)" % time.time()
        sw_id = psql("SELECT id FROM switches WHERE plane = '%s' AND uuid = '%s'" % (PLANE, doc.uuid))[0][0]
        # hold the switch's history row: the PutVersion below waits for it, in flight
        holder = subprocess.Popen([PG_BIN + "/psql", os.environ["PGURI"], "-XqAt"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            holder.stdin.write("BEGIN;\nSELECT 'locked' FROM switches WHERE id = %s FOR UPDATE;\n" % sw_id)
            holder.stdin.flush()
            self.assertEqual(holder.stdout.readline().strip(), "locked")
            held = {}

            def put():
                t0 = time.monotonic()
                held["result"] = status_of(self.api.PutVersion, pb.PutVersionRequest(plane=PLANE, config=doc),
                                           timeout=60)
                held["took"] = time.monotonic() - t0
            put_thread = threading.Thread(target=put, daemon=True)
            put_thread.start()
            wait_for(lambda: psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'dvsconfd'"
                                  " AND wait_event_type = 'Lock'")[0][0] != "0", 10, "PutVersion waiting on the lock")

            # a bounded loop of concurrent calls
            results, lock, stop = [], threading.Lock(), threading.Event()

            def loop(i):
                api = stub(channel("admin"))
                for n in range(3000):
                    if stop.is_set():
                        return
                    t0 = time.monotonic()
                    if n % 2:
                        code, r = status_of(api.GetVersion, pb.GetVersionRequest(version_id=latest.id), timeout=5)
                    else:
                        code, r = status_of(api.ListVersions, pb.ListVersionsRequest(page_size=10), timeout=5)
                    with lock:
                        results.append((t0, time.monotonic(), code, r))
                    if code != C.OK:
                        time.sleep(0.05)
            loops = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(4)]
            for t in loops:
                t.start()
            time.sleep(0.5)
            sigterm_at = time.monotonic()
            down = subprocess.Popen([os.path.join(ROOT, "deploy/down.sh"), "--state", STATE],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            time.sleep(2.0)
            self.assertTrue(put_thread.is_alive(), "the PutVersion in flight ended before its lock was released: %s"
                            % held)
            self.assertTrue(alive(pid), "dvsconfd exited with a call in flight")
            holder.stdin.write("COMMIT;\n")
            holder.stdin.flush()
            put_thread.join(30)
            stop.set()
            for t in loops:
                t.join(15)
            out, _ = down.communicate(timeout=60)
        finally:
            if holder.poll() is None:
                holder.stdin.close()
                holder.wait(10)
            holder.stdout.close()
        code, r = held["result"]
        self.assertEqual(code, C.OK, "the call in flight at SIGTERM: %s" % (r,))
        self.assertFalse(r.unchanged)
        written = r.version
        self.assertIn("stopped dvsconfd (pid %d, exit status 0)" % pid, out)
        self.assertEqual(down.returncode, 0, out)
        self.assertFalse(alive(pid))
        after = [(code, r) for t0, t1, code, r in results if t0 > sigterm_at + 0.5]
        self.assertTrue(after, "no call was made after SIGTERM")
        self.assertEqual({code for code, _ in after}, {C.UNAVAILABLE}, "calls after SIGTERM: %s" % after[:3])
        for t0, t1, code, r in results:
            # gRPC core cancels the calls that reach a connection after the
            # shutdown began and before its GOAWAY reached the client: they are
            # refused too, with CANCELLED instead of UNAVAILABLE (see README.md)
            ok = (C.OK, C.UNAVAILABLE, C.CANCELLED) if sigterm_at <= t1 <= sigterm_at + 0.5 else (C.OK, C.UNAVAILABLE)
            self.assertIn(code, ok, "%s at SIGTERM%+.3fs, %.3fs" % (r, t0 - sigterm_at, t1 - t0))
            self.assertLess(t1 - t0, 6)
        # what the call in flight wrote is there
        self.assertEqual(psql("SELECT encode(checksum, 'hex') FROM versions WHERE id = %s" % written.id)[0][0],
                         written.checksum)
        cancelled = len([1 for _, _, code, _ in results if code == C.CANCELLED])
        print("\n  SIGTERM: %d calls before, %d refused after (%d of them CANCELLED in the first 0.5 s); the call"
              " in flight finished OK after %.1fs; %s" % (len([1 for t0, _, _, _ in results if t0 <= sigterm_at]),
                                                         len(after) + cancelled, cancelled, held["took"],
                                                         out.strip().splitlines()[0]), end=" ", flush=True)

    # ------------------------------------------------------------------------------
    def test_7_sigterm_grace_is_bounded(self):
        # --grace-seconds N: "on SIGTERM, how long in-flight calls may finish".
        # A call blocked in PostgreSQL (here on a row lock nobody releases)
        # must not keep dvsconfd from stopping once the grace period is over.
        port = free_port()
        log = open(os.path.join(STATE, "dvsconfd-grace.log"), "ab")
        proc = subprocess.Popen([os.path.join(os.environ["DVSCONF_BUILD"], "dvsconfd"), "serve", "--listen",
                                 "127.0.0.1:%d" % port, "--pg", os.environ["PGURI"], "--config",
                                 os.environ["DVSCONF_CONFIG"], "--plaintext", "--threads", "2", "--grace-seconds", "1"],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        pidfile = os.path.join(STATE, "dvsconfd-grace.pid")  # run.sh stops it if this test cannot
        with open(pidfile, "w") as f:
            f.write("%d\n" % proc.pid)
        holder = None
        try:
            ch = grpc.insecure_channel("127.0.0.1:%d" % port)
            api = stub(ch)
            wait_for(lambda: status_of(raw(ch, "/grpc.health.v1.Health/Check"), b"", timeout=1)[0] == C.OK, 30,
                     "dvsconfd serving")
            latest = api.ListVersions(pb.ListVersionsRequest(plane=PLANE, switch_name=SW, page_size=1),
                                      timeout=T).versions[0]
            doc = api.GetVersion(pb.GetVersionRequest(version_id=latest.id), timeout=T).config
            doc.description = "grace %f" % time.time()
            sw_id = psql("SELECT id FROM switches WHERE plane = '%s' AND uuid = '%s'" % (PLANE, doc.uuid))[0][0]
            holder = subprocess.Popen([PG_BIN + "/psql", os.environ["PGURI"], "-XqAt"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            holder.stdin.write("BEGIN;\nSELECT 'locked' FROM switches WHERE id = %s FOR UPDATE;\n" % sw_id)
            holder.stdin.flush()
            self.assertEqual(holder.stdout.readline().strip(), "locked")
            threading.Thread(target=lambda: status_of(api.PutVersion, pb.PutVersionRequest(plane=PLANE, config=doc),
                                                      timeout=60), daemon=True).start()
            wait_for(lambda: psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'dvsconfd'"
                                  " AND wait_event_type = 'Lock'")[0][0] != "0", 10, "PutVersion waiting on the lock")
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=8)
                stopped = time.monotonic() - t0
            except subprocess.TimeoutExpired:
                stopped = None
            ch.close()
        finally:
            if holder is not None:
                if holder.poll() is None:
                    holder.stdin.write("ROLLBACK;\n")
                    holder.stdin.close()
                    holder.wait(10)
                holder.stdout.close()
            try:
                proc.wait(timeout=20)  # the lock is gone: it can finish now
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
            os.unlink(pidfile)
        self.assertIsNotNone(stopped, "dvsconfd --grace-seconds 1 still runs 8 s after SIGTERM: the call blocked in"
                                      " PostgreSQL is waited for without limit")
        self.assertLess(stopped, 5)


if __name__ == "__main__":
    unittest.main()
