"""AIDE (aideml 0.2.2) on one task of MLE-bench's home, the way MLE-bench's agents/aide/start.sh runs it.

    python start.py [AIDE setting=value ...]        # the variant's kwargs (omegaconf), e.g. agent.steps=8

- The LLM endpoint comes from the server's environment (agent.yaml env_vars): OPENAI_API_KEY, OPENAI_BASE_URL for
  a local or proxy server speaking OpenAI's protocol, AIDE_MODEL for the model it serves. Without any, it ends at
  once (exit 2) saying so; an endpoint that cannot be reached ends it too (exit 3), since AIDE itself would retry
  forever; so does a missing aideml (exit 4).
- The task text AIDE gets: /home/instructions.txt (its /home paths made AIDE's ./input and ./working), this
  adapter's notes (time, steps, the files to write), then /home/data/description.md, as in MLE-bench.
- AIDE's loop is run here rather than through its `aide` command (whose full-screen display wants a terminal):
  after every step, the best working solution's files are copied to /home/submission, so a run stopped at its
  time limit is still graded on what it had found (MLE-bench's AIDE fork keeps a best_submission/ the same way).
- /home/logs/aide/: AIDE's journal, config, tree plot and report; /home/logs/aide.log: every LLM request and
  reply; /home/code/: the best solution and each step's code.
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import os
import shutil
import sys
import time
import warnings
from pathlib import Path

ENDPOINT_MISSING = ("aide needs an LLM endpoint: set OPENAI_API_KEY (and OPENAI_BASE_URL for a local server) in "
                    "the server's environment")
NOT_INSTALLED = ("aide: aideml is not installed in the server's interpreter ({error}); `make setup` installs it "
                 "(pip install --no-deps aideml==0.2.2 and the project's `aide` extra)")
DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_STEPS = 20
OPENAI_API = "https://api.openai.com/v1"
MARGIN = 20  # seconds kept at the end to copy the submission out before the time limit
PACKAGES = ("numpy", "pandas", "sklearn", "scipy", "matplotlib", "PIL", "torch", "torchvision", "timm",
            "albumentations", "xgboost", "lightgbm", "catboost", "statsmodels")

DATA = Path(os.environ.get("DATA_DIR", "/home/data"))
HOME = DATA.parent  # /home in the sandbox
SUBMISSION = Path(os.environ.get("SUBMISSION_DIR", "/home/submission"))
CODE = Path(os.environ.get("CODE_DIR", "/home/code"))
LOGS = Path(os.environ.get("LOGS_DIR", "/home/logs"))
AGENT = Path(os.environ.get("AGENT_DIR", "/home/agent"))


def say(message: str) -> None:
    print(f"[aide] {message}", flush=True)


# ---------------------------------------------------------------------------------------------------------
# The endpoint


def endpoint(env) -> tuple[str | None, str] | None:
    """(base URL or None for OpenAI's own, API key), or None when the environment names no endpoint. A local
    server often wants no key, but the openai client needs one: any text does."""
    base_url, key = env.get("OPENAI_BASE_URL") or None, env.get("OPENAI_API_KEY") or ""
    if not base_url and not key:
        return None
    return base_url, key or "unused"


class EndpointError(Exception):
    """The endpoint cannot be used: unreachable, or it refuses the key."""


def preflight(base_url: str | None, key: str) -> list[str]:
    """The models the endpoint lists ([] when it has no such list). EndpointError with a clear message when it
    cannot be reached or refuses the key: AIDE would otherwise retry without end until the time limit."""
    import openai

    client = openai.OpenAI(base_url=base_url or OPENAI_API, api_key=key, max_retries=1, timeout=30)
    where = base_url or OPENAI_API
    try:
        return [model.id for model in client.models.list().data]
    except (openai.AuthenticationError, openai.PermissionDeniedError) as error:
        raise EndpointError(f"aide: the LLM endpoint {where} refused the key in OPENAI_API_KEY: {error}") from None
    except (openai.APIConnectionError, openai.APITimeoutError) as error:
        raise EndpointError(f"aide: cannot reach the LLM endpoint {where} ({error}); check OPENAI_BASE_URL and "
                            f"that the agent has the network (agent.yaml: network: host)") from None
    except openai.APIStatusError:  # reachable, without a model list (some proxies): go on
        return []


def choose_model(env, base_url: str | None, listed: list[str]) -> str:
    """AIDE_MODEL, else the one model a local endpoint serves, else gpt-4o-mini (a variant's kwargs win)."""
    if env.get("AIDE_MODEL"):
        return env["AIDE_MODEL"]
    if base_url and len(listed) == 1:
        return listed[0]
    return DEFAULT_MODEL


def route_openai_models(base_url: str | None) -> None:
    """AIDE 0.2.2 sends OpenAI-named models (gpt-*, o1-...) to api.openai.com even when OPENAI_BASE_URL is set:
    point its client there too, so the endpoint the server names is the only one used."""
    if base_url:
        from aide.backend import backend_openai

        backend_openai.OPENAI_BASE_URL = base_url


# ---------------------------------------------------------------------------------------------------------
# What to submit


def targets(facts: dict) -> list[str]:
    """The files AIDE's code must leave in ./working: the results files (of a results task, or those a code task
    accepts instead of its program), else the code task's entry (submitted with the rest of ./working)."""
    if facts.get("kind") == "results":
        return list(facts.get("files") or [])
    if facts.get("results_files"):
        return list(facts["results_files"])
    return [facts["entry"]] if facts.get("entry") else []


def whole_folder(facts: dict) -> bool:
    """A code task without results files: its program is submitted with every file beside it."""
    return facts.get("kind") != "results" and not facts.get("results_files")


def notes(facts: dict, files: list[str], steps: int, time_limit: float) -> str:
    """The adapter's part of AIDE's task text (MLE-bench's additional_notes.txt, for this home)."""
    names = ", ".join(f"./working/{name}" for name in files) or "the files the task names, in ./working/"
    what = f"your code MUST write {names}; the best solution's file(s) are submitted"
    if whole_folder(facts):
        what += " with everything else in ./working/ (the program and every file it needs beside it)."
    elif facts.get("kind") != "results":
        what += (f" as the results the platform accepts in place of a program: write no {facts.get('entry')}, "
                 f"predict the test data of ./input/ in your code.")
    else:
        what += "."
    gpus = os.environ.get("CUDA_VISIBLE_DEVICES") or ""
    available = ", ".join(name for name in PACKAGES if _importable(name))
    return "\n".join([
        "ADDITIONAL NOTES",
        "------",
        "",
        f"- **Compute**: {os.environ.get('OMP_NUM_THREADS', '1')} CPU cores and "
        + (f"GPU(s) {gpus}." if gpus else "no GPU."),
        f"- **Total runtime**: {time_limit:g} seconds for the whole search; each program's run counts towards it.",
        f"- **Total steps**: at most {steps} programs are written and run.",
        "- **Data**: the task's public data is in ./input/ (read-only); /home/data/ in the task's text is ./input/.",
        f"- **Submission**: {what} /home/submission/ in the task's text is ./working/.",
        "  Where these notes and the instructions above differ, these notes win.",
        *([f"- **Check**: `/home/validate_submission.sh ./working/{files[0]}` checks that file's format (no score)."]
          if files and (HOME / "validate_submission.sh").is_file() else []),
        f"- **Packages**: {available} (and the standard library); others may be missing.",
        "",
    ])


def _importable(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def task_text(facts: dict, files: list[str], steps: int, time_limit: float) -> str:
    """instructions.txt (paths made AIDE's), the adapter's notes, then the task's description.md."""
    rules = (HOME / "instructions.txt").read_text(encoding="utf-8")
    rules = rules.replace("/home/data/", "./input/").replace("/home/submission/", "./working/")
    rules = rules.replace(" ($SUBMISSION_DIR)", "")
    description = (DATA / "description.md").read_text(encoding="utf-8")
    return (f"{rules}\n{notes(facts, files, steps, time_limit)}\nCOMPETITION INSTRUCTIONS\n------\n\n"
            f"{description}")


# ---------------------------------------------------------------------------------------------------------
# AIDE's configuration and loop


def aide_config(overrides: list[str], model: str, time_limit: float, desc_file: Path):
    """AIDE's config.yaml, this home's paths and the model, then the variant's kwargs (`key=value`) on top."""
    from omegaconf import OmegaConf
    from aide.utils.config import _load_cfg, prep_cfg

    ours = {
        "data_dir": str(DATA), "desc_file": str(desc_file), "exp_name": "exp",
        "log_dir": str(LOGS / "aide"), "workspace_dir": str(AGENT / "workspaces"),
        "copy_data": False,  # links to the read-only data, as MLE-bench runs it: nothing copied, nothing changed
        "exec": {"timeout": int(min(3600, time_limit))},
        "report": {"model": model},
        "agent": {"steps": int(os.environ.get("STEP_LIMIT") or DEFAULT_STEPS),
                  "code": {"model": model}, "feedback": {"model": model}},
    }
    cfg = OmegaConf.merge(_load_cfg(use_cli_args=False), ours, OmegaConf.from_dotlist(overrides))
    return prep_cfg(cfg)


class BestSubmission:
    """Keeps each working node's files and publishes the best node's to /home/submission after every step."""

    def __init__(self, workspace: Path, files: list[str], whole: bool):
        self.workspace, self.files, self.whole = workspace, files, whole
        self.kept: dict[str, Path] = {}  # node id → its files, kept in the agent's own folder
        self.published: str | None = None

    def clear(self) -> None:
        """A node is credited only with files it wrote itself: remove the last one's before it runs."""
        for folder in ("working", "submission"):
            for name in self.files:
                (self.workspace / folder / name).unlink(missing_ok=True)

    def keep(self, node) -> bool:
        for folder in ("working", "submission"):  # AIDE's ./working, or MLE-bench's fork's ./submission
            source = self.workspace / folder
            if self.files and all((source / name).is_file() for name in self.files):
                target = AGENT / "aide" / "outputs" / node.id
                if self.whole:
                    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    target.mkdir(parents=True)
                    for name in self.files:
                        shutil.copy2(source / name, target / name)
                self.kept[node.id] = target
                return True
        return False

    def best(self, journal):
        candidates = [node for node in journal.good_nodes if node.id in self.kept]
        return max(candidates, key=lambda node: node.metric) if candidates else None

    def publish(self, node) -> None:
        if node is None or node.id == self.published:
            return
        for entry in SUBMISSION.iterdir():
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        shutil.copytree(self.kept[node.id], SUBMISSION, dirs_exist_ok=True)
        (CODE / "best_solution.py").write_text(node.code, encoding="utf-8")
        self.published = node.id


def quiet_console_log_to_file() -> None:
    """AIDE logs every prompt and reply at INFO: into /home/logs/aide.log, not onto the console."""
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.WARNING)
    handler = logging.FileHandler(LOGS / "aide.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    aide_logger = logging.getLogger("aide")
    aide_logger.setLevel(logging.INFO)
    aide_logger.addHandler(handler)


def search(cfg, task_desc: str, keeper: BestSubmission, deadline: float):
    """AIDE's own loop (aide/run.py without its display): step, save the journal, keep and publish the best."""
    from aide.agent import Agent
    from aide.interpreter import Interpreter
    from aide.journal import Journal
    from aide.utils.config import prep_agent_workspace, save_run
    from omegaconf import OmegaConf

    prep_agent_workspace(cfg)
    journal = Journal()
    agent = Agent(task_desc=task_desc, cfg=cfg, journal=journal)
    interpreter = Interpreter(cfg.workspace_dir, **OmegaConf.to_container(cfg.exec))
    try:
        for step in range(cfg.agent.steps):
            left = deadline - time.monotonic()
            if left < MARGIN:
                say(f"stopping before step {step + 1}: {left:.0f} s left")
                break
            # No program of AIDE's runs past the time limit.
            interpreter.timeout = max(1, int(min(cfg.exec.timeout, left - MARGIN)))
            keeper.clear()
            started = time.monotonic()
            agent.step(exec_callback=interpreter.run)
            node = journal.nodes[-1]
            kept = keeper.keep(node) if not node.is_buggy else False
            best = keeper.best(journal)
            keeper.publish(best)
            with warnings.catch_warnings():  # its tree plot divides by zero while the tree is one row
                warnings.simplefilter("ignore", RuntimeWarning)
                save_run(cfg, journal)
            (CODE / "steps").mkdir(exist_ok=True)
            (CODE / "steps" / f"step_{step + 1:03d}.py").write_text(node.code, encoding="utf-8")
            say(f"step {step + 1}/{cfg.agent.steps}: {_outcome(node, kept)} in {time.monotonic() - started:.1f} s; "
                f"best: {best.metric if best else 'none yet'}")
    finally:
        interpreter.cleanup_session()
    return journal


def _outcome(node, kept: bool) -> str:
    kind = "debug" if node.parent and node.parent.is_buggy else ("improve" if node.parent else "draft")
    if node.is_buggy:
        return f"{kind}, buggy ({node.exc_type or 'the review found a bug'})"
    return f"{kind}, {node.metric}" + ("" if kept else " but it wrote no submission file")


def report(cfg, journal, task_desc: str) -> None:
    """AIDE's closing report (logs/aide/0-exp/report.md); a failure here costs the run nothing."""
    from aide import backend, journal2report as module

    # AIDE 0.2.2 turns the report's max_tokens into max_output_tokens, which chat completions do not take (the
    # openai client refuses it): ask without the cap.
    module.query = lambda *args, max_tokens=None, **kwargs: backend.query(*args, **kwargs)
    try:
        text = module.journal2report(journal, task_desc, cfg.report)
    except Exception as error:  # noqa: BLE001 - the endpoint's or AIDE's: the submission stands either way
        say(f"no report: {type(error).__name__}: {error}")
        return
    (Path(cfg.log_dir) / "report.md").write_text(str(text), encoding="utf-8")


# ---------------------------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    started = time.monotonic()
    found = endpoint(os.environ)
    if found is None:
        print(ENDPOINT_MISSING, file=sys.stderr)
        return 2
    base_url, key = found
    try:
        importlib.import_module("aide.agent")  # aideml and what it imports
    except ImportError as error:
        print(NOT_INSTALLED.format(error=error), file=sys.stderr)
        return 4
    try:
        listed = preflight(base_url, key)
    except EndpointError as error:
        print(error, file=sys.stderr)
        return 3
    os.environ.update(OPENAI_API_KEY=key)  # AIDE's clients read the environment
    route_openai_models(base_url)
    time_limit = float(os.environ.get("TIME_LIMIT_SECS") or 3600)
    facts = json.loads((HOME / "submission_format.json").read_text())
    files = targets(facts)
    desc_file = AGENT / "full_instructions.md"
    model = choose_model(os.environ, base_url, listed)
    cfg = aide_config(argv, model, time_limit, desc_file)
    desc_file.write_text(task_text(facts, files, cfg.agent.steps, time_limit), encoding="utf-8")
    quiet_console_log_to_file()
    say(f"task {facts.get('competition_id')}: {cfg.agent.steps} steps, code model {cfg.agent.code.model}, feedback "
        f"model {cfg.agent.feedback.model}, endpoint {base_url or OPENAI_API}; submits {', '.join(files)}")
    task_desc = desc_file.read_text(encoding="utf-8")
    keeper = BestSubmission(Path(cfg.workspace_dir), files, whole_folder(facts))
    journal = search(cfg, task_desc, keeper, started + time_limit)
    if cfg.generate_report and started + time_limit - time.monotonic() > 2 * MARGIN:
        report(cfg, journal, task_desc)
    if keeper.published is None:
        say(f"no working solution wrote {', '.join(files)}: nothing submitted")
        return 0
    say(f"submitted the best solution's {', '.join(sorted(p.name for p in SUBMISSION.iterdir()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
