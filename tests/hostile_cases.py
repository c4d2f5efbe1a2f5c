"""Hostile submissions and archives, each run for real; tests/test_hostile.py asserts every row and
`python tests/hostile_cases.py` writes the table of docs/reliability.md from the same runs.

The submissions target tabular-baseline (tiny scale) through the local worker, with its limits lowered so a
hostile program hits them in seconds (the defaults are in bundle.yaml's `submission.limits`). The wall-clock
limit is only a generous guard against a hang: no case has to beat it.

Every program case runs with a canary file on the host (`Host`): the attack is told its absolute path (and
those of the data cache, the answers, the bundle, the project, ...) through placeholders such as @CANARY@ in
its text, and the run records whether the canary or its folder changed. An attack that gets anywhere prints a
line starting with `VERDICT BREACH`; every other `VERDICT` line says what held.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import socket
import sys
import time
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from bundlegen.worker import Bundle, run_submission  # noqa: E402
from programlib.archive import UnsafeArchiveError, safe_extract  # noqa: E402

TASK = "tabular-baseline"
# The wall clock is a hang guard far above the CPU limit: the CPU burner must hit its 2 CPU seconds first even
# on a machine oversubscribed many times over (no case races the clock).
MEMORY_MB, PROCESSES, TIME_LIMIT = 400, 24, 60
LOWERED = {"time_limit": TIME_LIMIT, "limits": {"memory_mb": MEMORY_MB, "max_processes": PROCESSES,
                                                "max_output_mb": 2, "max_file_mb": 16, "cpu_seconds": 2}}
# Writes the constant submission after its hostile part, so a contained attack still gets (a bad) score.
CONSTANT = """
import csv, os
rows = list(csv.DictReader(open(os.path.join(os.environ["DATA_DIR"], "test.csv"))))
with open(os.path.join(os.environ["OUTPUT_DIR"], "predictions.csv"), "w") as handle:
    handle.write("id,target\\n" + "".join(row["id"] + ",0.5\\n" for row in rows))
"""


@dataclass
class Outcome:
    what_happened: str  # e.g. "stopped at the memory limit", "refused", "contained"
    message: str  # what the participant or the organiser is told
    facts: dict


@dataclass
class Case:
    name: str
    attack: str  # what the hostile submission or archive does
    expected: str  # the fragment the message must hold
    run: Callable[[Path, Path], Outcome]  # (bundle, workdir) -> Outcome
    needs_sandbox: bool = True  # a real run: the local worker refuses to run participant code unconfined


# --- the host side of a run: what the attacks are told, and the canary they aim at ---------------------------

@dataclass
class Host:
    """Host paths an attacker could know, handed to it as @NAME@ placeholders, and a canary file to aim at."""
    bundle: Path
    workdir: Path
    canary: Path = field(init=False)

    def __post_init__(self):
        self.canary = self.workdir / "host" / "canary.txt"
        self.canary.parent.mkdir(parents=True, exist_ok=True)
        self.canary.write_bytes(b"canary " + secrets.token_hex(8).encode())
        old = time.time() - 3600  # an hour ago, so a write now would show in the mtime
        os.utime(self.canary, (old, old))

    @property
    def cache(self) -> Path:  # the data cache of build_bundle_for_cases (the bundle is at WORK/dist/X.zip)
        return self.bundle.parent.parent / "cache"

    @property
    def answers(self) -> Path:  # the private test labels in the data cache, as tests/test_no_leaks.py finds them
        return sorted(self.cache.rglob("test_labels.csv"))[0]

    def places(self, run: str = "run") -> dict[str, str]:
        from conftest import ROOT
        return {"CANARY": str(self.canary), "CACHE": str(self.cache), "ANSWERS": str(self.answers),
                "BUNDLE": str(self.bundle), "REF": str(self.workdir / run / "scoring" / "input" / "ref"),
                "PROJECT": str(ROOT), "HOSTPID": str(os.getpid())}

    def fill(self, script: str, run: str = "run") -> str:
        for name, value in self.places(run).items():
            script = script.replace(f"@{name}@", repr(value))
        return script

    def snapshot(self) -> tuple:
        info = self.canary.stat()
        return self.canary.read_bytes(), info.st_mtime_ns, sorted(os.listdir(self.canary.parent))


def submit(bundle: Path, workdir: Path, script: str, extra: dict[str, bytes] | None = None,
           run: str = "run") -> tuple:
    files = {"baseline.py": script.encode(), **(extra or {})}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    (workdir / f"{run}.zip").write_bytes(buffer.getvalue())
    result = run_submission(bundle, workdir / f"{run}.zip", workdir=workdir / run, log=lambda _m: None)
    ingestion_path = workdir / run / "prediction" / "output" / "ingestion_result.json"
    ingestion = json.loads(ingestion_path.read_text()) if ingestion_path.is_file() else {}
    return result, ingestion


def survivors_of(root: Path) -> list[str]:
    """Processes whose command line names the run folder (the participant's program and its children: the
    attacks that start children with an empty environment name their working folder in the children's argv)."""
    found: list[str] = []
    for _ in range(50):  # a killed tree may take a moment to disappear
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and str(root).encode() in (entry / "cmdline").read_bytes():
                    found.append(entry.name)
            except OSError:
                pass
        if not found:
            break
        time.sleep(0.1)
    return found


def printed(root: Path) -> str:
    log = root / "prediction" / "output" / "logs" / "stdout.txt"
    return log.read_text(errors="replace") if log.is_file() else ""


def verdicts_of(stdout: str) -> list[str]:
    return [line.removeprefix("VERDICT ") for line in stdout.splitlines() if line.startswith("VERDICT")]


def details_of(stdout: str) -> dict:
    """What an attack recorded for the test on `DETAIL {json}` lines (not shown in the table)."""
    found = {}
    for line in stdout.splitlines():
        if line.startswith("DETAIL "):
            found.update(json.loads(line.removeprefix("DETAIL ")))
    return found


def program_case(script: str, *, constant: bool = False, verdicts: bool = False,
                 observe: Callable[[Host, Path], str] | None = None) -> Callable[[Path, Path], Outcome]:
    """A real submission: `script` (placeholders filled, CONSTANT appended with `constant`); the message is its
    VERDICT lines with `verdicts` (what the program itself saw), else what the ingestion program or the worker
    said; `observe(host, run root)` adds what the host sees afterwards."""
    def run(bundle: Path, workdir: Path) -> Outcome:
        host = Host(bundle, workdir)
        before = host.snapshot()
        started = time.monotonic()
        result, ingestion = submit(bundle, workdir, host.fill(script + (CONSTANT if constant else "")))
        seconds = time.monotonic() - started
        root = workdir / "run"
        return describe(result, ingestion, root, host, before, seconds, verdicts, observe)
    return run


def describe(result, ingestion: dict, root: Path, host: Host, before: tuple, seconds: float, verdicts: bool,
             observe: Callable[[Host, Path], str] | None) -> Outcome:
    status = ingestion.get("status", "-")
    if result.ok:
        what = f"scored (roc_auc {result.scores['roc_auc']:.2f}); ingestion status {status}"
    else:
        what = f"not scored; ingestion status {status}"
    if status not in ("ok", "-"):  # the ingestion program's own words (the scorer repeats them)
        message = ingestion.get("message", "").splitlines()[0]
    else:
        message = (result.error or "").replace("\n", " ")
    stdout = printed(root)
    seen = verdicts_of(stdout)
    if verdicts and seen:
        message = "; ".join(seen)
    survivors = survivors_of(root)
    if result.ok or survivors:
        message = "; ".join(filter(None, [message, f"{len(survivors)} of its processes left running" if survivors
                                         else "nothing of it left running after the run"]))
    if observe is not None:
        message = "; ".join(filter(None, [message, observe(host, root)]))
    return Outcome(what, message, {"ingestion": ingestion, "scores": result.scores, "error": result.error,
                                   "root": str(root), "stdout": stdout, "verdicts": seen,
                                   "details": details_of(stdout), "host_intact": host.snapshot() == before,
                                   "seconds": round(seconds, 1), "host": host})


def archive_case(build: Callable[[], bytes], **limits) -> Callable[[Path, Path], Outcome]:
    def run(_bundle: Path, workdir: Path) -> Outcome:
        target = workdir / "unpacked"
        try:
            safe_extract(io.BytesIO(build()), target, label="submission.zip", **limits)
        except UnsafeArchiveError as error:
            outside = sorted(p.name for p in workdir.rglob("*") if p.is_file() and target not in p.parents)
            written = sorted(p.name for p in target.rglob("*")) if target.exists() else []
            return Outcome("refused, nothing written", str(error), {"outside": outside, "written": written})
        return Outcome("unpacked", "", {})
    return run


def zip_of(entries: list[tuple[str, bytes, int | None]]) -> bytes:
    """entries: (name, data, unix mode or None)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if mode is not None:
                info.external_attr = mode << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def network_probe() -> str:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    LISTENERS.append(listener)  # kept open while the case runs
    return f"""
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=3)
    print("VERDICT BREACH: reached a server on the host's loopback")
except OSError as error:
    print("VERDICT host unreachable:", error)
try:
    socket.create_connection(("1.1.1.1", 53), timeout=3)
    print("VERDICT BREACH: reached the internet")
except OSError as error:
    print("VERDICT internet unreachable:", error)
"""


LISTENERS: list[socket.socket] = []


def network_case(bundle: Path, workdir: Path) -> Outcome:
    try:
        return program_case(network_probe(), constant=True, verdicts=True)(bundle, workdir)
    finally:
        while LISTENERS:
            LISTENERS.pop().close()


# --- the attacks ---------------------------------------------------------------------------------------------

# A helper the ctypes attacks share: a raw system call by name, for x86_64 and aarch64.
SYSCALLS = """
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
NUMBERS = {"x86_64": {"unshare": 272, "setns": 308, "mount": 165, "keyctl": 250, "bpf": 321, "ptrace": 101},
           "aarch64": {"unshare": 97, "setns": 268, "mount": 40, "keyctl": 219, "bpf": 280, "ptrace": 117}}
def syscall(name, *args):
    result = libc.syscall(ctypes.c_long(NUMBERS[os.uname().machine][name]), *[ctypes.c_long(a) for a in args])
    return result, errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
def attempt(what, name, *args):
    result, code = syscall(name, *args)
    print(f"VERDICT BREACH: {what} succeeded" if result != -1 else f"VERDICT {what}: refused ({code})", flush=True)
"""

CHROOT_ESCAPE = """
import os
try:  # the classic: chroot into a subfolder while holding a descriptor of the old root, climb out, chroot there
    os.mkdir("x")
    outside = os.open(".", os.O_RDONLY)
    os.chroot("x")
    os.fchdir(outside)
    for _ in range(64):
        os.chdir("..")
    os.chroot(".")
    print("VERDICT BREACH: chroot escape succeeded", flush=True)
except OSError as error:
    print("VERDICT chroot refused:", error.strerror, flush=True)
for _ in range(64):
    os.chdir("..")
for what, place in {"data cache": @CACHE@, "scoring job's answers": @REF@, "bundle zip": @BUNDLE@}.items():
    try:
        if os.path.isdir(place):
            for folder, _, names in os.walk(place):
                for name in names:
                    open(os.path.join(folder, name), "rb").read()
            print(f"VERDICT BREACH: read the {what}", flush=True)
        else:
            open(place, "rb").read()
            print(f"VERDICT BREACH: read the {what}", flush=True)
    except OSError as error:
        print(f"VERDICT the {what} unreachable ({error.strerror})", flush=True)
os.chdir(os.environ["OUTPUT_DIR"])
os.rmdir("../submission/x")
"""

PREDICTIONS = 'os.path.join(os.environ["OUTPUT_DIR"], "predictions.csv")'
LINK_TO_ANSWERS = f"import os\nos.symlink(@ANSWERS@, {PREDICTIONS})\n"
# The scoring job's answers folder does not exist yet while the program runs: a link there dangles, until later.
DANGLING_LINK = f"import os\nos.symlink(os.path.join(@REF@, 'test_labels.csv'), {PREDICTIONS})\n"
LINK_LOOPS = "import os\nos.symlink('.', 'loop-a')\nos.symlink('.', 'loop-b')\n"
FIFO = f"import os\nos.mkfifo({PREDICTIONS})\n"
HARD_LINK = "import os\nos.link('baseline.py', 'twin.py')\n"
SOCKET_FILE = "import socket\nlistener = socket.socket(socket.AF_UNIX)\nlistener.bind('listener.sock')\n"

PLANTED_LINKS = """
import os
names = ["ingestion_result.json", "logs", "stdout.txt", "runs", "metadata"]
output = os.environ["OUTPUT_DIR"]
for folder in (".", output, os.path.dirname(output)):
    for name in names:
        os.symlink(@CANARY@, os.path.join(folder, name))
"""

REMOUNT_INPUT = SYSCALLS + """
MS_REMOUNT, MS_BIND = 32, 4096
data = os.environ["DATA_DIR"]
buffer = ctypes.create_string_buffer(data.encode())
attempt("remount of the input folder writable", "mount", 0, ctypes.addressof(buffer), 0, MS_REMOUNT | MS_BIND, 0)
for name in sorted(os.listdir(data)):
    try:
        with open(os.path.join(data, name), "r+") as handle:
            handle.write("tampered")
        print("VERDICT BREACH: wrote", name, flush=True)
    except OSError as error:
        print(f"VERDICT {name} unwritable ({error.strerror})", flush=True)
        break
"""

CHILD_ARGV = "[sys.executable, '-c', child, os.getcwd()]"  # the working folder in argv: survivors are findable
MEMORY_CHILDREN = f"""
import os, subprocess, sys
child = "import time\\nblock = bytearray(100 * 1024**2)\\nblock[::4096] = bytes(len(block[::4096]))\\ntime.sleep(600)"
children = [subprocess.Popen({CHILD_ARGV}, env={{}}) for _ in range(8)]
for child in children:
    child.wait()
print("VERDICT BREACH: the children ended on their own")
"""
PROCESS_CHILDREN = f"""
import os, subprocess, sys
# a refused fork (the limit held) is no reason to end: only being stopped ends a child before 600 s
child = ("import os, time\\nfor _ in range(10):\\n    try:\\n        pid = os.fork()\\n    except OSError:\\n"
         "        break\\n    if pid == 0:\\n        time.sleep(600)\\n        os._exit(0)\\ntime.sleep(600)")
children = [subprocess.Popen({CHILD_ARGV}, env={{}}) for _ in range(4)]
for child in children:
    child.wait()
print("VERDICT BREACH: the children ended on their own")
"""
TMP_FILLER = """
import os
written, piece = 0, b"\\xff" * (10 * 1024**2)
try:
    while written < 2048 * 1024**2:  # 50 MB a chunk, as 5 files of 10 MB (one file may not exceed 16 MB)
        for part in range(5):
            with open(f"/tmp/fill-{written >> 20}-{part}.bin", "wb") as handle:
                handle.write(piece)
        written += 5 * len(piece)
        print(f"DETAIL {{\\"tmp_mb\\": {written >> 20}}}", flush=True)
    print(f"VERDICT BREACH: wrote {written >> 20} MB into /tmp", flush=True)
except OSError as error:
    print(f"VERDICT /tmp full after {written >> 20} MB ({error.strerror})", flush=True)
for name in os.listdir("/tmp"):
    if name.startswith("fill-"):
        os.remove(os.path.join("/tmp", name))
"""
SHM_WRITER = """
import os
with open("/dev/shm/@MARKER@", "w") as handle:
    handle.write("left behind by an earlier run")
print("VERDICT a first run wrote its marker into /dev/shm", flush=True)
"""
SHM_READER = """
import os
if os.path.exists("/dev/shm/@MARKER@"):
    print("VERDICT BREACH: a second run sees the first run's marker in /dev/shm", flush=True)
else:
    print(f"VERDICT a second run does not see it (its /dev/shm holds {len(os.listdir('/dev/shm'))} files)",
          flush=True)
"""

SECRET_NAMES = ("MLEB_SERVER_TOKEN", "AWS_SECRET_ACCESS_KEY")
PRINT_ENVIRONMENT = """
import os
print("environment:", dict(os.environ))
for path in ("/proc/self/environ", "/proc/1/environ"):
    print(path, open(path, "rb").read())
names = sorted("a run marker" if name.startswith("PROGRAMLIB_RUN_") else name for name in os.environ)
print(f"VERDICT printed its environment: {len(names)} variables ({', '.join(names)})", flush=True)
"""

PROCESS_SNOOPING = SYSCALLS + """
import json
PTRACE_ATTACH = 16
attempt("ptrace attach of its parent", "ptrace", PTRACE_ATTACH, os.getppid(), 0, 0)
attempt("ptrace attach of pid 1", "ptrace", PTRACE_ATTACH, 1, 0, 0)
visible = {}
for pid in sorted((p for p in os.listdir("/proc") if p.isdigit()), key=int):
    try:
        argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\\0")
    except OSError:
        continue
    words = [os.path.basename(a.decode()) for a in argv[:2] if a]
    visible[pid] = " ".join(words if words and words[0].startswith("python") else words[:1]) or "?"
print("VERDICT sees only " + ", ".join(f"{name} (pid {pid})" for pid, name in visible.items()), flush=True)
try:
    os.kill(int(@HOSTPID@), 0)
    print("VERDICT BREACH: can signal the host's test process", flush=True)
except OSError as error:
    print(f"VERDICT the host's processes are out of reach ({error.strerror})", flush=True)
environ = open("/proc/1/environ", "rb").read().split(b"\\0")
names = sorted(e.split(b"=", 1)[0].decode() for e in environ if e)
print(f"VERDICT /proc/1/environ: the sandbox's own init ({len(names)} variables)", flush=True)
root = sorted(os.listdir("/proc/1/root"))
same = root == sorted(os.listdir("/"))
print("VERDICT /proc/1/root: " + ("the sandbox's own root" if same else f"BREACH: another root {root}"), flush=True)
print("DETAIL " + json.dumps({"visible": visible, "init_environ": names, "init_root": root}), flush=True)
"""

NAMESPACES = SYSCALLS + """
CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000
attempt("unshare(user, mount)", "unshare", CLONE_NEWUSER | CLONE_NEWNS)
ns = os.open("/proc/1/ns/mnt", os.O_RDONLY)
attempt("setns(/proc/1/ns/mnt)", "setns", ns, 0)
source, target, kind = (ctypes.create_string_buffer(b) for b in (b"none", b"/tmp", b"tmpfs"))
attempt("mount of a tmpfs", "mount", *(ctypes.addressof(b) for b in (source, target, kind)), 0, 0)
KEYCTL_JOIN_SESSION_KEYRING = 1
attempt("keyctl", "keyctl", KEYCTL_JOIN_SESSION_KEYRING, 0)
BPF_MAP_CREATE = 0
attr = ctypes.create_string_buffer(b"\\x02" + bytes(71))  # an array map, all sizes zero: refused before checked
attempt("bpf", "bpf", BPF_MAP_CREATE, ctypes.addressof(attr), 72)
"""

# Opened for writing only, never written: a kernel setting written here would change the host.
KERNEL_SETTINGS = """
import os
for path in ("/proc/sys/kernel/core_pattern", "/proc/sys/vm/drop_caches", "/proc/sysrq-trigger"):
    if not os.path.exists(path):
        print(f"VERDICT {path} absent", flush=True)
        continue
    try:
        os.close(os.open(path, os.O_WRONLY))
        print(f"VERDICT BREACH: {path} can be opened for writing", flush=True)
    except OSError as error:
        print(f"VERDICT {path} read-only ({error.strerror})", flush=True)
"""

SETUID = """
import os, shutil, stat
shutil.copy("/usr/bin/id", "id-copy")
for what, mode in (("setuid", 0o4755), ("setgid", 0o2755)):
    try:
        os.chmod("id-copy", mode)
        print(f"VERDICT BREACH: a {what} file made", flush=True) if os.stat("id-copy").st_mode & mode & 0o6000 else None
    except OSError as error:
        print(f"VERDICT chmod {what}: refused ({error.strerror})", flush=True)
try:
    os.close(os.open("made-setuid", os.O_CREAT | os.O_WRONLY, 0o4755))
    print("VERDICT BREACH: created setuid" if os.stat("made-setuid").st_mode & 0o4000 else "VERDICT created plain")
except OSError as error:
    print(f"VERDICT create setuid: refused ({error.strerror})", flush=True)
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
if libc.mknod(b"mknod-setuid", 0o100000 | 0o4755, 0) == 0:
    print("VERDICT BREACH: mknod made a setuid file", flush=True)
else:
    print(f"VERDICT mknod setuid: refused ({os.strerror(ctypes.get_errno())})", flush=True)
params = ctypes.create_string_buffer(120)  # io_uring's operations would bypass the system-call filter
if libc.syscall(425, 8, params) >= 0:
    print("VERDICT BREACH: io_uring available", flush=True)
else:
    print(f"VERDICT io_uring: refused ({os.strerror(ctypes.get_errno())})", flush=True)
"""

FILE_SYSTEM = """
import json, os, sys
interpreter = {sys.prefix, sys.base_prefix, os.path.dirname(sys.executable)}
def for_python(path):  # on the way to the interpreter, which the sandbox must show
    return any(p == path or p.startswith(path.rstrip("/") + "/") for p in interpreter)
places = {"/etc/shadow": "/etc/shadow", "/root": "/root", "/home": "/home", "the project": @PROJECT@,
          "the data cache": @CACHE@, "the bundle": @BUNDLE@, "the answers": @ANSWERS@}
seen = {}
for what, place in places.items():
    if not os.path.lexists(place):
        seen[what] = "absent"
    elif os.path.isdir(place):
        entries = sorted(os.listdir(place))
        seen[what] = entries
        others = [e for e in entries if not for_python(os.path.join(place, e))]
        if others:
            seen[what] = "BREACH: holds " + ", ".join(others)
        else:
            seen[what] = "only the interpreter's folder" if entries else "empty"
    else:
        try:
            open(place, "rb").read()
            seen[what] = "BREACH: read"
        except OSError as error:
            seen[what] = f"unreadable ({error.strerror})"
print("VERDICT " + "; ".join(f"{what}: {state}" for what, state in seen.items()), flush=True)
print("DETAIL " + json.dumps({"seen": seen}), flush=True)
"""

MANY_FILES = """
import os, time
started = time.monotonic()
os.mkdir("many")
for number in range(100_000):
    fd = os.open(f"many/{number:06d}", os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, b"x")
    os.close(fd)
print(f"VERDICT wrote 100,000 files in {time.monotonic() - started:.0f} s", flush=True)
"""

DESCRIPTORS = """
import json, os
listed = sorted(int(name) for name in os.listdir("/proc/self/fd"))
targets = {}
for fd in listed:
    try:
        targets[fd] = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        pass  # the descriptor the listing itself used, closed by now
beyond = []
for fd in targets:
    try:
        os.listdir(f"/proc/self/fd/{fd}/..")
        beyond.append(fd)
    except OSError:
        pass
names = ", ".join(f"{fd} {path if path.startswith('/dev/') else 'its ' + os.path.basename(path)}"
                  for fd, path in targets.items())
print(f"VERDICT descriptors {names}", flush=True)
print("VERDICT " + (f"BREACH: a folder reached through {beyond}" if beyond else "no folder reachable through them"),
      flush=True)
print("DETAIL " + json.dumps({"descriptors": targets}), flush=True)
"""


def canary_note(host: Host, _root: Path) -> str:
    return "the host's canary file untouched" if host.snapshot()[2] == ["canary.txt"] else "the host folder changed"


def no_metadata(_host: Host, root: Path) -> str:
    written = (root / "prediction" / "output" / "metadata").exists()
    return "BREACH: output/metadata written" if written else "output/ has no metadata: the file stayed in its stage"


def input_intact(host: Host, root: Path) -> str:
    return "the input files on the host unchanged" if input_changes(host, root) == [] else "BREACH: input changed"


def input_changes(host: Host, root: Path) -> list[str]:
    """Input files of the run that differ from the bundle's input data."""
    bundle = Bundle(host.bundle)
    member = bundle.competition["tasks"][0]["input_data"]
    with zipfile.ZipFile(io.BytesIO(bundle.archive.read(member))) as inputs:
        expected = {name: hashlib.sha256(inputs.read(name)).hexdigest() for name in inputs.namelist()
                    if not name.endswith("/")}
    folder = root / "prediction" / "input_data"
    found = {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in folder.rglob("*") if p.is_file()}
    return sorted(name for name in expected.keys() | found.keys() if expected.get(name) != found.get(name))


@contextmanager
def fake_secrets():
    """A token and a cloud key in this process's environment, as a worker or server might hold them."""
    values = {name: f"FAKE-{name.lower()}-{secrets.token_hex(8)}" for name in SECRET_NAMES}
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield values
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def secrets_case(bundle: Path, workdir: Path) -> Outcome:
    with fake_secrets() as values:
        outcome = program_case(PRINT_ENVIRONMENT, constant=True, verdicts=True)(bundle, workdir)
    needles = [*values, *values.values()]
    found = []
    for path in sorted(Path(outcome.facts["root"]).rglob("*")):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found += [f"{path.relative_to(workdir)}: {needle}" for needle in needles if needle.encode() in data]
    outcome.facts["secrets_found"] = found
    outcome.message += "; " + ("BREACH: " + ", ".join(found) if found else "no secret in any log or output")
    return outcome


def shm_case(bundle: Path, workdir: Path) -> Outcome:
    """A first submission leaves a marker in /dev/shm; the host and a second submission must not see it."""
    marker = f"marker-{secrets.token_hex(6)}"
    host = Host(bundle, workdir)
    before = host.snapshot()
    started = time.monotonic()
    first, first_ingestion = submit(bundle, workdir, host.fill(SHM_WRITER.replace("@MARKER@", marker) + CONSTANT))
    on_host = (Path("/dev/shm") / marker).exists()
    second, ingestion = submit(bundle, workdir, host.fill(SHM_READER.replace("@MARKER@", marker) + CONSTANT),
                               run="second")
    outcome = describe(second, ingestion, workdir / "second", host, before, time.monotonic() - started,
                       True, None)
    first_verdicts = verdicts_of(printed(workdir / "run"))
    outcome.message = "; ".join(first_verdicts + ["BREACH: the host's /dev/shm has it" if on_host
                                                  else "the host's /dev/shm does not have it", outcome.message])
    outcome.facts.update(marker=marker, first_scores=first.scores, first_status=first_ingestion.get("status"),
                         first_verdicts=first_verdicts, on_host=on_host,
                         first_survivors=survivors_of(workdir / "run"))
    return outcome


LINK_CASES = {  # name: (attack, script, the path the refusal names, appended CONSTANT)
    "link to the answers": ("predictions.csv: a symbolic link to the host's answers file in the data cache",
                            LINK_TO_ANSWERS, "the predictions folder/predictions.csv: is a symbolic link", False),
    "dangling link": ("predictions.csv: a symbolic link to the scoring job's answers, which do not exist yet",
                      DANGLING_LINK, "the predictions folder/predictions.csv: is a symbolic link", False),
    "link loops": ("two symbolic links to '.' in its working folder", LINK_LOOPS,
                   "the working folder/loop-a: is a symbolic link", True),
    "FIFO predictions": ("predictions.csv: a FIFO (a reader of it would wait forever)", FIFO,
                         "the predictions folder/predictions.csv: is a FIFO", False),
    "hard link": ("a hard link to its own baseline.py in its working folder", HARD_LINK,
                  "the working folder/baseline.py: is a file with 2 hard links", True),
    "socket file": ("a Unix socket bound in its working folder", SOCKET_FILE,
                    "the working folder/listener.sock: is a socket", True),
}

CASES = [
    Case("fork bomb", "forks until it is stopped", f"processes: ran more than {PROCESSES}",
         program_case("import os, time\nwhile True:\n    if os.fork() == 0:\n        time.sleep(60)\n")),
    Case("memory hog", "allocates 2 GB", f"memory: used more than {MEMORY_MB} MB",
         program_case("import time\nblocks = [bytearray(50 * 1024**2) for _ in range(40)]\ntime.sleep(60)\n")),
    Case("print flood", "prints without end", "output: printed more than 2 MB",
         program_case("while True:\n    print('spam' * 250)\n")),
    Case("huge file", "writes a 100 MB file", "file size: tried to write a file larger than 16 MB",
         program_case("open('huge.bin', 'wb').write(bytes(100 * 1024**2))\n")),
    Case("CPU burner", "spins on the CPU", "CPU time: used more than 2 CPU seconds",
         program_case("while True:\n    pass\n")),
    Case("sleeper", "sleeps past the time limit", f"did not finish within the time limit of {TIME_LIMIT} s",
         program_case("import time\ntime.sleep(600)\n")),
    Case("escaped daemon", "double-forks a daemon in a new session, then exits 0", "nothing of it left running",
         program_case("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
                      "        time.sleep(600)\n    os._exit(0)\n", constant=True)),
    Case("parent killer", "sends SIGKILL to its parent and to every process it can see",
         "nothing of it left running",
         program_case("import os, signal\nfor pid in [os.getppid(), 1] + [int(p) for p in os.listdir('/proc') "
                      "if p.isdigit()]:\n    if pid != os.getpid():\n        try:\n            os.kill(pid, 9)\n"
                      "        except OSError:\n            pass\n", constant=True)),
    Case("input vandal", "deletes and overwrites its input data", "input data is read-only",
         program_case("import os, glob\nfor path in glob.glob(os.path.join(os.environ['DATA_DIR'], '*')):\n"
                      "    try:\n        os.remove(path)\n        print('VERDICT BREACH: deleted', path)\n"
                      "    except OSError as error:\n"
                      "        print('VERDICT input data is read-only:', error.strerror)\n        break\n",
                      constant=True, verdicts=True)),
    Case("network", "connects to a server on the host's loopback and to the internet", "host unreachable",
         network_case),
    Case("reserved output", "writes OUTPUT_DIR/../metadata, where output/metadata (which Codabench's worker "
         "reserves) used to be", "output/ has no metadata",
         program_case("import os\nopen(os.path.join(os.environ['OUTPUT_DIR'], '..', 'metadata'), 'w').write('x')\n",
                      constant=True, observe=no_metadata)),
    Case("NaN predictions", "predicts NaN for every row", "predictions.csv",
         program_case(CONSTANT.replace(',0.5', ',nan'))),
    Case("chroot escape", "mkdir x; chroot x with a descriptor of the old root kept; chdir .. 64 times; chroot .; "
         "then reads the data cache, the scoring job's answers folder and the bundle zip by their host paths",
         "chroot refused", program_case(CHROOT_ESCAPE, constant=True, verdicts=True)),
    *(Case(name, attack, expected, program_case(script, constant=constant))
      for name, (attack, script, expected, constant) in LINK_CASES.items()),
    Case("planted links", "symbolic links named ingestion_result.json, logs, stdout.txt, runs and metadata, aimed "
         "at a host file, in its working folder, its predictions folder and the folder above",
         "is a symbolic link", program_case(PLANTED_LINKS, constant=True, observe=canary_note)),
    Case("remount input", "mount(MS_REMOUNT | MS_BIND) of its read-only input folder, then writes its files",
         "remount of the input folder writable: refused",
         program_case(REMOUNT_INPUT, constant=True, verdicts=True, observe=input_intact)),
    Case("memory in children", "8 children started with an empty environment, 100 MB each",
         f"memory: used more than {MEMORY_MB} MB", program_case(MEMORY_CHILDREN)),
    Case("processes in children", "4 children started with an empty environment, each forking 10 more",
         f"processes: ran more than {PROCESSES}", program_case(PROCESS_CHILDREN)),
    Case("/tmp filler", "writes 2 GB into /tmp in 50 MB chunks (files of 10 MB)",
         f"memory: used more than {MEMORY_MB} MB", program_case(TMP_FILLER)),
    Case("/dev/shm marker", "a first submission writes a file into /dev/shm; a second one looks for it",
         "a second run does not see it", shm_case),
    Case("secrets", f"prints its environment while the worker's holds {' and '.join(SECRET_NAMES)}",
         "no secret in any log or output", secrets_case),
    Case("process snooping", "ptrace attach of its parent and of pid 1; lists every process it can see; signals "
         "the host's test process; reads /proc/1/environ, /proc/1/cmdline and /proc/1/root",
         "ptrace attach of its parent: refused", program_case(PROCESS_SNOOPING, constant=True, verdicts=True)),
    Case("namespaces and mounts", "unshare(user, mount), setns into /proc/1/ns/mnt, mount of a tmpfs, keyctl, bpf "
         "(raw system calls)", "unshare(user, mount): refused",
         program_case(NAMESPACES, constant=True, verdicts=True)),
    Case("kernel settings", "opens /proc/sys/kernel/core_pattern, /proc/sys/vm/drop_caches and /proc/sysrq-trigger "
         "for writing (writes nothing)", "core_pattern read-only",
         program_case(KERNEL_SETTINGS, constant=True, verdicts=True)),
    Case("setuid file", "copies /usr/bin/id and makes it setuid or setgid (chmod, created so, mknod); io_uring",
         "chmod setuid: refused", program_case(SETUID, constant=True, verdicts=True)),
    Case("file system snooping", "looks for /etc/shadow, /root, /home, the project, the data cache, the bundle "
         "and the answers file", "/etc/shadow: absent", program_case(FILE_SYSTEM, constant=True, verdicts=True)),
    Case("100,000 files", "writes 100,000 one-byte files into its working folder",
         "more than 20000 files and folders", program_case(MANY_FILES, constant=True)),
    Case("inherited descriptors", "lists /proc/self/fd and climbs out of each descriptor",
         "no folder reachable through them", program_case(DESCRIPTORS, constant=True, verdicts=True)),
    Case("zip slip", "an entry named ../../evil.py", "escapes the target folder",
         archive_case(lambda: zip_of([("baseline.py", b"print(1)", None), ("../../evil.py", b"x", None)])), False),
    Case("absolute path", "an entry named /tmp/evil.py", "has an absolute path",
         archive_case(lambda: zip_of([("/tmp/evil.py", b"x", None)])), False),
    Case("symlink", "an entry that is a symbolic link to /etc/passwd", "is a symbolic link",
         archive_case(lambda: zip_of([("baseline.py", b"/etc/passwd", 0o120777)])), False),
    Case("zip bomb", "200 MB of zeros in a 0.2 MB zip (limit lowered to 50 MB; default 20 GB)",
         "uncompressed, more than the limit", archive_case(lambda: zip_of([("bomb.bin", bytes(200 * 1024**2), None)]),
                                                           max_total_bytes=50 * 1024**2), False),
    Case("too many entries", "5,000 entries (limit lowered to 1,000; default 200,000)", "more than the limit of 1000",
         archive_case(lambda: zip_of([(f"f{i}.txt", b"", None) for i in range(5000)]), max_entries=1000), False),
    Case("not a zip", "random bytes named submission.zip", "not a valid zip file",
         archive_case(lambda: bytes(range(256)) * 10), False),
]


def build_bundle_for_cases(workdir: Path) -> Path:
    """tabular-baseline at the tiny scale, with the lowered limits, from a copy of the project."""
    import yaml

    from bundlegen.build import build_bundle
    from bundlegen.definition import load_task
    from conftest import copy_project

    project = copy_project(workdir / "project")
    path = project.bundles_dir / TASK / "bundle.yaml"
    definition = yaml.safe_load(path.read_text())
    definition["submission"].update(LOWERED)
    path.write_text(yaml.safe_dump(definition, sort_keys=False))
    return build_bundle(load_task(path.parent, project), workdir / "dist", scale_name="tiny",
                        cache_dir=workdir / "cache", log=lambda _m: None)


def markdown_table(outcomes: list[tuple[Case, Outcome]]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")[:400]
    lines = ["| case | what the submission does | what happened | message |", "| --- | --- | --- | --- |"]
    lines += [f"| {case.name} | {cell(case.attack)} | {cell(outcome.what_happened)} | {cell(outcome.message) or '-'} |"
              for case, outcome in outcomes]
    return "\n".join(lines) + "\n"


def write_report(target: Path) -> None:
    import tempfile

    from programlib.sandbox import probe

    problem = probe()
    if problem:
        raise SystemExit(f"cannot run the hostile cases: {problem}")
    with tempfile.TemporaryDirectory(prefix="hostile-") as folder:
        root = Path(folder)
        bundle = build_bundle_for_cases(root)
        outcomes = []
        started = time.monotonic()
        for number, case in enumerate(CASES):
            print(f"[{number + 1}/{len(CASES)}] {case.name}", flush=True)
            workdir = root / f"case{number}"
            workdir.mkdir()
            outcomes.append((case, case.run(bundle, workdir)))
        print(f"{len(CASES)} cases in {time.monotonic() - started:.0f} s")
    text = target.read_text() if target.exists() else ""
    head = text.split(TABLE_START)[0] if TABLE_START in text else DEFAULT_HEAD
    target.parent.mkdir(parents=True, exist_ok=True)
    runner = "root" if os.getuid() == 0 else f"uid {os.getuid()}"
    target.write_text(head + TABLE_START + "\n\n" + f"Sandbox: bubblewrap, seccomp, one cgroup per run; the worker "
                      f"ran as {runner}.\n\n" + markdown_table(outcomes) + "\n" + TABLE_END + "\n")


TABLE_START = "<!-- generated by `python tests/hostile_cases.py`: do not edit below -->"
TABLE_END = "<!-- end of the generated table -->"
DEFAULT_HEAD = "# Reliability\n\n"

if __name__ == "__main__":
    write_report(HERE.parent / "docs" / "reliability.md")
    print("wrote docs/reliability.md")
