"""Concurrency and scale-out: two dvsconfd processes on one database.

The stack of tests/hardening/run.sh (deploy/up.sh: TLS + tokens) is process A;
setUpClass starts process B by hand on the same database and planes file,
plaintext on another loopback port, and tearDownClass stops it with SIGTERM
and expects exit status 0.

- test_a_exports: many threads export one switch through both processes
  while other threads change it in vCenter (vim_soap): version numbers in the
  versions table are gapless and unique, every version a call reported exists
  with its number and checksum, none exists that no call reported, two
  consecutive versions never hold the same configuration, and every version
  reads back (checksum verified server-side) through both processes.
  Both processes then list every version (their page caches hear of each
  other's writes).
- test_b_imports: threads import (apply-existing) two versions of one switch
  at once through both processes: every call is OK or ABORTED (another import
  in progress, or the switch changed between plan and apply), the switch ends
  equal to one of the two versions, each successful import's safety version
  is a state the switch really had (never a mix of two imports), and the
  imports table has exactly the successful imports.
- test_c_load: a bounded load test on loopback (LOAD_SECONDS, default 20;
  LOAD_THREADS, default 8): GetVersion / ListVersions / Diff through both
  processes; prints calls per second and latency; asserts zero errors only.

- test_d_*: bugs found (failing until fixed): a version written through A
  must read the same through B, which folds it from the database.

Everything runs with deadlines and joins with timeouts: a deadlock fails the
test instead of hanging it.
"""
import hashlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

import grpc

from common import (C, PLANE, T, channel, field_bytes, health, pb, psql, raw, status_of, stub, vim,
                    wait_for, working_copy)

BUILD = os.environ.get("DVSCONF_BUILD", "build")
STATE = os.environ.get("HARD_STATE", "/tmp")
LOAD_SECONDS = float(os.environ.get("LOAD_SECONDS", "20"))
LOAD_THREADS = int(os.environ.get("LOAD_THREADS", "8"))
JOIN = 180  # seconds: far more than any phase needs; past it, a deadlock


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_threads(targets, timeout=JOIN):
    """Start one thread per callable, join them all within timeout."""
    errors = []

    def wrap(fn):
        def run():
            try:
                fn()
            except BaseException as e:  # reported below
                errors.append(repr(e))
        return run

    threads = [threading.Thread(target=wrap(fn), daemon=True) for fn in targets]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    alive = [t for t in threads if t.is_alive()]
    if alive:
        raise AssertionError("%d of %d threads still running after %ds: deadlock?" % (len(alive), len(threads), timeout))
    if errors:
        raise AssertionError("threads failed: %s" % errors[:5])


class TwoProcesses(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.addr_b = "127.0.0.1:%d" % free_port()
        cls.log_b = os.path.join(STATE, "dvsconfd-b.log")
        cls.log_f = open(cls.log_b, "ab")
        cls.proc_b = subprocess.Popen(
            [os.path.join(BUILD, "dvsconfd"), "serve", "--listen", cls.addr_b, "--pg", os.environ["PGURI"],
             "--config", os.environ["DVSCONF_CONFIG"], "--plaintext", "--threads", "6"],
            stdin=subprocess.DEVNULL, stdout=cls.log_f, stderr=subprocess.STDOUT)
        with open(os.path.join(STATE, "dvsconfd-b.pid"), "w") as f:
            f.write("%d\n" % cls.proc_b.pid)
        cls.ch_a = channel("admin")
        cls.ch_b = grpc.insecure_channel(cls.addr_b)

        def ready():
            if cls.proc_b.poll() is not None:
                raise AssertionError("dvsconfd B exited (%s); log %s" % (cls.proc_b.returncode, cls.log_b))
            try:
                return health(cls.ch_b, timeout=1)
            except grpc.RpcError:
                return False
        wait_for(ready, 60, "dvsconfd B serving")
        cls.a, cls.b = stub(cls.ch_a), stub(cls.ch_b)

    @classmethod
    def tearDownClass(cls):
        cls.ch_a.close()
        cls.ch_b.close()
        cls.proc_b.send_signal(signal.SIGTERM)
        try:
            rc = cls.proc_b.wait(timeout=30)
        except subprocess.TimeoutExpired:
            cls.proc_b.kill()
            cls.proc_b.wait()
            raise AssertionError("dvsconfd B did not stop within 30 s of SIGTERM")
        finally:
            cls.log_f.close()
        os.unlink(os.path.join(STATE, "dvsconfd-b.pid"))
        if rc != 0:
            raise AssertionError("dvsconfd B exited with status %d on SIGTERM (log %s)" % (rc, cls.log_b))

    def api(self, i):
        return (self.a, self.b)[i % 2]

    def history(self, uuid):
        """(number, id, checksum) rows of the switch's lineage, by number."""
        return [(int(n), i, s) for n, i, s in psql(
            "SELECT v.number, v.id, encode(v.checksum, 'hex') FROM versions v JOIN switches s"
            " ON s.id = v.switch_id WHERE s.plane = '%s' AND s.uuid = '%s' ORDER BY v.number" % (PLANE, uuid))]

    # -------------------------------------------------------------------------------
    def test_a_exports(self):
        first = working_copy(self.a, "hard-conc-exp")
        cfg = self.a.GetVersion(pb.GetVersionRequest(version_id=first.id), timeout=T).config
        pgs = [(p.key, p.name) for p in cfg.portgroups]
        writers, rounds, readers = 6, 8, 2
        results, lock = [], threading.Lock()

        def writer(i):
            def run():
                v = vim()
                for r in range(rounds):
                    key, name = pgs[(i + r) % len(pgs)]
                    v.set_vlan(key, name, 100 + i * 100 + r)  # distinct per (thread, round)
                    resp = self.api(i).Export(pb.ExportRequest(plane=PLANE, switch_name="hard-conc-exp"), timeout=T)
                    with lock:
                        results.append(resp)
            return run

        def reader(i):
            def run():
                for _ in range(rounds * 2):
                    resp = self.api(i).Export(pb.ExportRequest(plane=PLANE, switch_uuid=first.switch_uuid), timeout=T)
                    with lock:
                        results.append(resp)
            return run

        t0 = time.monotonic()
        run_threads([writer(i) for i in range(writers)] + [reader(i) for i in range(readers)])
        took = time.monotonic() - t0
        rows = self.history(first.switch_uuid)
        numbers = [n for n, _, _ in rows]
        self.assertEqual(numbers, list(range(1, len(rows) + 1)), "numbers are not gapless and unique")
        by_id = {i: (n, s) for n, i, s in rows}
        new = [r.version for r in results if not r.unchanged]
        self.assertEqual(len({v.id for v in new}), len(new), "one version reported as new twice")
        for r in results:
            v = r.version
            self.assertIn(v.id, by_id, "version %s was reported and is not stored" % v.id)
            self.assertEqual(by_id[v.id], (v.number, v.checksum), "version %s: number or checksum" % v.id)
        self.assertEqual(set(by_id), {first.id} | {v.id for v in new}, "stored versions no call reported")
        for (n1, _, s1), (n2, _, s2) in zip(rows, rows[1:]):
            self.assertNotEqual(s1, s2, "versions %d and %d hold the same configuration" % (n1, n2))
        for k, (n, i, s) in enumerate(rows):
            got = self.api(k).GetVersion(pb.GetVersionRequest(version_id=i), timeout=T).info
            self.assertEqual((got.number, got.checksum), (n, s))
        # Each process lists every version, whichever process stored it: its
        # cache of pages hears of the other's writes through PostgreSQL's
        # NOTIFY (storage/README.md), within moments of the commit.
        for name, api in (("A", self.a), ("B", self.b)):
            req = pb.ListVersionsRequest(plane=PLANE, switch_uuid=first.switch_uuid, page_size=1000)
            deadline = time.monotonic() + 5
            listed = {v.id for v in api.ListVersions(req, timeout=T).versions}
            while listed != set(by_id) and time.monotonic() < deadline:
                time.sleep(0.01)
                listed = {v.id for v in api.ListVersions(req, timeout=T).versions}
            self.assertEqual(listed, set(by_id), "process %s does not list every stored version" % name)
        print("\n  exports: %d calls (%d new versions, %d unchanged) from %d threads through 2 processes in %.1fs;"
              " numbers 1..%d gapless" % (len(results), len(new), len(results) - len(new), writers + readers,
                                          took, len(rows)), file=sys.stderr)

    # -------------------------------------------------------------------------------
    def test_b_imports(self):
        v0 = working_copy(self.a, "hard-conc-imp")
        cfg = self.a.GetVersion(pb.GetVersionRequest(version_id=v0.id), timeout=T).config
        (k0, n0), (k1, n1) = [(p.key, p.name) for p in cfg.portgroups[:2]]
        v = vim()
        versions = {}
        for tag, vlans in (("A", (101, 102)), ("B", (201, 202))):
            v.set_vlan(k0, n0, vlans[0])
            v.set_vlan(k1, n1, vlans[1])
            versions[tag] = self.a.Export(pb.ExportRequest(plane=PLANE, switch_name="hard-conc-imp"), timeout=T).version
        known = {v0.checksum, versions["A"].checksum, versions["B"].checksum}
        imports_before = int(psql("SELECT count(*) FROM imports WHERE switch_uuid = '%s' AND result = 'OK'"
                                  % v0.switch_uuid)[0][0])
        threads, rounds = 6, 8
        results, lock = [], threading.Lock()

        def importer(i):
            def run():
                for r in range(rounds):
                    target = versions["AB"[(i + r) % 2]]
                    code, resp = status_of(self.api(i).Import, pb.ImportRequest(
                        version_id=target.id, mode=pb.IMPORT_MODE_APPLY_EXISTING))
                    with lock:
                        results.append((code, resp, target))
                    time.sleep(random.random() * 0.05)
            return run

        t0 = time.monotonic()
        run_threads([importer(i) for i in range(threads)])
        took = time.monotonic() - t0
        ok = [(resp, target) for code, resp, target in results if code == C.OK]
        aborted = [resp for code, resp, _ in results if code == C.ABORTED]
        others = [(code, resp) for code, resp, _ in results if code not in (C.OK, C.ABORTED)]
        self.assertEqual(others, [], "imports that were neither OK nor ABORTED")
        self.assertTrue(ok, "no import succeeded")
        for details in aborted:
            self.assertTrue("another import" in details and "in progress" in details
                            or "changed since the plan was made" in details, details)
        # the switch is one of the two versions, exactly
        ends = [t for t in ("A", "B") if not self.b.Diff(pb.DiffRequest(
            from_version_id=versions[t].id, to_plane=PLANE, to_switch_name="hard-conc-imp"), timeout=T).changes]
        self.assertTrue(ends, "the switch is neither version A nor version B after the imports")
        # every successful import planned from a state the switch really had
        for resp, target in ok:
            self.assertTrue(resp.applied)
            if resp.safety_version_id:
                got = self.a.GetVersion(pb.GetVersionRequest(version_id=resp.safety_version_id), timeout=T)
                self.assertIn(got.info.checksum, known,
                              "import of %s planned from a mix of two imports (safety version %s)"
                              % (target.id, resp.safety_version_id))
        imports_after = int(psql("SELECT count(*) FROM imports WHERE switch_uuid = '%s' AND result = 'OK'"
                                 % v0.switch_uuid)[0][0])
        self.assertEqual(imports_after - imports_before, len(ok), "imports table vs successful calls")
        print("\n  imports: %d calls from %d threads through 2 processes in %.1fs: %d OK, %d ABORTED; ends as %s"
              % (len(results), threads, took, len(ok), len(aborted), ends[0]), file=sys.stderr)

    # -------------------------------------------------------------------------------
    def test_c_load(self):
        # the versions this class made (other suites may have left unreadable ones)
        ids = [v.id for name in ("hard-conc-exp", "hard-conc-imp") for v in self.a.ListVersions(
            pb.ListVersionsRequest(plane=PLANE, switch_name=name, page_size=100), timeout=T).versions]
        self.assertGreaterEqual(len(ids), 2)
        stop_at = time.monotonic() + LOAD_SECONDS
        lat, errors, lock = [], [], threading.Lock()

        def worker(i):
            def run():
                api = self.api(i)
                rnd = random.Random(i)
                mine, bad = [], []
                while time.monotonic() < stop_at:
                    k = rnd.randrange(3)
                    t = time.monotonic()
                    try:
                        if k == 0:
                            api.GetVersion(pb.GetVersionRequest(version_id=rnd.choice(ids)), timeout=T)
                        elif k == 1:
                            api.ListVersions(pb.ListVersionsRequest(page_size=20), timeout=T)
                        else:
                            api.Diff(pb.DiffRequest(from_version_id=rnd.choice(ids), to_version_id=rnd.choice(ids)),
                                     timeout=T)
                    except grpc.RpcError as e:
                        bad.append("%s %s" % (e.code(), e.details()))
                    mine.append(time.monotonic() - t)
                with lock:
                    lat.extend(mine)
                    errors.extend(bad)
            return run

        t0 = time.monotonic()
        run_threads([worker(i) for i in range(LOAD_THREADS)], timeout=LOAD_SECONDS + 60)
        took = time.monotonic() - t0
        lat.sort()
        pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000  # noqa: E731
        print("\n  load: %d calls in %.1fs from %d threads (GetVersion/ListVersions/Diff, 2 processes):"
              " %.0f calls/s, p50 %.1f ms, p99 %.1f ms, %d errors"
              % (len(lat), took, LOAD_THREADS, len(lat) / took, pct(0.5), pct(0.99), len(errors)), file=sys.stderr)
        self.assertEqual(errors, [], "errors under load: %s" % errors[:5])

    # --- bugs found: a version written through one process, read through both --------
    def read_both(self, vid):
        """GetVersion of vid through A (which wrote it, and keeps what it wrote
        in its cache) and through B (which folds it from the database)."""
        return [status_of(api.GetVersion, pb.GetVersionRequest(version_id=vid)) for api in (self.a, self.b)]

    def test_d_put_version_portgroup_key_equal_to_another_name(self):
        # A port group without a key is identified by its name in stored
        # deltas (layout_pg_identity); one named like another port group's
        # key collides with it: the delta folds to a config that fails its
        # checksum. The writer caches what it meant to store, so A answers
        # OK and B (any other replica, or A after a restart) DATA_LOSS.
        c = pb.SwitchConfig(name="hard-collide", uuid="u-hard-collide")
        c.portgroups.add(key="", name="dvportgroup-7")
        c.portgroups.add(key="", name="z-web")
        c.portgroups.add(key="dvportgroup-7", name="db")
        for i in range(10):  # incompressible, so that the next version is stored as a delta
            c.portgroups.add(name="pg-%d" % i, description=hashlib.sha256(b"%d" % i).hexdigest())
        code, first = status_of(self.a.PutVersion, pb.PutVersionRequest(plane=PLANE, config=c))
        if code == C.INVALID_ARGUMENT:  # refusing the document is a fix too
            self.assertIn("dvportgroup-7", first)
            return
        self.assertEqual(code, C.OK, first)
        c.portgroups[5].num_ports = 8
        second = self.a.PutVersion(pb.PutVersionRequest(plane=PLANE, config=c), timeout=T).version
        for name, (code, got) in zip("AB", self.read_both(second.id)):
            self.assertEqual(code, C.OK, "version %s (a delta) read through %s: %s" % (second.id, name, got))
            self.assertEqual(len(got.config.portgroups), len(c.portgroups))

    def test_d_put_version_unknown_field_stays_readable(self):
        # protobuf-c accepts an unknown field whose tag is a non-minimal varint
        # of field number 0 (81 00), keeps it and packs it back as 01, which
        # no decoder accepts: the version is stored and never readable (B:
        # DATA_LOSS "stored whole version does not decode"; A sends its cached
        # bytes and the client cannot decode them).
        cfg = field_bytes(1, b"hard-field0") + field_bytes(2, b"u-hard-field0") + b"\x81\x00" + b"O" + b"\x00" * 7
        code, r = status_of(raw(self.ch_a, "PutVersion"), field_bytes(1, PLANE.encode()) + field_bytes(2, cfg))
        if code == C.INVALID_ARGUMENT:  # refusing it is a fix too
            return
        self.assertEqual(code, C.OK, r)
        vid = pb.ExportResponse.FromString(r).version.id
        for name, (code, got) in zip("AB", self.read_both(vid)):
            self.assertEqual(code, C.OK, "version %s read through %s: %s" % (vid, name, got))


if __name__ == "__main__":
    unittest.main()
