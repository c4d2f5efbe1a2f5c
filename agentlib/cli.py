"""The agents' command line.

    python -m agentlib list [--agents DIR]
    python -m agentlib run --agent dummy --bundle dist/churn-spec.zip --out runs/dummy-churn
                           [--variant NAME] [--time-limit S] [--no-grade] [--no-sandbox] [--agents DIR]
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from .definition import AGENTS_DIR, AgentError, find_agent, load_agents
from .run import RolloutError, grade_rollout, run_agent

AGENTS_OPTION = click.option("--agents", "agents_dir", type=click.Path(file_okay=False, path_type=Path),
                             default=AGENTS_DIR, show_default=True, help="The folder of agent definitions.")


def fail(message: str) -> None:
    click.secho(message, fg="red", err=True)
    sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Agents on Codabench bundles: prepare → agent → grade, with MLE-bench's agent contract."""


@cli.command("list")
@AGENTS_OPTION
def list_agents(agents_dir: Path) -> None:
    """The agents found under agents/ (every agent.yaml is checked)."""
    try:
        agents = load_agents(agents_dir)
    except AgentError as error:
        fail("invalid agent definition(s):\n" + "\n".join(f"  {p}" for p in error.problems))
    for agent in agents.values():
        model = agent.model
        click.echo(f"{agent.id}: {' '.join(model.description.split())}")
        click.echo(f"    variants: {', '.join(agent.variant_names())}; time limit {model.time_limit:g} s; "
                   f"network {model.network}; {model.resources.cpus} CPU, {model.resources.memory_gb:g} GB, "
                   f"{model.resources.gpus} GPU" + (f"; env: {', '.join(model.env_vars)}" if model.env_vars else ""))


@cli.command("run")
@click.option("--agent", "agent_id", required=True, help="The agent's id (its folder under agents/).")
@click.option("--bundle", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The rollout's folder (new or empty).")
@click.option("--variant", default="default", show_default=True)
@click.option("--time-limit", type=float, help="Seconds for the agent (default: its variant's or definition's).")
@click.option("--no-grade", is_flag=True, help="Run the agent only.")
@click.option("--no-sandbox", is_flag=True, help="Run the agent WITHOUT isolation (said in rollout.json).")
@AGENTS_OPTION
def run(agent_id: str, bundle: Path, out: Path, variant: str, time_limit: float | None, no_grade: bool,
        no_sandbox: bool, agents_dir: Path) -> None:
    """Run one agent on one bundle's task, then grade its submission with the bundle's own programs."""
    try:
        agent = find_agent(agent_id, agents_dir)
        rollout = run_agent(agent, variant, bundle, out, time_limit=time_limit, sandbox=not no_sandbox, log=click.echo)
    except (AgentError, RolloutError) as error:
        fail(str(error))
    click.echo(f"rollout: {rollout.folder} (wall {rollout.wall_seconds:.1f} s, peak memory "
               f"{rollout.peak_memory_mb if rollout.peak_memory_mb is not None else '?'} MB)")
    if rollout.status == "sandbox_unavailable":
        fail(rollout.message)
    if not no_grade:
        grade = grade_rollout(rollout, bundle, sandbox=not no_sandbox, log=click.echo)
        click.echo(describe_grade(grade))
    sys.exit(0 if rollout.ok and (no_grade or rollout.grade.get("status") == "graded") else 1)


def describe_grade(grade: dict) -> str:
    if grade["status"] != "graded":
        return f"grade: {grade['status']}: {grade.get('error') or grade.get('message')}"
    where = f" ({grade['placement']})" if grade.get("placement") else ""
    return f"grade: {grade['primary']} = {grade['score']:.4f}{where}"
