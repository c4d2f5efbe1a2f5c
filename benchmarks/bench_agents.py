"""What running an agent through agentlib costs: staging its home, the sandbox, copying out and grading, against
running the same start command bare.

Two agents on the tiny tabular-baseline bundle (a code task): `sample`, a minimal agent that copies the kit's
sample submission (what is left is almost pure overhead), and tests/agents/scripted-coder (writes two training
programs, runs them, submits the better: a real agent's shape). Sandboxed: `run_agent` (staging + the confined
run + copy-out) and `grade_rollout` (the local compute worker on its submission). Baseline, in the same run: the
home staged the same way, then the agent's start command run as a plain subprocess in it (no bubblewrap, no
cgroup, no launcher), with the same variables, on the same CPUs. Interleaved, the best of REPEATS on each side.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
import time
from pathlib import Path

from run import Measure

from agentlib.definition import AgentDefinition, load_agent
from agentlib.home import stage_home
from agentlib.rollout import Rollout
from agentlib.run import agent_environment, grade_rollout, run_agent
from bundlegen.build import build_bundle
from bundlegen.definition import load_all
from programlib.runner import allowed_environment
from programlib.sandbox import probe

ROOT = Path(__file__).resolve().parent.parent
TASK = "tabular-baseline"
REPEATS = 3
SAMPLE_AGENT = """\
    id: sample
    description: copies the starting kit's sample submission (the overhead of an agent that does nothing)
    start: main.py
    time_limit: 120
    resources: {cpus: 1, memory_gb: 2}
    """
SAMPLE_MAIN = """\
import os, shutil
shutil.copytree("../starting_kit/sample_submission", os.environ["SUBMISSION_DIR"], dirs_exist_ok=True)
"""


def quiet(_message: str) -> None:
    pass


def agents(workdir: Path) -> dict[str, AgentDefinition]:
    (workdir / "agents" / "sample").mkdir(parents=True)
    (workdir / "agents" / "sample" / "agent.yaml").write_text(textwrap.dedent(SAMPLE_AGENT))
    (workdir / "agents" / "sample" / "main.py").write_text(SAMPLE_MAIN)
    return {"sample": load_agent(workdir / "agents" / "sample"),
            "scripted-coder": load_agent(ROOT / "tests" / "agents" / "scripted-coder")}


def timed(run) -> tuple[float, object]:
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def bare(agent: AgentDefinition, bundle: Path, folder: Path) -> tuple[float, float]:
    """(seconds to stage the home, seconds of the start command run bare in it)."""
    variant = agent.variant()
    staging, facts = timed(lambda: stage_home(bundle, folder / "home", agent, time_limit=agent.model.time_limit))
    record = Rollout(folder=folder, agent=agent.id, variant="default", task=TASK, bundle=bundle.name)
    variables = agent_environment(agent, variant, facts, agent.model.time_limit, folder / "home", {}, record)
    cpus = sorted(os.sched_getaffinity(0))[:agent.model.resources.cpus]  # as the launcher keeps it: the same CPUs
    seconds, done = timed(lambda: subprocess.run(agent.command(variant), cwd=folder / "home" / "agent",
                                                 env=allowed_environment(variables), capture_output=True,
                                                 preexec_fn=lambda: os.sched_setaffinity(0, cpus)))
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    assert any((folder / "home" / "submission").iterdir()), "the bare run submitted nothing"
    shutil.copytree(folder / "home" / "logs", folder / "logs")  # to read afterwards, as a rollout's
    shutil.rmtree(folder / "home")
    return staging, seconds


def sandboxed(agent: AgentDefinition, bundle: Path, folder: Path, grade: bool) -> dict:
    total, rollout = timed(lambda: run_agent(agent, None, bundle, folder, log=quiet))
    assert rollout.status == "completed", rollout.message
    times = {"run_agent": total, "process": rollout.wall_seconds}
    if grade:
        times["grade"], result = timed(lambda: grade_rollout(rollout, bundle, log=quiet))
        assert result["status"] == "graded", result
        times["score"] = result["score"]
    return times


def measure(agent: AgentDefinition, bundle: Path, workdir: Path) -> dict:
    runs, bares = [], []
    for i in range(REPEATS):  # interleaved, so both sides see the same machine
        runs.append(sandboxed(agent, bundle, workdir / f"{agent.id}-{i}", grade=i == 0))
        bares.append(bare(agent, bundle, workdir / f"{agent.id}-bare-{i}"))
    best = {key: min(run[key] for run in runs) for key in ("run_agent", "process")}
    return {**runs[0], **best, "stage_bare": min(b[0] for b in bares), "bare": min(b[1] for b in bares)}


def table(results: dict[str, dict]) -> None:
    print(f"   {'agent':<16}{'bare stage':>11}{'bare run':>10}{'run_agent':>11}{'sandboxed':>11}{'overhead':>10}"
          f"{'grade':>8}{'score':>7}")
    for name, r in results.items():
        print(f"   {name:<16}{r['stage_bare']:>10.2f}s{r['bare']:>9.2f}s{r['run_agent']:>10.2f}s"
              f"{r['process']:>10.2f}s{r['run_agent'] - r['bare']:>9.2f}s{r['grade']:>7.1f}s{r['score']:>7.3f}")


def bench(workdir: Path) -> list[Measure]:
    problem = probe()
    assert problem is None, problem
    bundle = build_bundle(load_all()[TASK], workdir / "dist", scale_name="tiny", cache_dir=workdir / "cache",
                          log=quiet)
    results = {name: measure(agent, bundle, workdir) for name, agent in agents(workdir).items()}
    table(results)
    sample, coder = results["sample"], results["scripted-coder"]
    return [
        Measure("agent run overhead, sample agent (tiny)", sample["run_agent"] - sample["bare"], "s",
                "same command run bare", sample["bare"], "< 1.0 s over a bare run",
                sample["run_agent"] - sample["bare"] < 1.0),
        # The programs it runs pay the sandbox once each (seccomp on every system call, the cgroup's accounting);
        # a shared machine's noise is of the same order, hence the relative part.
        Measure("agent run overhead, scripted coder (tiny)", coder["run_agent"] - coder["bare"], "s",
                "same command run bare", coder["bare"], "< 15% + 1.0 s over a bare run",
                coder["run_agent"] < coder["bare"] * 1.15 + 1.0),
        Measure("sandboxed process, scripted coder", coder["process"], "s", "same command run bare", coder["bare"],
                "< 15% + 0.5 s over a bare run", coder["process"] < coder["bare"] * 1.15 + 0.5),
        Measure("grade_rollout, scripted coder (tiny)", coder["grade"], "s", "same command run bare", coder["bare"],
                "< 30 s", coder["grade"] < 30.0),
    ]
