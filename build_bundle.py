#!/usr/bin/env python3
"""Build, validate and run Codabench competition bundles for machine-learning engineering tasks.

    python build_bundle.py list
    python build_bundle.py build TASK [--scale tiny|small|full] [--raw-data DIR] [--out dist/]
    python build_bundle.py build --all
    python build_bundle.py validate dist/TASK.zip
    python build_bundle.py run dist/TASK.zip --submission SUB.zip [--phase N]
    python build_bundle.py bundles            # build, validate and score every task's solution
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from bundlegen.build import build_bundle, build_with_data_keys
from bundlegen.data import PrepareError
from bundlegen.datasets import DataKeysError
from bundlegen.render import RenderError
from bundlegen.definition import SCALES, DefinitionError, load_all
from bundlegen.validate import validate_bundle
from bundlegen.worker import RunResult, WorkerError, placement, run_submission
from programlib.safe_yaml import YamlError


# What building a task can fail with, each a message naming the file: never a traceback for the user.
BUILD_ERRORS = (DefinitionError, PrepareError, DataKeysError, YamlError, RenderError, OSError)


def build_error(error: Exception) -> str:
    if isinstance(error, OSError) and not isinstance(error, FileNotFoundError):
        return f"cannot write the bundle: {error}"
    return str(error)


def fail(message: str) -> None:
    click.secho(message, fg="red", err=True)
    sys.exit(1)


def load_tasks():
    try:
        return load_all()
    except DefinitionError as error:
        fail("invalid task definition(s):\n" + "\n".join(f"  {p}" for p in error.problems))


NO_SANDBOX = click.option("--no-sandbox", is_flag=True, help="Run participant code WITHOUT isolation (bubblewrap, "
                          "cgroups); only where the sandbox cannot run and you trust the code. Said in the output "
                          "and in ingestion_result.json.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Codabench bundles for ML-engineering tasks: build, validate, run locally."""


@cli.command("list")
def list_tasks() -> None:
    """The tasks found under bundles/."""
    for task_id, task in load_tasks().items():
        click.echo(f"{task_id:<32} {task.model.submission.kind:<8} {task.model.title}")


class BuildCommand(click.Command):
    """`build --help` ends with what each task's --raw-data folder must hold (`raw_data` in its bundle.yaml)."""

    def format_epilog(self, ctx, formatter) -> None:
        super().format_epilog(ctx, formatter)
        try:
            tasks = load_all()
        except (DefinitionError, YamlError):
            return  # `build` itself reports the broken definitions
        with formatter.section("What --raw-data DIR must hold, per task"):
            formatter.write_dl([(task_id, task.model.raw_data_help) for task_id, task in tasks.items()])


@cli.command(cls=BuildCommand)
@click.argument("tasks", nargs=-1)
@click.option("--all", "build_all", is_flag=True, help="Build every task.")
@click.option("--scale", type=click.Choice(SCALES), help="Data scale (default: the task's, usually small).")
@click.option("--seed", type=int, help="Data seed (default: the task's).")
@click.option("--raw-data", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Split this real raw data instead of generating synthetic data (what the folder must hold, "
                   "per task: below).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("dist"), show_default=True)
@click.option("--data-keys", type=click.Path(dir_okay=False, path_type=Path),
              help="Keep the data out of the bundle, as datasets uploaded once: a first build writes the dataset zips "
                   "and this keys file to fill in; the next one references the keys.")
def build(tasks, build_all, scale, seed, raw_data, out, data_keys) -> None:
    """Build dist/TASK.zip for each TASK (byte-identical for the same definition, scale and seed)."""
    known = load_tasks()
    if build_all == bool(tasks):
        fail("name the tasks to build, or --all")
    if (raw_data is not None or data_keys is not None) and (build_all or len(tasks) > 1):
        fail("--raw-data and --data-keys belong to one task: build that task alone")
    unknown = [t for t in tasks if t not in known]
    if unknown:
        fail(f"unknown task(s): {', '.join(unknown)} (known: {', '.join(known)})")
    for task_id in known if build_all else tasks:
        try:
            if data_keys is None:
                build_bundle(known[task_id], out, scale_name=scale, seed=seed, raw_dir=raw_data)
            else:
                build_with_data_keys(known[task_id], out, data_keys, scale_name=scale, seed=seed, raw_dir=raw_data)
        except BUILD_ERRORS as error:
            fail(build_error(error))


def print_problems(report) -> None:
    for problem in report.problems:
        # a problem with the zip itself is already labelled with its name: "x.zip: x.zip: ..." said it twice
        text = str(problem) if problem.where == report.bundle.name else f"{report.bundle.name}: {problem}"
        click.secho(f"  {text}", fg="red")


@cli.command()
@click.argument("bundles", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--no-solution-run", is_flag=True, help="Skip running the bundled solutions (faster, fewer checks).")
@click.option("--keep-runs", is_flag=True, help="Keep the solution runs' folders (failed runs are always kept).")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              help="Where to lay out the solution runs (default: $TMPDIR/codabench-runs/<bundle>-phase<N>-<time>-...).")
@NO_SANDBOX
def validate(bundles, no_solution_run, keep_runs, workdir, no_sandbox) -> None:
    """Check bundle zips as Codabench would, and more; print every problem and exit 1 if any.

    The bundled solutions run through the local worker, the bundle's own ingestion and scoring programs included:
    that is someone else's code, so each job runs in a bubblewrap sandbox that sees only its own folder."""
    bad = 0
    for bundle in bundles:
        if not bundle.is_file():
            click.secho(f"{bundle}: no such file", fg="red")
            bad += 1
            continue
        report = validate_bundle(bundle, run_solutions=not no_solution_run, log=lambda m: click.echo(f"  {m}"),
                                 keep_runs=keep_runs, sandbox=not no_sandbox,
                                 workdir=workdir / bundle.stem if workdir and len(bundles) > 1 else workdir)
        if report.ok:
            click.secho(f"{bundle}: valid", fg="green")
            for _, result in report.solution_runs:
                print_run(result)
        else:
            click.secho(f"{bundle}: {len(report.problems)} problem(s)", fg="red")
            print_problems(report)
            bad += 1
    sys.exit(1 if bad else 0)


def format_score(value) -> str:
    """6 significant digits without float noise (0.9999999999999999 → 1); a missing value is "-"."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return f"{value:.6g}"
    return str(value)


def print_run(result: RunResult) -> None:
    kept = result.root.exists()
    click.echo(f"  phase {result.phase_index} ({result.phase_name})" + (f"; working folder {result.root}" if kept else ""))
    for warning in result.warnings:
        click.secho(f"  warning: {warning}", fg="yellow")
    for job in result.jobs:
        logs = f", logs {job.process.stdout_path.parent}/{job.name}.{{stdout,stderr}}.txt" if kept else ""
        click.echo(f"  {job.name} job: {job.process.duration:.1f} s{logs}")
    if result.detailed_results and kept:
        click.echo(f"  detailed results: {result.detailed_results}")
    if not result.ok:
        click.secho(f"  FAILED: {result.error}", fg="red")
        return
    width = max(len(key) for key in result.scores)
    for key, value in result.scores.items():
        click.echo(f"    {key:<{width}}  {format_score(value)}")
    primary = result.info.get("primary")
    if primary in result.scores:
        where = placement(result.scores[primary], result.info)
        if where:
            click.echo(f"  {primary} {result.scores[primary]:.4f}: {where}")


@cli.command()
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--submission", required=True, type=click.Path(exists=True, path_type=Path),
              help="The submission: a zip (or a folder) as a participant would upload it.")
@click.option("--phase", "phase_index", type=int, default=0, show_default=True, help="Phase position (0-based).")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              help="Where to lay out the run (default: $TMPDIR/codabench-runs/<bundle>-phase<N>-<time>-...).")
@click.option("--time-limit", type=float, help="Override the phase's execution time limit (seconds per job).")
@click.option("--datasets", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The dataset zips of a bundle built with --data-keys.")
@NO_SANDBOX
def run(bundle, submission, phase_index, workdir, time_limit, datasets, no_sandbox) -> None:
    """Run a submission through the bundle as Codabench's compute worker would, without docker.

    The submission's code runs in a bubblewrap sandbox with kernel limits (refused where that cannot be done,
    unless --no-sandbox); the bundle's own programs run as you (use `validate` for a bundle you did not build)."""
    try:
        result = run_submission(bundle, submission, phase_index=phase_index, workdir=workdir,
                                time_limit=time_limit, datasets=datasets, log=lambda m: click.echo(m),
                                sandbox=not no_sandbox)
    except WorkerError as error:
        fail(str(error))
    print_run(result)
    sys.exit(0 if result.ok else 1)


@cli.command("bundles")
@click.option("--scale", type=click.Choice(SCALES), help="Data scale (default: each task's, usually small).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("dist"), show_default=True)
@NO_SANDBOX
def all_bundles(scale, out, no_sandbox) -> None:
    """Build every task, validate each bundle, run each solution through the local worker; print a table."""
    rows, failed = [], 0
    for task_id, task in load_tasks().items():
        started = time.monotonic()
        try:
            path = build_bundle(task, out, scale_name=scale)
        except BUILD_ERRORS as error:
            click.secho(f"  {task_id}: {build_error(error)}", fg="red")
            rows.append((task_id, task.scale(scale).name, "build failed", "-", time.monotonic() - started, ""))
            failed += 1
            continue
        report = validate_bundle(path, log=lambda m: click.echo(f"  {m}"), sandbox=not no_sandbox)
        print_problems(report)
        runs = [result for _, result in report.solution_runs]
        primary = task.model.leaderboard.primary
        scores = [result.scores[primary] for result in runs] if runs and all(r.ok for r in runs) else None
        where = placement(scores[0], runs[0].info) if scores else None
        shown = "/".join(f"{score:.4f}" for score in scores) if scores else ""  # one per hidden draw
        rows.append((task_id, task.scale(scale).name, "valid" if report.ok else f"{len(report.problems)} problem(s)",
                     f"{primary}={shown}" if scores else "-", time.monotonic() - started, where or ""))
        failed += not report.ok
    click.echo("\n" + f"{'task':<32} {'scale':<6} {'bundle':<14} {'solution (each draw)':<24} {'time':>7}  placement")
    for task_id, scale_name, status, score, seconds, where in rows:
        click.secho(f"{task_id:<32} {scale_name:<6} {status:<14} {score:<24} {seconds:>6.1f}s  {where}",
                    fg="green" if status == "valid" else "red")
    sys.exit(1 if failed else 0)


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def runs_dir_in_use(runs_dir: Path) -> str | None:
    """Why the runs folder cannot be used (another server holds its server.lock), or None; holds no lock after."""
    import fcntl
    import os

    try:
        fd = os.open(runs_dir / "server.lock", os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:  # no lock file (or no folder): no server has used it
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return (f"another server uses {runs_dir.resolve()} (its server.lock is held); stop it or choose "
                f"another --runs-dir")
    finally:
        os.close(fd)  # releases the lock at once: the server's lifespan takes it
    return None


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback by default; any other address "
              "needs MLEB_SERVER_TOKEN, the bearer token every request must then carry.")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"), show_default=True,
              help="Runs, their artifacts, the data cache and the server's state (SQLite).")
@click.option("--workers", type=click.IntRange(min=1), help="Tasks run at once across all runs [default: cores].")
@click.option("--resume", is_flag=True, help="At start, run again the tasks a previous server left unfinished.")
@click.option("--executor", type=click.Choice(["local", "ray"]), help="Where jobs run: local subprocesses, or Ray "
              "tasks on a cluster (docs/ray.md) [default: local, or MLEB_EXECUTOR].")
@click.option("--ray-address", help="The Ray cluster's head (HOST:PORT) [default: MLEB_RAY_ADDRESS, or a "
              "one-node cluster of this machine].")
@click.option("--ray-storage", type=click.Choice(["shared", "object"]), help="How bundles, submissions and "
              "artifacts reach the nodes: the runs folder on shared storage, or Ray's object store [default: shared].")
@NO_SANDBOX
def serve(host, port, runs_dir, workers, resume, executor, ray_address, ray_storage, no_sandbox) -> None:
    """Start the benchmark server (FastAPI): POST /runs runs prepare → submission → grading for a set of tasks."""
    import os

    import uvicorn

    from programlib.sandbox import probe
    from server.app import Settings, create_app
    from server.job import NO_SANDBOX_VARIABLE

    in_use = runs_dir_in_use(runs_dir)
    if in_use:  # before uvicorn: its lifespan would refuse too (and still does), with a 14-line traceback
        fail(in_use)
    if no_sandbox:
        click.secho("WARNING: --no-sandbox: submissions run WITHOUT isolation, with access to this machine",
                    fg="yellow", err=True)
        os.environ[NO_SANDBOX_VARIABLE] = "1"  # inherited by the job processes
    elif probe():
        fail(probe())

    settings = Settings.from_env()
    settings.runs_dir = runs_dir
    if workers:
        settings.workers = workers
    for name, value in {"resume": resume or None, "executor": executor, "ray_address": ray_address,
                        "ray_storage": ray_storage}.items():
        if value is not None:  # given on the command line: over MLEB_* variables
            setattr(settings, name, value)
    if host not in LOOPBACK and not settings.token:
        fail(f"--host {host} is reachable from other machines: set MLEB_SERVER_TOKEN to a secret first; "
             f"every request must then send 'Authorization: Bearer <token>'")
    click.echo(f"runs in {runs_dir.resolve()}, {settings.workers} worker(s), executor {settings.executor}; "
               f"pid {os.getpid()}")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


if __name__ == "__main__":
    cli()
