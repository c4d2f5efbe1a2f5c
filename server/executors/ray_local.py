"""A Ray cluster of several nodes on this machine's loopback, each node a `ray start --block` process of its own
(what the tests and benchmarks/bench_ray.py use; docs/ray.md has the real thing). Its temporary folder is its
own, and stop() ends only its own processes (by process group, and by that folder), never another cluster's.

    with LocalRayCluster() as cluster:
        cluster.add_node("a", cpus=1)          # the head
        cluster.add_node("b", cpus=1, resources={"gpu_node": 1})
        ... cluster.address ...
        cluster.kill("b")                       # SIGKILL: a node lost mid-job
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))
OBJECT_STORE_BYTES = 80 * 1024**2
LOGICAL_MEMORY_BYTES = 64 * 1024**3  # Ray's `memory` resource is logical: room for the tasks' declared 16 GB
# A test cluster on loopback, without Ray's token (else Ray takes ~/.ray/auth_token when one exists): its clients
# (the probe, the server under test) get the same variables.
CLIENT_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalRayCluster:
    def __init__(self):
        # short: Ray's Unix sockets live under it (a socket path has at most 107 characters)
        self.temp_dir = Path(tempfile.mkdtemp(prefix="mlebray", dir="/tmp"))
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.nodes: dict[str, subprocess.Popen] = {}

    def __enter__(self) -> "LocalRayCluster":
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def add_node(self, name: str, cpus: int = 1, resources: dict | None = None, timeout: float = 90) -> None:
        """Start a node (the first is the head) named `name` (MLEB_NODE_NAME); wait until the cluster counts it."""
        where = (["--head", "--port", str(self.port), "--temp-dir", str(self.temp_dir), "--include-dashboard",
                  "false"] if not self.nodes else ["--address", self.address])
        command = [RAY, "start", "--block", *where, "--node-ip-address", "127.0.0.1", "--num-cpus", str(cpus),
                   "--num-gpus", "0", "--object-store-memory", str(OBJECT_STORE_BYTES),
                   "--memory", str(LOGICAL_MEMORY_BYTES), "--resources", json.dumps(resources or {}),
                   "--disable-usage-stats"]
        # trusted: a test/bench cluster of this machine's own; its nodes start jobs, whose sandbox clears the env
        env = dict(os.environ, MLEB_NODE_NAME=name, **CLIENT_ENV)
        log = open(self.temp_dir / f"node-{name}.log", "ab")
        self.nodes[name] = subprocess.Popen(command, env=env, stdout=log, stderr=log, start_new_session=True)
        try:
            self.wait_for_nodes(len(self.alive()), timeout)
        except RuntimeError as error:
            tail = (self.temp_dir / f"node-{name}.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{error}; node {name} ({'running' if name in self.alive() else 'ended'}) "
                               f"said:\n{tail}") from None

    def alive(self) -> list[str]:
        return [name for name, process in self.nodes.items() if process.poll() is None]

    def wait_for_nodes(self, count: int, timeout: float) -> None:
        """Until `count` nodes are alive in the cluster (asked with `ray status`-like code in a subprocess)."""
        probe = ("import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR'); "
                 "print(sum(node['Alive'] for node in ray.nodes()))")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # trusted: our own probe of the cluster (no participant code), with this process's environment
            done = subprocess.run([sys.executable, "-c", probe, self.address], capture_output=True, text=True,
                                  env=dict(os.environ, **CLIENT_ENV))
            if done.returncode == 0 and done.stdout.strip() == str(count):
                return
            time.sleep(0.5)
        raise RuntimeError(f"the local Ray cluster did not reach {count} node(s) in {timeout:g} s; "
                           f"logs in {self.temp_dir}")

    def kill(self, name: str) -> None:
        """SIGKILL the node's whole process group (its raylet, object store, workers): a node lost."""
        self._signal(self.nodes[name], signal.SIGKILL)
        self.nodes[name].wait(timeout=30)

    def stop(self) -> None:
        for name in reversed(list(self.nodes)):  # the workers first, the head last
            process = self.nodes[name]
            self._signal(process, signal.SIGTERM)
            try:
                process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self._signal(process, signal.SIGKILL)
                process.wait(timeout=30)
        deadline = time.monotonic() + 10
        while self.stragglers() and time.monotonic() < deadline:  # SIGKILLed: gone once the kernel has reaped them
            for pid in self.stragglers():
                _kill(pid)
            time.sleep(0.2)
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def stragglers(self) -> list[int]:
        """Processes whose command line names this cluster's temporary folder (none after stop())."""
        needle = str(self.temp_dir).encode()
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and needle in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
        return found

    @staticmethod
    def _signal(process: subprocess.Popen, number: int) -> None:
        try:
            os.killpg(process.pid, number)
        except (ProcessLookupError, PermissionError):
            pass


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
