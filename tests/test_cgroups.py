"""programlib.cgroups with real processes: the kernel limits and counts a job's whole process tree.

These run as root on Linux (here and in CI). If a job cgroup cannot be made there, every test fails with the
reason; they are skipped only when not root. No clock races: deadlines below are hang guards only.
"""
from __future__ import annotations

import errno
import os
import select
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from programlib import cgroups
from programlib.cgroups import CgroupUnavailable, JobCgroup

MIB = 1 << 20
HANG_GUARD = 120.0  # seconds; only reached if something is broken


@pytest.fixture(autouse=True)
def cgroups_available():
    if not sys.platform.startswith("linux") or getattr(os, "geteuid", lambda: -1)() != 0:
        pytest.skip("job cgroups need root on Linux")
    reason = cgroups.probe()
    if reason is not None:
        pytest.fail(f"job cgroups are unavailable on this root Linux machine: {reason}")


def python(code: str, group: JobCgroup, **options) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], preexec_fn=group.enter_fn(), **options)


def cgroup_mount_points() -> list[str]:
    points = []
    with open("/proc/self/mountinfo") as lines:
        for line in lines:
            fields = line.split()
            if fields[fields.index("-") + 1] in ("cgroup", "cgroup2"):
                points.append(fields[4])
    return points


def directories_named(name: str) -> list[str]:
    found = []
    for point in cgroup_mount_points():
        for directory, subdirectories, _files in os.walk(point):
            found += [os.path.join(directory, sub) for sub in subdirectories if sub == name]
    return found


def read_lines(stream, count: int = 1) -> list[str]:
    """The next `count` lines a child writes to its stdout pipe (raw reads: no buffering hides data from select)."""
    fd, data = stream.fileno(), b""
    while data.count(b"\n") < count:
        ready, _, _ = select.select([fd], [], [], HANG_GUARD)
        assert ready, f"the child wrote only {data!r} (hang guard)"
        chunk = os.read(fd, 4096)
        assert chunk, f"end of file after {data!r}"
        data += chunk
    return data.decode().splitlines()


def at_end_of_file(stream) -> bool:
    """True once every writer of the pipe has closed it (died); waits for that, with a hang guard."""
    fd = stream.fileno()
    while True:
        ready, _, _ = select.select([fd], [], [], HANG_GUARD)
        assert ready, "a writer of the pipe is still alive (hang guard)"
        if os.read(fd, 4096) == b"":
            return True


def test_probe_and_group_layout():
    with JobCgroup.create(memory_bytes=64 * MIB, max_processes=8, name="layout") as group:
        assert group.version in ("v1", "v2")
        assert group.name.startswith("mleb-layout-")
        assert all(os.path.isdir(path) for path in group.paths.values())
        assert group.pids() == []
    assert not any(os.path.exists(path) for path in group.paths.values())


def test_memory_hog_is_killed_by_the_kernel():
    with JobCgroup.create(memory_bytes=200 * MIB, max_processes=None) as group:
        # Every page of the 600 MB is written (b"\x01" * n fills it), so it is really charged.
        child = python("data = b'\\x01' * (600 << 20); print('survived', len(data))", group,
                       stdout=subprocess.PIPE, text=True)
        out, _ = child.communicate(timeout=HANG_GUARD)
        assert child.returncode == -9 and "survived" not in out
        assert group.oom_kills() >= 1
        peak = group.memory_peak_bytes()
        assert peak is not None and peak <= 200 * MIB


def test_shm_pages_are_charged_to_the_writer():
    """A tmpfs page is charged to the memory cgroup of the process that writes it: /dev/shm cannot hide memory."""
    if not os.path.isdir("/dev/shm"):
        pytest.fail("no /dev/shm to write into")
    path = f"/dev/shm/mleb-test-{uuid.uuid4().hex}"
    code = f"""
import sys
written = 0
try:
    with open({path!r}, "wb") as handle:
        block = b"\\x02" * (1 << 20)
        for _ in range(300):
            handle.write(block)
            handle.flush()
            written += 1
except OSError as error:
    print("refused", written, error, flush=True)
    sys.exit(3)
print("wrote", written, flush=True)
"""
    try:
        with JobCgroup.create(memory_bytes=100 * MIB, max_processes=None) as group:
            child = python(code, group, stdout=subprocess.PIPE, text=True)
            out, _ = child.communicate(timeout=HANG_GUARD)
            assert not out.startswith("wrote"), out
            assert child.returncode == -9 or (child.returncode == 3 and out.startswith("refused")), (
                child.returncode, out)
            if child.returncode == -9:
                assert group.oom_kills() >= 1
            stored = os.stat(path).st_blocks * 512 if os.path.exists(path) else 0
            assert stored <= 100 * MIB, stored  # what reached the tmpfs stayed within the job's limit
    finally:
        if os.path.exists(path):
            os.unlink(path)


def test_fork_loop_is_refused_at_max_processes():
    code = """
import os, sys, time
children, refused = [], None
for _ in range(100):
    try:
        pid = os.fork()
    except OSError as error:
        refused = error.errno
        break
    if pid == 0:
        time.sleep(3600)
        os._exit(0)
    children.append(pid)
print(len(children), refused, flush=True)
time.sleep(3600)
"""
    with JobCgroup.create(memory_bytes=None, max_processes=10) as group:
        child = python(code, group, stdout=subprocess.PIPE, text=True)
        try:
            forked, refused = read_lines(child.stdout)[0].split()
            assert refused == str(errno.EAGAIN)
            assert int(forked) <= 9  # the parent is the tenth
            assert len(group.pids()) <= 10
            assert group.fork_refusals() >= 1
            pids_dir = group.paths.get("pids") or group.paths["unified"]
            peak_file = os.path.join(pids_dir, "pids.peak")
            if os.path.exists(peak_file):
                with open(peak_file) as handle:
                    assert int(handle.read()) <= 10
        finally:
            group.kill_all()
            child.wait(timeout=HANG_GUARD)
        assert group.pids() == []


def test_kill_all_reaches_a_setsid_double_fork_with_empty_environment():
    sleep = shutil.which("sleep")
    assert sleep
    code = f"""
import os
first = os.fork()
if first == 0:
    os.setsid()
    if os.fork() == 0:
        print(os.getpid(), flush=True)
        os.execve({sleep!r}, ["sleep", "3600"], {{}})
    os._exit(0)
os.waitpid(first, 0)
"""
    group = JobCgroup.create(memory_bytes=256 * MIB, max_processes=20, name="escape")
    try:
        child = subprocess.Popen([sys.executable, "-c", code], preexec_fn=group.enter_fn(), env={},
                                 stdout=subprocess.PIPE, text=True)
        grandchild, = map(int, read_lines(child.stdout))
        assert child.wait(timeout=HANG_GUARD) == 0  # its parent is gone: the sleeper is an orphan
        assert group.pids() == [grandchild]
        assert os.getsid(grandchild) != os.getsid(0)  # another session: setsid in the middle process
        with open(f"/proc/{grandchild}/environ", "rb") as handle:
            assert handle.read() == b""
        group.kill_all()
        assert group.pids() == []
        # The pipe's last writer was the sleeper: end of file proves it is dead (no clock involved).
        assert at_end_of_file(child.stdout)
        group.remove()
        assert not any(os.path.exists(path) for path in group.paths.values())
        group.remove()  # idempotent
    finally:
        group.remove()


def test_memory_peak_is_reported():
    with JobCgroup.create(memory_bytes=256 * MIB, max_processes=None) as group:
        child = python("data = b'\\x03' * (80 << 20); print(len(data))", group, stdout=subprocess.PIPE)
        child.communicate(timeout=HANG_GUARD)
        assert child.returncode == 0
        peak = group.memory_peak_bytes()
        assert peak is not None and 80 * MIB <= peak <= 256 * MIB, peak
        assert group.oom_kills() == 0 and group.fork_refusals() == 0


def test_names_are_gone_from_sys_fs_cgroup_after_remove():
    group = JobCgroup.create(memory_bytes=64 * MIB, max_processes=4, name="gone")
    child = python("import time; time.sleep(3600)", group)
    assert sorted(directories_named(group.name)) == sorted(group.paths.values())
    group.remove()  # kills the sleeper first
    assert child.wait(timeout=HANG_GUARD) == -9
    assert directories_named(group.name) == []


def freeze(group: JobCgroup) -> bool:
    """Freeze the group as kill_all does; False where there is no freezer."""
    if "freezer" in group.paths:
        state, frozen = os.path.join(group.paths["freezer"], "freezer.state"), "FROZEN"
    elif group.version == "v2" and os.path.exists(os.path.join(group.paths["unified"], "cgroup.freeze")):
        state, frozen = os.path.join(group.paths["unified"], "cgroup.freeze"), "1"
    else:
        return False
    with open(state, "w") as handle:
        handle.write(frozen)
    events = os.path.join(group.paths.get("unified", ""), "cgroup.events")
    done = (lambda: "frozen 1" in open(events).read()) if "freezer" not in group.paths else (
        lambda: open(state).read().strip() == "FROZEN")
    deadline = time.monotonic() + HANG_GUARD
    while not done():  # FREEZING until every member reached the refrigerator
        assert time.monotonic() < deadline, "the group never froze"
        time.sleep(0.01)
    return True


def test_a_group_its_owner_left_frozen_is_found_by_its_label_and_emptied():
    """The owner died between freezing and killing (SIGKILLed mid-cleanup): its members cannot die, not even
    of SIGKILL, until someone thaws them. The label finds the group again; remove() kills them and cleans up."""
    label = f"orphan{uuid.uuid4().hex[:8]}"
    left = JobCgroup.create(memory_bytes=64 * MIB, max_processes=4, name=label)
    other = JobCgroup.create(memory_bytes=64 * MIB, max_processes=4, name=f"other{uuid.uuid4().hex[:8]}")
    try:
        child = python("print('up', flush=True); import time; time.sleep(3600)", left, stdout=subprocess.PIPE)
        bystander = python("print('up', flush=True); import time; time.sleep(3600)", other, stdout=subprocess.PIPE)
        read_lines(child.stdout), read_lines(bystander.stdout)
        if not freeze(left):
            pytest.skip("no freezer here: nothing can be left frozen")
        os.kill(child.pid, 9)  # pending, not delivered: the process is frozen
        with pytest.raises(subprocess.TimeoutExpired):
            child.wait(timeout=0.5)
        [found] = JobCgroup.labelled(label)
        assert found.name == left.name and found.pids() == [child.pid]
        assert sorted(found.paths.values()) == sorted(left.paths.values())
        found.remove()
        assert child.wait(timeout=HANG_GUARD) == -9
        assert directories_named(left.name) == []
        assert bystander.poll() is None and other.pids() == [bystander.pid]  # another label: untouched
    finally:
        other.remove()
        left.remove()


def test_entering_a_removed_group_fails_instead_of_running_unlimited():
    group = JobCgroup.create(memory_bytes=64 * MIB, max_processes=4)
    enter = group.enter_fn()
    group.remove()
    with pytest.raises(subprocess.SubprocessError):
        subprocess.run([sys.executable, "-c", "pass"], preexec_fn=enter, timeout=HANG_GUARD)


def test_bad_limits_are_refused():
    with pytest.raises(ValueError):
        JobCgroup.create(memory_bytes=0, max_processes=None)
    with pytest.raises(ValueError):
        JobCgroup.create(memory_bytes=None, max_processes=None, name="a/b")


def test_v2_mechanics_on_a_cgroup2_mount():
    """enter, pids, cgroup.kill and removal on cgroup2, the only v2 path a hybrid (v1) host can exercise.

    On a hybrid host the cgroup2 mount has no memory or pids controller, so the group is made without limits.
    """
    _v1_mounts, v2_mounts = cgroups._cgroup_mounts()
    _own_v1, own_v2 = cgroups._own_cgroups()
    if not v2_mounts or own_v2 is None:
        pytest.skip("no cgroup2 mount on this host (cgroup v1 only)")
    try:
        group = JobCgroup._create_v2(v2_mounts, own_v2, f"mleb-v2test-{uuid.uuid4().hex[:12]}", None, None,
                                     controllers=())
    except CgroupUnavailable as error:
        pytest.fail(f"cannot make a cgroup2 group here: {error}")
    try:
        assert group.version == "v2"
        child = subprocess.Popen([sys.executable, "-c", "import os, time\nif os.fork() == 0: os.setsid()\n"
                                  "os.write(1, b'%d\\n' % os.getpid())\ntime.sleep(3600)"],  # one atomic write each
                                 preexec_fn=group.enter_fn(), stdout=subprocess.PIPE, text=True)
        members = set(map(int, read_lines(child.stdout, 2)))
        assert set(group.pids()) == members
        group.kill_all()
        assert group.pids() == []
        assert child.wait(timeout=HANG_GUARD) == -9
    finally:
        group.remove()
    assert not os.path.exists(group.paths["unified"])
