"""A call blocked on a management plane must not stall other calls, even on
the same connection; on SIGTERM in-flight calls finish, new ones are refused,
and dvsconfd exits 0. Runs a dvsconfd of its own (DVSCONF_BUILD, PGURI) whose
only plane is a "vCenter" that accepts connections and never answers."""
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import grpc

from dvsconf.v1 import dvsconf_pb2 as pb
from dvsconf.v1 import dvsconf_pb2_grpc as pb_grpc

PLANE_TIMEOUT_S = 8


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Blackhole:
    """Accepts TCP connections on loopback and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self):
        self.sock.close()
        for c in self.held:
            c.close()


class NoStall(unittest.TestCase):
    extra_args = ()

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.hole = Blackhole()
        planes = os.path.join(self.tmp.name, "planes.json")
        with open(planes, "w") as f:
            json.dump({"planes": [{"name": "slow", "kind": "vsphere", "insecure": True,
                                   "url": "http://127.0.0.1:%d/sdk" % self.hole.port,
                                   "username": "u", "password_env": "SLOW_PW",
                                   "timeout_ms": PLANE_TIMEOUT_S * 1000}]}, f)
        self.addr = "127.0.0.1:%d" % free_port()
        self.log = open(os.path.join(self.tmp.name, "dvsconfd.log"), "w+")
        self.proc = subprocess.Popen(
            [os.path.join(os.environ["DVSCONF_BUILD"], "dvsconfd"), "serve", "--plaintext",
             "--listen", self.addr, "--pg", os.environ["PGURI"], "--config", planes,
             "--threads", "4", "--grace-seconds", "10", *self.extra_args],
            stdout=self.log, stderr=subprocess.STDOUT, env=dict(os.environ, SLOW_PW="pw"))
        self.ch = grpc.insecure_channel(self.addr)
        grpc.channel_ready_future(self.ch).result(timeout=30)
        self.api = pb_grpc.ConfigManagerStub(self.ch)

    def tearDown(self):
        self.ch.close()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.hole.close()
        self.log.close()
        self.tmp.cleanup()

    def slow_export(self):
        return self.api.Export.future(pb.ExportRequest(plane="slow", switch_name="sw"), timeout=60)

    def test_blocked_calls_leave_the_connection_free(self):
        slow = [self.slow_export() for _ in range(2)]  # two workers of four blocked
        time.sleep(0.5)
        for _ in range(10):
            self.api.ListPlanes(pb.ListPlanesRequest(), timeout=10)
            self.api.ListVersions(pb.ListVersionsRequest(page_size=1), timeout=10)
        # the fast calls came back while both slow ones are still blocked: they
        # did not wait behind them, on the same connection
        self.assertFalse(any(f.done() for f in slow), "the fast calls waited for the slow ones")
        for f in slow:  # the plane's timeout ends them, with the plane named
            e = f.exception(timeout=PLANE_TIMEOUT_S * 3)
            self.assertEqual(e.code(), grpc.StatusCode.UNAVAILABLE, e.details())
            self.assertIn('"slow"', e.details())

    def test_sigterm_lets_calls_in_flight_finish(self):
        inflight = self.slow_export()
        time.sleep(0.5)
        self.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        with self.assertRaises(grpc.RpcError) as cm:  # new calls are refused
            with grpc.insecure_channel(self.addr) as fresh:
                pb_grpc.ConfigManagerStub(fresh).ListPlanes(pb.ListPlanesRequest(), timeout=3)
        self.assertIn(cm.exception.code(), (grpc.StatusCode.UNAVAILABLE,
                                            grpc.StatusCode.DEADLINE_EXCEEDED))
        # the call in flight got its real answer (the plane's timeout), not a cancellation
        e = inflight.exception(timeout=PLANE_TIMEOUT_S * 3)
        self.assertEqual(e.code(), grpc.StatusCode.UNAVAILABLE, e.details())
        self.assertIn("slow", e.details())
        self.assertEqual(self.proc.wait(timeout=20), 0)


class Drain(NoStall):
    """--drain-seconds: on SIGTERM, health says NOT_SERVING while calls are
    still served, so a load balancer moves away before the stop."""
    extra_args = ("--drain-seconds", "3")

    test_blocked_calls_leave_the_connection_free = None
    test_sigterm_lets_calls_in_flight_finish = None

    def test_drain_before_stop(self):
        health = self.ch.unary_unary("/grpc.health.v1.Health/Check")
        self.assertEqual(health(b"", timeout=10), b"\x08\x01")  # SERVING
        self.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 2
        while health(b"", timeout=10) != b"\x08\x02" and time.monotonic() < deadline:  # NOT_SERVING
            time.sleep(0.05)
        self.assertEqual(health(b"", timeout=10), b"\x08\x02")
        self.api.ListPlanes(pb.ListPlanesRequest(), timeout=10)  # still served while draining
        self.assertEqual(self.proc.wait(timeout=30), 0)


if __name__ == "__main__":
    unittest.main()
