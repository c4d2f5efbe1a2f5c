"""The sandbox's parts, each on real processes and files: the one door out (programlib/transfer.py), the
bubblewrap confinement and the environment allowlist (programlib/runner.py), and no silent downgrade (the CLI
refuses to run participant code where the sandbox cannot run, unless --no-sandbox, which it then says)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, edit_inner_zip, rewrite_bundle, run_cli, write_zip
from programlib.errors import SubmissionError
from programlib.runner import Limits, run_process
from programlib.sandbox import Confinement, probe
from programlib.transfer import copy_file_out, copy_out, read_regular, write_new


@pytest.fixture(scope="module", autouse=True)
def sandbox_here():
    """These tests need bubblewrap: here and in CI they must run, never skip."""
    assert probe() is None, probe()


def make_source(tmp_path: Path) -> Path:
    source = tmp_path / "made"
    (source / "sub").mkdir(parents=True)
    (source / "a.csv").write_text("id,target\n1,0.5\n")
    (source / "sub" / "b.txt").write_text("b")
    (source / "run.sh").write_text("#!/bin/sh\n")
    (source / "run.sh").chmod(0o755)
    return source


def test_the_door_copies_regular_files_and_folders(tmp_path):
    source = make_source(tmp_path)
    copy_out(source, tmp_path / "copy")
    assert (tmp_path / "copy" / "a.csv").read_text() == "id,target\n1,0.5\n"
    assert (tmp_path / "copy" / "sub" / "b.txt").read_text() == "b"
    assert os.access(tmp_path / "copy" / "run.sh", os.X_OK)


def plant(kind: str, folder: Path, secret: Path) -> str:
    """Something that is not a plain file, named like a predictions file; returns the word the error must hold."""
    path = folder / "sub" / "predictions.csv"
    if kind == "link to a host file":
        path.symlink_to(secret)
        return "symbolic link"
    if kind == "link loop":
        (folder / "sub" / "loop1").symlink_to(".")
        return "symbolic link"
    if kind == "dangling link":
        path.symlink_to(folder / "nowhere")
        return "symbolic link"
    if kind == "fifo":
        os.mkfifo(path)
        return "FIFO"
    if kind == "hard link":
        os.link(folder / "sub" / "b.txt", path)
        return "hard links"
    if kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        server.close()
        return "socket"
    if kind == "device":
        os.mknod(path, 0o600 | 0o020000, os.makedev(1, 3))  # a character device, as /dev/null
        return "device"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["link to a host file", "link loop", "dangling link", "fifo", "hard link",
                                  "socket", "device"])
def test_the_door_refuses_anything_but_plain_files_and_names_it(tmp_path, kind):
    secret = tmp_path / "answers.csv"
    secret.write_text("the answers")
    source = make_source(tmp_path)
    word = plant(kind, source, secret)
    with pytest.raises(SubmissionError) as raised:
        copy_out(source, tmp_path / "copy", label="the predictions folder")
    assert word in str(raised.value) and str(raised.value).startswith("the predictions folder/sub/")
    assert not (tmp_path / "copy").exists(), "nothing of a refused copy is left"
    assert secret.read_text() == "the answers"


def test_the_door_caps_entries_depth_and_bytes(tmp_path):
    source = make_source(tmp_path)
    for i in range(30):
        (source / f"f{i}").write_bytes(b"x" * 100)
    with pytest.raises(SubmissionError, match="more than 20 files and folders"):
        copy_out(source, tmp_path / "c1", max_entries=20)
    with pytest.raises(SubmissionError, match="more than"):
        copy_out(source, tmp_path / "c2", max_bytes=1000)
    deep = tmp_path / "deep"
    (deep / Path(*["d"] * 70)).mkdir(parents=True)
    with pytest.raises(SubmissionError, match="nested more than 64 deep"):
        copy_out(deep, tmp_path / "c3")


def test_host_side_writes_never_go_through_a_planted_link(tmp_path):
    canary = tmp_path / "canary.txt"
    canary.write_text("untouched")
    planted = tmp_path / "ingestion_result.json"
    planted.symlink_to(canary)
    with pytest.raises(FileExistsError):
        write_new(planted, "{}")
    with pytest.raises(OSError):
        read_regular(planted)
    link = tmp_path / "scores.json"
    link.symlink_to(canary)
    with pytest.raises(SubmissionError, match="symbolic link"):
        copy_file_out(link, tmp_path / "out.json")
    assert canary.read_text() == "untouched"


def confined(tmp_path: Path, script: str, limits: Limits | None = None, env: dict | None = None):
    stage = tmp_path / "stage"
    stage.mkdir(exist_ok=True)
    (stage / "main.py").write_text(script)
    result = run_process([sys.executable, "main.py"], cwd=stage, time_limit=60, env=env, limits=limits,
                         stdout_path=tmp_path / "out.txt", stderr_path=tmp_path / "err.txt",
                         confinement=Confinement(visible={stage: True}))
    return result, (tmp_path / "out.txt").read_text(), (tmp_path / "err.txt").read_text()


def test_a_confined_program_is_nobody_with_no_way_back(tmp_path):
    script = """
import ctypes, os
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
libc = ctypes.CDLL(None, use_errno=True)
mount = libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)
print(os.getuid(), status["CapEff"].strip(), status["NoNewPrivs"].strip(), status["Seccomp"].strip(), mount,
      sorted(os.listdir("/")), os.path.exists("/etc/shadow"), sorted(p for p in os.listdir("/proc") if p.isdigit()))
"""
    result, out, err = confined(tmp_path, script)
    assert result.ok, err
    uid, caps, no_new_privs, seccomp, mount, rest = out.split(" ", 5)
    assert (uid, caps, no_new_privs, seccomp, mount) == ("65534", "0000000000000000", "1", "2", "-1")
    assert "'work'" in rest or str(tmp_path).split("/")[1] in rest  # only what was bound
    assert "home" not in rest.split("]")[0] and "True" not in rest  # no /home, no /etc/shadow
    assert result.protections["seccomp"] == "on" and result.protections["files"] == "private"


def test_a_confined_program_gets_an_allowlisted_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MLEB_SERVER_TOKEN", "token-that-must-not-leak")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "key-that-must-not-leak")
    result, out, err = confined(tmp_path, "import os, json\nprint(json.dumps(dict(os.environ)))\n",
                                env={"DATA_DIR": "/data"})
    assert result.ok, err
    seen = json.loads(out)
    assert "must-not-leak" not in out and seen["DATA_DIR"] == "/data" and seen["HOME"] == "/tmp/home"


def test_children_with_an_empty_environment_are_limited_by_the_kernel(tmp_path):
    script = """
import subprocess, sys
hog = "blocks = [bytearray(20 * 1024**2) for _ in range(20)]\\nimport time\\ntime.sleep(30)"
children = [subprocess.Popen([sys.executable, "-c", hog], env={}) for _ in range(4)]
for child in children:
    child.wait()
"""
    result, out, err = confined(tmp_path, script, limits=Limits(memory_mb=300, max_processes=10))
    assert result.limit_hit and result.limit_hit.startswith("memory: used more than 300 MB"), (result, err)
    assert "cgroup" in result.protections["limits"]


def no_bwrap_environment(tmp_path: Path) -> dict:
    """PATH without bwrap: the same machine, as one without bubblewrap installed."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("python3", "python"):
        (bin_dir / tool).symlink_to(sys.executable)
    return {**os.environ, "PATH": str(bin_dir)}


def test_without_bubblewrap_run_refuses_unless_no_sandbox(tiny_bundle, tmp_path):
    bundle = tiny_bundle("tabular-baseline")
    submission = write_zip(tmp_path / "sub.zip", {"baseline.py": "print('hello')\n"})
    env = no_bwrap_environment(tmp_path)
    command = [sys.executable, str(ROOT / "build_bundle.py"), "run", str(bundle), "--submission", str(submission)]
    refused = subprocess.run(command + ["--workdir", str(tmp_path / "r1")], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=600)
    assert refused.returncode == 1 and "bwrap" in refused.stderr and "--no-sandbox" in refused.stderr
    assert "Traceback" not in refused.stderr and not (tmp_path / "r1").exists()
    allowed = subprocess.run(command + ["--workdir", str(tmp_path / "r2"), "--no-sandbox"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=600)
    assert "WITHOUT isolation" in allowed.stdout + allowed.stderr
    ingestion = json.loads((tmp_path / "r2" / "prediction" / "output" / "ingestion_result.json").read_text())
    assert ingestion["protections"]["sandbox"] == "none (--no-sandbox was given)"


def test_validate_says_it_sandboxes_the_bundles_programs():
    done = run_cli("validate", "--help")
    assert "sandbox" in done.stdout and "--no-sandbox" in done.stdout


def test_filling_the_disk_through_its_folders_stops_at_the_disk_limit(tmp_path):
    script = "for i in range(40):\n    open(f'part{i}.bin', 'wb').write(bytes(4 * 1024**2))\n"
    result, _, err = confined(tmp_path, script, limits=Limits(max_disk_mb=50, max_file_mb=8))
    assert result.limit_hit and result.limit_hit.startswith("disk: wrote more than 50 MB in its folders"), err


def test_without_bubblewrap_validate_and_serve_refuse_too(tiny_bundle, tmp_path):
    env = no_bwrap_environment(tmp_path)
    for args in (["validate", str(tiny_bundle("tabular-baseline"))],
                 ["serve", "--port", "0", "--runs-dir", str(tmp_path / "runs")]):
        done = subprocess.run([sys.executable, str(ROOT / "build_bundle.py"), *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=600)
        said = done.stdout + done.stderr
        assert done.returncode == 1 and "bwrap" in said and "--no-sandbox" in said, (args, said)
        assert "Traceback" not in said


BUNDLE_ATTACK = """
import json, os, runpy, sys
seen = {}
try:
    seen["read"] = open(@CANARY@).read()
except OSError as error:
    seen["read"] = error.strerror
try:
    open(@CANARY@, "w").write("vandalised")
    seen["write"] = "wrote"
except OSError as error:
    seen["write"] = error.strerror
seen["env"] = dict(os.environ)
seen["processes"] = sorted(p for p in os.listdir("/proc") if p.isdigit())
open(os.path.join(sys.argv[2], "attack.json"), "w").write(json.dumps(seen))
sys.argv[0] = "scoring.py"
runpy.run_path("scoring.py", run_name="__main__")
"""


def test_validate_runs_a_bundles_own_programs_in_a_sandbox(tiny_bundle, tmp_path, monkeypatch):
    """Someone else's bundle: its scoring program reads and writes a host file and reads our environment."""
    from bundlegen.validate import validate_bundle

    canary = tmp_path / "canary.txt"
    canary.write_text("untouched")
    monkeypatch.setenv("MLEB_SERVER_TOKEN", "token-that-must-not-leak")

    def add_attack(files: dict[str, bytes]) -> None:
        files["attack.py"] = BUNDLE_ATTACK.replace("@CANARY@", repr(str(canary))).encode()
        files["metadata.yaml"] = b"command: python3 attack.py /app/input /app/output\n"

    source = tiny_bundle("tabular-baseline")
    hostile = rewrite_bundle(source, tmp_path / "hostile.zip", replace={
        "scoring_program.zip": edit_inner_zip(source, "scoring_program.zip", add_attack)})
    report = validate_bundle(hostile, log=lambda _m: None, keep_runs=True)
    assert report.solution_runs, report.problems
    result = report.solution_runs[0][1]
    assert result.ok, result.error  # the bundle still works: only what it must not reach is gone
    seen = json.loads((result.root / "scoring" / "output" / "attack.json").read_text())
    assert seen["read"] == "No such file or directory" and seen["write"] != "wrote", seen
    assert canary.read_text() == "untouched"
    assert "MLEB_SERVER_TOKEN" not in seen["env"] and len(seen["processes"]) <= 3, seen


# A program of ours (an ingestion program, the server's job) that runs a confined one and unwinds on SIGTERM.
OWNER = """
import signal, sys, threading
from pathlib import Path
sys.path.insert(0, {root!r})
from programlib.runner import Limits, run_process
from programlib.sandbox import Confinement
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
folder = Path(sys.argv[1])
try:
    run_process(sys.argv[2:], cwd=folder, stdout_path=folder / f"out-{{len(sys.argv)}}",
                stderr_path=folder / f"err-{{len(sys.argv)}}", limits=Limits(memory_mb=200, max_processes=20),
                confinement=Confinement(visible={{folder: True}}) if sys.argv[2].endswith("sleep") else None)
finally:
    (folder / f"stopped-{{len(sys.argv)}}").write_text("cleaned up")
"""


def sleepers_in(label: str) -> list[int]:
    from programlib.cgroups import JobCgroup
    found = []
    for group in JobCgroup.labelled(label):
        for pid in group.pids():
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() == "sleep":
                    found.append(pid)
            except OSError:
                pass
    return found


def test_a_stopped_chain_of_our_programs_unwinds_and_empties_the_confined_ones_cgroup(tmp_path):
    """server job -> ingestion -> participant: stopping the outer one gives each of ours time to stop its own
    children (the inner one empties the participant's cgroup), rather than SIGKILLing them mid-way."""
    import threading
    import uuid as uuid_module
    from programlib.cgroups import JobCgroup
    from programlib.runner import CGROUP_LABEL
    owner = tmp_path / "owner.py"
    owner.write_text(OWNER.format(root=str(ROOT)))
    label = f"chain{uuid_module.uuid4().hex[:8]}"
    sleep = "/usr/bin/sleep" if Path("/usr/bin/sleep").exists() else "/bin/sleep"
    command = [sys.executable, str(owner), str(tmp_path), sys.executable, str(owner), str(tmp_path), sleep, "3600"]
    stop = threading.Event()
    result: list = []
    thread = threading.Thread(target=lambda: result.append(run_process(
        command, cwd=tmp_path, stdout_path=tmp_path / "outer.out", stderr_path=tmp_path / "outer.err",
        env=dict(os.environ, **{CGROUP_LABEL: label}), stop=stop, grace=60)))
    thread.start()
    try:
        while not sleepers_in(label):  # the participant runs, in its cgroup
            assert thread.is_alive(), (tmp_path / "outer.err").read_text()
            time.sleep(0.05)
        [sleeper] = sleepers_in(label)
        stop.set()
        thread.join(timeout=120)
        assert result and result[0].stopped
        assert (tmp_path / "stopped-4").read_text() == "cleaned up"  # the inner one unwound, was not killed
        assert (tmp_path / "stopped-7").read_text() == "cleaned up"
        assert JobCgroup.labelled(label) == [] and not Path(f"/proc/{sleeper}/comm").exists()
    finally:
        stop.set()
        for group in JobCgroup.labelled(label):
            group.remove()


# ---------------------------------------------------------------------------------------------------------
# Folders bound at another path, GPUs only when asked, the kernel's peak memory

MOUNTED = """
import json, os
facts = {"cwd": os.getcwd(), "read": open("/srv/job/data/in.txt").read(), "host": os.path.exists(HOST)}
open("/srv/job/out/result.txt", "w").write("written inside")
try:
    open("/srv/job/data/new.txt", "w")
    facts["write"] = "written"
except OSError as error:
    facts["write"] = error.strerror
print(json.dumps(facts))
"""


def test_a_folder_mounted_elsewhere_is_seen_only_there_and_writes_land_on_the_host(tmp_path):
    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir()
    out.mkdir()
    (data / "in.txt").write_text("input")
    (out / "main.py").write_text(MOUNTED.replace("HOST", repr(str(tmp_path))))
    mounts = {"/srv/job/data": (data, False), "/srv/job/out": (out, True)}
    result = run_process([sys.executable, "main.py"], cwd=out, time_limit=60, limits=Limits(max_disk_mb=50),
                         stdout_path=tmp_path / "out.txt", stderr_path=tmp_path / "err.txt",
                         confinement=Confinement(mounts=mounts))
    assert result.ok, (tmp_path / "err.txt").read_text()
    facts = json.loads((tmp_path / "out.txt").read_text())
    assert facts == {"cwd": "/srv/job/out", "read": "input", "host": False, "write": "Read-only file system"}
    assert (out / "result.txt").read_text() == "written inside" and not (data / "new.txt").exists()


def test_filling_a_writable_mount_stops_at_the_disk_limit(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    script = "for i in range(40):\n    open(f'/srv/out/part{i}.bin', 'wb').write(bytes(4 * 1024**2))\n"
    result = run_process([sys.executable, "-c", script], cwd=out, time_limit=60, limits=Limits(max_disk_mb=50),
                         stdout_path=tmp_path / "out.txt", stderr_path=tmp_path / "err.txt",
                         confinement=Confinement(mounts={"/srv/out": (out, True)}))
    assert result.limit_hit and result.limit_hit.startswith("disk: wrote more than 50 MB"), result


def test_a_mount_over_the_interpreters_folder_keeps_the_interpreter(tmp_path):
    """A project under /home, with an agent's home mounted at /home: its interpreter is bound again on top."""
    from programlib.sandbox import _interpreter_paths

    kept = _interpreter_paths()
    if not kept:
        pytest.skip("the interpreter lies in the system folders: no mount can hide it")
    top = "/" + kept[0].parts[1]  # /work here; /home where the project lives in a home folder
    folder = tmp_path / "top"
    folder.mkdir()
    (folder / "note.txt").write_text("mounted")
    result = run_process([sys.executable, "-c", f"print(open('{top}/note.txt').read())"], cwd=folder,
                         time_limit=60, stdout_path=tmp_path / "out.txt", stderr_path=tmp_path / "err.txt",
                         confinement=Confinement(mounts={top: (folder, False)}))
    assert result.ok, (tmp_path / "err.txt").read_text()
    assert (tmp_path / "out.txt").read_text() == "mounted\n"
    assert (folder / kept[0].relative_to(top)).is_dir()  # its mount point, made in the host folder beforehand


def test_gpu_devices_are_bound_only_when_asked(tmp_path, monkeypatch):
    from programlib import sandbox

    # The one stand-in of these tests: this machine has no GPU, so the device list is made up, and only the
    # command line is checked (nothing runs).
    monkeypatch.setattr(sandbox, "_gpu_devices", lambda: ["/dev/nvidia0", "/dev/nvidiactl"])
    asked = " ".join(sandbox.bwrap_command(["true"], Confinement(), tmp_path, None))
    assert "--dev-bind /dev/nvidia0 /dev/nvidia0 --dev-bind /dev/nvidiactl /dev/nvidiactl" in asked
    assert "--ro-bind /sys /sys" in asked  # the CUDA driver reads the PCI topology
    refused = sandbox.bwrap_command(["true"], Confinement(gpus=False), tmp_path, None)
    assert not any("nvidia" in part for part in refused) and "/sys" not in refused


def test_mounts_are_bound_after_the_visible_folders_shallow_first(tmp_path):
    from programlib import sandbox

    confinement = Confinement(visible={tmp_path: False},
                              mounts={"/home/submission": (tmp_path / "s", True), "/home": (tmp_path, False)})
    args = sandbox.bwrap_command(["true"], confinement, tmp_path / "s", None)
    tail = args[args.index(str(tmp_path)) - 1:args.index("--chdir") + 2]
    assert tail == ["--ro-bind", str(tmp_path), str(tmp_path), "--ro-bind", str(tmp_path), "/home",
                    "--bind", str(tmp_path / "s"), "/home/submission", "--chdir", "/home/submission"]


def test_the_peak_memory_is_the_cgroups_high_water_mark(tmp_path):
    script = "block = bytearray(200 * 1024**2)\nblock[::4096] = b'x' * (len(block) // 4096)\n"
    result, _, err = confined(tmp_path, script, limits=Limits(memory_mb=1024))
    assert result.ok, err
    assert "cgroup" in result.protections["limits"] and 200 <= result.peak_memory_mb < 1024, result
    unlimited, _, _ = confined(tmp_path, "pass\n")  # no limits: no cgroup, nothing measured
    assert unlimited.peak_memory_mb is None
