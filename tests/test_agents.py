"""Agents: definitions (agents/<id>/agent.yaml), real sandboxed rollouts graded by the bundle's own programs, and
agents that misbehave (crash, overrun, write nothing, hunt for the answers, plant a link), each with a clear end."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from agentlib.definition import AgentError, load_agent, load_agents
from agentlib.run import grade_rollout, run_agent
from bundlegen.bundle_format import reference_solution, sample_submission
from bundlegen.worker import Bundle, run_submission
from conftest import ROOT, processes_with, quiet
from programlib.runner import GRACE_SECONDS
from programlib.sandbox import probe

RESULTS_TASK, CODE_TASK = "churn-spec", "eda-notebook"  # bundle.yaml submission.kind: results, code
needs_sandbox = pytest.mark.skipif(probe() is not None, reason=f"bubblewrap cannot confine agents here: {probe()}")


def direct_score(bundle: Path, kind: str, workdir: Path) -> float:
    """The primary score of the sample or reference submission run straight through the local worker."""
    opened = Bundle(bundle)
    if kind == "reference":
        submission = reference_solution(opened, workdir / "solution")
    else:
        submission = sample_submission(opened, workdir / "sample" / "submission", [])  # the kit's sample_submission/
    run = run_submission(bundle, submission, workdir=workdir / "run", log=quiet)
    assert run.ok, run.error
    return run.scores[opened.info["primary"]]


@pytest.fixture(scope="module")
def graded(tiny_bundle, tmp_path_factory):
    """graded(task, agent) → (rollout, the score the same submission gets straight through run_submission)."""
    done: dict = {}
    direct: dict = {}

    def get(task: str, agent: str):
        if (task, agent) not in done:
            bundle = tiny_bundle(task)
            rollout = run_agent(agent, "default", bundle, tmp_path_factory.mktemp(f"{agent}-{task}"), log=quiet)
            grade_rollout(rollout, bundle, log=quiet)
            kind = "reference" if agent == "reference" else "sample"
            if (task, kind) not in direct:
                direct[task, kind] = direct_score(bundle, kind, tmp_path_factory.mktemp(f"direct-{kind}-{task}"))
            done[task, agent] = rollout, direct[task, kind]
        return done[task, agent]

    return get


def make_agent(folder: Path, agent_id: str, definition: str, files: dict[str, str] | None = None):
    (folder / agent_id).mkdir(parents=True)
    (folder / agent_id / "agent.yaml").write_text(f"id: {agent_id}\ndescription: a test agent\n"
                                                   + textwrap.dedent(definition))
    for name, text in (files or {}).items():
        (folder / agent_id / name).write_text(textwrap.dedent(text))
    return load_agent(folder / agent_id)


# ---------------------------------------------------------------------------------------------------------
# Definitions


def test_builtin_agents_load():
    agents = load_agents()
    assert {"dummy", "reference", "starting-kit"} <= set(agents)
    assert agents["reference"].model.materials == ["reference_solution"]
    assert agents["starting-kit"].variant_names() == ["default", "no-check"]
    assert agents["starting-kit"].command(agents["starting-kit"].variant("no-check")) == [
        "python", "main.py", "--check", "false"]


def test_a_bad_definition_names_the_file_and_every_field(tmp_path):
    (tmp_path / "bad").mkdir()
    path = tmp_path / "bad" / "agent.yaml"
    path.write_text(textwrap.dedent("""\
        id: other
        description: broken in many ways
        start: missing.py
        colour: red
        resources: {cpus: 0}
        network: internet
        env_vars: [OPENAI_API_KEY, "BAD-NAME", SUBMISSION_DIR]
        variants:
          fast: {time_limit: -5, env: {PATH: /evil, STEPS: [1]}}
        """))
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "agent.yaml").write_text("id: good\ndescription: fine\nstart: [python, -c, pass]\n")
    with pytest.raises(AgentError) as caught:
        load_agents(tmp_path)
    problems = caught.value.problems  # every one at once, each with the file and the field
    for field in ("colour: unknown field", "resources.cpus:", "network:", "variants.fast.time_limit:",
                  "id: 'other' must equal", "start: file 'missing.py' not found", "env_vars[1]: 'BAD-NAME'",
                  "env_vars[2]: SUBMISSION_DIR is reserved", "variants.fast.env.PATH: PATH is reserved",
                  "variants.fast.env.STEPS: a string, number or boolean"):
        assert sum(p.startswith(f"{path}: {field}") for p in problems) == 1, (field, problems)
    assert len(problems) == 10, problems


# ---------------------------------------------------------------------------------------------------------
# The built-in agents, graded end to end


@needs_sandbox
@pytest.mark.parametrize("task", [RESULTS_TASK, CODE_TASK])
def test_dummy_submits_the_sample_and_cannot_read_private_data(graded, task):
    rollout, direct = graded(task, "dummy")
    assert rollout.status == "completed", rollout.message
    log = (rollout.folder / "logs" / "dummy.log").read_text()
    assert "user: uid 65534 (not root)" in log and f"python: {sys.version.split()[0]}" in log
    assert "none exists or is readable" in log and "nothing that looks like answers" in log
    assert "/home/data is read-only" in log and "beside it: nothing" in log
    assert rollout.grade["status"] == "graded" and rollout.grade["score"] == direct
    assert rollout.protections["sandbox"].startswith("bubblewrap") and rollout.protections["network"] == "off"
    assert json.loads((rollout.folder / "rollout.json").read_text())["grade"]["score"] == direct


@needs_sandbox
@pytest.mark.parametrize("task", [RESULTS_TASK, CODE_TASK])
def test_reference_agent_reaches_the_reference_score(graded, tiny_bundle, task):
    rollout, direct = graded(task, "reference")
    assert rollout.status == "completed", rollout.message
    assert rollout.grade["score"] == direct
    thresholds = Bundle(tiny_bundle(task)).info["thresholds"]
    assert rollout.grade["score"] >= thresholds["reference"], rollout.grade


@needs_sandbox
@pytest.mark.parametrize("task", [RESULTS_TASK, CODE_TASK])
def test_starting_kit_agent_submits_what_the_kit_says(graded, task):
    rollout, direct = graded(task, "starting-kit")
    assert rollout.status == "completed", rollout.message
    assert rollout.grade["score"] == direct
    expected = {"churn-spec": ["spec.md"], "eda-notebook": ["eda.ipynb"]}[task]
    assert rollout.submission_files == expected
    if task == CODE_TASK:  # run once on the public data first, as the kit's README asks
        assert "check run on the public data: ok" in (rollout.folder / "agent_stdout.txt").read_text()
        assert "check_run/executed_eda.ipynb" in rollout.code_files


# ---------------------------------------------------------------------------------------------------------
# Agents that misbehave


@needs_sandbox
def test_an_agent_that_crashes_fails_with_its_exit_code_and_error(tiny_bundle, tmp_path):
    agent = make_agent(tmp_path / "agents", "crasher", """\
        start: [python, -c, "import sys; print('model diverged', file=sys.stderr); sys.exit(3)"]
        """)
    rollout = run_agent(agent, None, tiny_bundle(RESULTS_TASK), tmp_path / "rollout", log=quiet)
    assert rollout.status == "failed" and rollout.exit_code == 3
    assert "exited with code 3" in rollout.message and "model diverged" in rollout.message
    assert grade_rollout(rollout, tiny_bundle(RESULTS_TASK), log=quiet)["status"] == "not_graded"


@needs_sandbox
def test_an_agent_past_its_time_limit_is_stopped_with_everything_it_started(tiny_bundle, tmp_path):
    token = f"agent-overrun-{tmp_path.name}"
    agent = make_agent(tmp_path / "agents", "sleeper", f"""\
        start: [python, main.py, {token}]
        time_limit: 1.5
        """, {"main.py": """\
        import signal, subprocess, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # deaf to the polite signal: SIGKILL must follow
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", sys.argv[1]], start_new_session=True)
        open("/home/submission/partial.md", "w").write("half done")
        print("sleeping", flush=True)
        time.sleep(300)
        """})
    started = time.monotonic()
    rollout = run_agent(agent, None, tiny_bundle(RESULTS_TASK), tmp_path / "rollout", log=quiet)
    assert time.monotonic() - started < 1.5 + GRACE_SECONDS + 6
    assert rollout.status == "timed_out" and rollout.exit_code is None
    assert "time limit of 1.5 s" in rollout.message
    assert rollout.submission_files == ["partial.md"]  # what it left by then is kept (and graded, MLE-bench-style)
    assert processes_with(token) == []


@needs_sandbox
def test_an_agent_that_writes_nothing_has_no_submission(tiny_bundle, tmp_path):
    agent = make_agent(tmp_path / "agents", "idle", "start: [python, -c, \"print('thinking...')\"]\n")
    rollout = run_agent(agent, None, tiny_bundle(CODE_TASK), tmp_path / "rollout", log=quiet)
    assert rollout.status == "no_submission" and rollout.exit_code == 0
    assert "left nothing in /home/submission/" in rollout.message
    assert grade_rollout(rollout, tiny_bundle(CODE_TASK), log=quiet)["status"] == "not_graded"


THIEF = """\
import hashlib, json, os
targets, secrets = TARGETS, SECRETS
attempts = {}
for path in targets:  # straight at them: the host paths of the answers and of the bundle
    try:
        with open(path, "rb") as handle:
            open("/home/submission/stolen", "wb").write(handle.read())
        attempts[path] = "read"
    except OSError as error:
        attempts[path] = type(error).__name__
found = []  # then everywhere it can see: any file with an answer file's size and hash
sizes = {size for size, _ in secrets}
for folder, subfolders, files in os.walk("/", onerror=lambda error: None):
    subfolders[:] = [s for s in subfolders if os.path.join(folder, s) not in ("/proc", "/sys", "/dev")]
    for name in files:
        path = os.path.join(folder, name)
        try:
            if not os.path.islink(path) and os.path.getsize(path) in sizes:
                if [os.path.getsize(path), hashlib.sha256(open(path, "rb").read()).hexdigest()] in secrets:
                    found.append(path)
        except OSError:
            pass
json.dump({"attempts": attempts, "found": found}, open("/home/logs/attempts.json", "w"))
"""


@needs_sandbox
def test_an_agent_cannot_read_the_answers(tiny_bundle, tmp_path):
    bundle = tiny_bundle(RESULTS_TASK)
    answers = tmp_path / "answers"  # on the host, beside the rollout: what a careless runner would leave around
    with zipfile.ZipFile(bundle) as archive:
        archive.extract("reference_data.zip", answers)
    with zipfile.ZipFile(answers / "reference_data.zip") as inner:
        inner.extractall(answers / "ref")
    files = [p for p in sorted((answers / "ref").rglob("*")) if p.is_file()]
    secrets = [[p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest()] for p in files]
    targets = [str(p) for p in files] + [str(bundle), str(answers / "reference_data.zip"), "/home/../answers"]
    assert files and all(Path(t).exists() for t in targets[:-1])
    decoy = "a file the walk must find: proof that it looks everywhere it can"
    secrets.append([len(decoy), hashlib.sha256(decoy.encode()).hexdigest()])
    script = THIEF.replace("TARGETS", repr(targets)).replace("SECRETS", repr(secrets))
    agent = make_agent(tmp_path / "agents", "thief", "start: main.py\n", {"main.py": script, "decoy.txt": decoy})
    rollout = run_agent(agent, None, bundle, tmp_path / "rollout", log=quiet)
    seen = json.loads((rollout.folder / "logs" / "attempts.json").read_text())
    assert set(seen["attempts"].values()) == {"FileNotFoundError"}, seen  # not even there, let alone readable
    assert seen["found"] == ["/home/agent/decoy.txt"], seen["found"]  # its home, only where it is bound
    assert rollout.status == "no_submission"


@needs_sandbox
def test_a_link_the_agent_plants_never_leaves_the_sandbox(tiny_bundle, tmp_path):
    agent = make_agent(tmp_path / "agents", "linker", """\
        start: [bash, -c, "echo ok > /home/code/notes.txt; ln -s /etc/passwd /home/submission/spec.md"]
        """)
    rollout = run_agent(agent, None, tiny_bundle(RESULTS_TASK), tmp_path / "rollout", log=quiet)
    assert rollout.status == "failed" and "spec.md: is a symbolic link" in rollout.message
    assert rollout.submission_files == [] and rollout.code_files == ["notes.txt"]


@needs_sandbox
def test_the_contract_variables_variant_and_env_vars(tiny_bundle, tmp_path):
    agent = make_agent(tmp_path / "agents", "contract", """\
        start: main.py
        env_vars: [MLEB_TEST_API_KEY, MLEB_TEST_UNSET]
        variants:
          fast: {kwargs: {steps: 5}, env: {STEP_LIMIT: 5}, time_limit: 30}
        """, {"main.py": """\
        import json, os, sys
        names = ("SUBMISSION_DIR", "LOGS_DIR", "CODE_DIR", "AGENT_DIR", "COMPETITION_ID", "TIME_LIMIT_SECS",
                 "STEP_LIMIT", "MLEB_TEST_API_KEY", "MLEB_TEST_UNSET", "MLEB_TEST_SECRET")
        seen = {name: os.environ.get(name) for name in names}
        seen.update(argv=sys.argv[1:], cwd=os.environ.get("PWD"), data=sorted(os.listdir("/home/data")))
        json.dump(seen, open(os.path.join(os.environ["LOGS_DIR"], "seen.json"), "w"))
        """})
    env = {"MLEB_TEST_API_KEY": "sk-test", "MLEB_TEST_SECRET": "never"}
    rollout = run_agent(agent, "fast", tiny_bundle(RESULTS_TASK), tmp_path / "rollout", env=env, log=quiet)
    seen = json.loads((rollout.folder / "logs" / "seen.json").read_text())
    assert seen["SUBMISSION_DIR"] == "/home/submission" and seen["AGENT_DIR"] == "/home/agent"
    assert seen["COMPETITION_ID"] == RESULTS_TASK and seen["TIME_LIMIT_SECS"] == "30" and seen["STEP_LIMIT"] == "5"
    assert seen["argv"] == ["--steps", "5"] and seen["cwd"] == "/home/agent"
    assert seen["MLEB_TEST_API_KEY"] == "sk-test" and seen["MLEB_TEST_SECRET"] is None
    assert "description.md" in seen["data"] and not any("reference" in name for name in seen["data"])
    assert rollout.env_passed == ["MLEB_TEST_API_KEY"] and rollout.env_missing == ["MLEB_TEST_UNSET"]
    assert "sk-test" not in (rollout.folder / "rollout.json").read_text()  # names only, never the values


BOUND = """\
import json, os, sys
facts = {"home_is_link": os.path.islink("/home"), "host_home": os.path.exists(sys.argv[1]),
         "realpath": os.path.realpath("/home/submission"), "mounts": sorted(
             line.split()[4] for line in open("/proc/self/mountinfo") if line.split()[4].startswith("/home")),
         "gpus": sorted(name for name in os.listdir("/dev") if name.startswith("nvidia"))}
for path in ("/home/data/new.txt", "/home/new.txt", "/home/instructions.txt"):
    try:
        open(path, "a").close()
        facts[path] = "written"
    except OSError as error:
        facts[path] = error.strerror
block = bytearray(160 * 1024**2)
block[::4096] = b"x" * (len(block) // 4096)  # touched: the kernel charges every page
for name in ("submission", "code", "logs"):
    open(f"/home/{name}/{name}.txt", "w").write(name)
json.dump(facts, open("/home/logs/facts.json", "w"))
"""


@needs_sandbox
def test_the_home_is_bound_at_home_and_what_the_agent_writes_lands_in_the_rollout(tiny_bundle, tmp_path):
    staged = tmp_path / "rollout" / "home"  # where run_agent stages it on the host
    agent = make_agent(tmp_path / "agents", "binder", f"start: [python, main.py, {str(staged)!r}]\n",
                       {"main.py": BOUND})
    rollout = run_agent(agent, None, tiny_bundle(RESULTS_TASK), tmp_path / "rollout", log=quiet)
    assert rollout.status == "completed", rollout.message
    facts = json.loads((rollout.folder / "logs" / "facts.json").read_text())
    assert facts["home_is_link"] is False and facts["host_home"] is False  # a real mount; its host path unseen
    assert facts["realpath"] == "/home/submission" and facts["gpus"] == []
    assert facts["mounts"] == ["/home", "/home/agent", "/home/code", "/home/logs", "/home/submission"]
    assert {facts[path] for path in ("/home/data/new.txt", "/home/new.txt", "/home/instructions.txt")} == {
        "Read-only file system"}
    assert (rollout.submission_files, rollout.code_files) == (["submission.txt"], ["code.txt"])
    assert (rollout.folder / "submission" / "submission.txt").read_text() == "submission"
    assert rollout.protections["gpus"].startswith("none") and not staged.exists()  # staged home removed after
    if "cgroup" in rollout.protections["limits"]:  # the kernel's high-water mark, not a sample
        assert rollout.protections["peak_memory"].startswith("its cgroup's high-water mark")
        assert 160 <= rollout.peak_memory_mb < 2 * 1024, rollout.peak_memory_mb


SCRIPTED_CODER = ROOT / "tests" / "agents" / "scripted-coder"
CODER_TASK = "tabular-baseline"  # a code task: the platform runs the submitted baseline.py on hidden data


@needs_sandbox
def test_a_scripted_coder_writes_runs_and_submits_its_own_training_code(tiny_bundle, tmp_path):
    bundle = tiny_bundle(CODER_TASK)
    rollout = run_agent(load_agent(SCRIPTED_CODER), None, bundle, tmp_path / "rollout", log=quiet)
    assert rollout.status == "completed", rollout.message
    assert rollout.submission_files == ["README.md", "baseline.py"]
    assert {"README.md", "attempt_1.py", "attempt_2.py", "run_2/predictions.csv"} <= set(rollout.code_files)
    assert {"steps.log", "run_1.log", "run_2.log"} <= set(rollout.log_files)
    steps = (rollout.folder / "logs" / "steps.log").read_text()
    for said in ("read /home/instructions.txt", "read /home/data/description.md", "a code task (baseline.py)",
                 "attempt 1 ran: cross-validated roc_auc", "submitted attempt", "done"):
        assert said in steps, steps
    # The format check is called only where the home has one, and what it said is logged either way.
    assert "format not checked" in steps or "validate_submission.sh: exit code" in steps, steps
    submitted = (rollout.folder / "submission" / "baseline.py").read_text()
    assert submitted in {(rollout.folder / "code" / f"attempt_{i}.py").read_text() for i in (1, 2)}
    assert 0 < rollout.wall_seconds < rollout.time_limit
    grade = grade_rollout(rollout, bundle, log=quiet)
    assert grade["status"] == "graded", grade
    assert grade["score"] > Bundle(bundle).info["thresholds"]["trivial"], grade
    assert json.loads((rollout.folder / "rollout.json").read_text())["wall_seconds"] == rollout.wall_seconds


def test_without_the_sandbox_only_when_asked_and_said_loudly(tiny_bundle, tmp_path):
    agent = make_agent(tmp_path / "agents", "plain", """\
        start: [bash, -c, 'echo "# spec" > "$SUBMISSION_DIR/spec.md"']
        """)
    rollout = run_agent(agent, None, tiny_bundle(RESULTS_TASK), tmp_path / "rollout", sandbox=False, log=quiet)
    assert rollout.status == "completed", rollout.message
    assert rollout.protections["sandbox"] == "none (--no-sandbox was given)"
    assert any("WITHOUT isolation" in warning for warning in rollout.warnings)


# ---------------------------------------------------------------------------------------------------------
# The command line


@needs_sandbox
def test_cli_runs_and_grades_the_dummy(tiny_bundle, tmp_path):
    done = subprocess.run([sys.executable, "-m", "agentlib", "run", "--agent", "dummy", "--bundle",
                           str(tiny_bundle(RESULTS_TASK)), "--out", str(tmp_path / "rollout")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[dummy] completed" in done.stdout and "grade: score = 0.0000" in done.stdout
    assert json.loads((tmp_path / "rollout" / "rollout.json").read_text())["grade"]["status"] == "graded"
