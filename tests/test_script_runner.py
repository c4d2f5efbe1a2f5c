"""The generic ingestion program: notebooks on a real kernel, extra runs with a changed config, time limits."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from bundlegen.definition import SubmissionLimits
from conftest import ROOT, load_module, processes_with
from programlib.notebooks import is_image, read_notebook

RUNNER = ROOT / "ingestion_programs" / "script_runner"


@pytest.fixture(scope="module")
def runner_module():
    return load_module("script_runner_ingestion", RUNNER / "ingestion.py")


def notebook(*cells: str, markdown: str = "# Analysis") -> str:
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_markdown_cell(markdown)] + [nbformat.v4.new_code_cell(code) for code in cells]
    return nbformat.writes(book)


def ingest(tmp_path: Path, files: dict[str, str], entry: str, time_limit: float = 60, runs=(), args=None,
           limits: dict | None = None):
    """Run the ingestion program as the worker does: its own folder with task.json, real subprocesses.
    The limits are a task's defaults (no network among them), with `limits` changed."""
    program, submission, data, output = (tmp_path / name for name in ("program", "submission", "data", "output"))
    shutil.copytree(RUNNER, program)
    (program / "task.json").write_text(json.dumps({
        "task": "t", "entry": entry, "args": args if args is not None else ["--out", "{predictions}"],
        "time_limit": time_limit, "results_files": [], "runs": list(runs),
        "limits": {**SubmissionLimits().model_dump(), **(limits or {})}}))
    submission.mkdir()
    for name, text in files.items():
        (submission / name).write_text(text)
    data.mkdir()
    (data / "train.csv").write_text("a,b\n1,2\n3,4\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, str(program / "ingestion.py"), str(data), str(output), str(program),
                           str(submission)], cwd=program, env=env, capture_output=True, text=True, timeout=300)
    result = json.loads((output / "ingestion_result.json").read_text())
    return done, result, output


def test_notebook_runs_on_a_real_kernel_and_its_outputs_are_kept(tmp_path):
    files = {"eda.ipynb": notebook(
        "import os, pandas as pd\nframe = pd.read_csv(os.path.join(os.environ['DATA_DIR'], 'train.csv'))\n"
        "print('rows', len(frame))",
        "import matplotlib.pyplot as plt\nplt.hist(frame['a'])\nplt.show()",
        "open(os.path.join(os.environ['OUTPUT_DIR'], 'done.txt'), 'w').write('yes')\nframe.shape")}
    done, result, output = ingest(tmp_path, files, "eda.ipynb")
    assert done.returncode == 0 and result["status"] == "ok", done.stderr
    executed = read_notebook(output / "submission" / "eda.ipynb")
    assert executed.all_executed and not executed.errors
    assert "rows 2" in executed.outputs and "(2, 2)" in executed.outputs
    assert len(executed.images) == 1 and is_image(executed.images[0])
    assert (output / "predictions" / "done.txt").read_text() == "yes"
    assert "rows 2" in (output / "logs" / "stdout.txt").read_text()  # the logs read like a script's
    assert json.loads((tmp_path / "submission" / "eda.ipynb").read_text())["cells"][1]["outputs"] == []


def test_a_failing_cell_is_named_and_the_partial_notebook_is_kept(tmp_path):
    files = {"eda.ipynb": notebook("x = 1\nprint('first')", "raise ValueError('no such column: churn')", "y = 2")}
    done, result, output = ingest(tmp_path, files, "eda.ipynb")
    assert done.returncode == 1 and result["status"] == "failed"
    assert "cell 3 of 4 raised ValueError: no such column: churn" in result["message"]
    executed = read_notebook(output / "submission" / "eda.ipynb")
    assert executed.cells[1].executed and not executed.cells[3].executed
    assert executed.errors == ["ValueError: no such column: churn"]


def test_a_file_that_is_not_a_notebook_gets_a_message(tmp_path):
    done, result, _ = ingest(tmp_path, {"eda.ipynb": "print('I am a script')"}, "eda.ipynb")
    assert result["status"] == "failed" and "is not a readable Jupyter notebook" in result["message"]


def test_a_notebook_past_the_time_limit_is_stopped_with_its_kernel(tmp_path):
    token = f"sleepy-{os.getpid()}-{tmp_path.name}"
    files = {"slow.ipynb": notebook(f"import time\n# {token}\nprint('start', flush=True)\ntime.sleep(600)")}
    done, result, _ = ingest(tmp_path, files, "slow.ipynb", time_limit=8)
    assert result["status"] == "timeout" and "time limit of 8" in result["message"]
    assert not [pid for pid in processes_with("ipykernel") if token in _environ_marker(pid)]
    assert not processes_with(str(tmp_path / "output"))


def _environ_marker(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


TRAIN = """import argparse, json, os, yaml
parser = argparse.ArgumentParser()
parser.add_argument("--config", default="config.yaml")
parser.add_argument("--out")
args = parser.parse_args()
config = yaml.safe_load(open(args.config))
json.dump(config, open(os.path.join(args.out, "used_config.json"), "w"))
print("epochs", config["training"]["epochs"])
"""
CONFIG = "model:\n  hidden: 8\ntraining:\n  epochs: 3\n  learning_rate: 0.1\n"


def test_extra_runs_use_a_fresh_copy_with_the_config_changed(tmp_path):
    runs = [{"name": "more-epochs", "config_edit": {"file": "config.yaml", "set": {"epochs": 5}}},
            {"name": "nested", "config_edit": {"file": "config.yaml", "set": {"model.hidden": 16}}},
            {"name": "rerun"}]
    done, result, output = ingest(tmp_path, {"train.py": TRAIN, "config.yaml": CONFIG}, "train.py", runs=runs)
    assert done.returncode == 0 and result["status"] == "ok", done.stderr
    assert {name: run["status"] for name, run in result["runs"].items()} == dict.fromkeys(
        ["more-epochs", "nested", "rerun"], "ok")
    used = {name: json.loads((output / "runs" / name / "predictions" / "used_config.json").read_text())
            for name in result["runs"]}
    main = json.loads((output / "predictions" / "used_config.json").read_text())
    assert main["training"]["epochs"] == 3 and used["rerun"] == main
    assert used["more-epochs"]["training"]["epochs"] == 5 and used["more-epochs"]["model"] == main["model"]
    assert used["nested"]["model"]["hidden"] == 16
    assert "epochs 5" in (output / "runs" / "more-epochs" / "logs" / "stdout.txt").read_text()
    assert yaml.safe_load((output / "submission" / "config.yaml").read_text()) == yaml.safe_load(CONFIG)


def test_an_extra_run_whose_key_is_missing_says_so(tmp_path):
    runs = [{"name": "changed", "config_edit": {"file": "config.yaml", "set": {"batch_size": 64}}}]
    done, result, _ = ingest(tmp_path, {"train.py": TRAIN, "config.yaml": CONFIG}, "train.py", runs=runs)
    assert result["status"] == "ok"  # the main run is the submission's; the scorer judges the extra runs
    assert result["runs"]["changed"]["status"] == "failed"
    assert "config.yaml has no key 'batch_size'" in result["runs"]["changed"]["message"]


@pytest.mark.parametrize("key,expected", [("epochs", True), ("training.epochs", True), ("hidden", True),
                                          ("training.hidden", False), ("dropout", False)])
def test_set_in_yaml(runner_module, key, expected):
    document = yaml.safe_load(CONFIG)
    assert runner_module.set_in_yaml(document, key, 99) is expected
    if expected:
        assert 99 in (document["training"].get(key.split(".")[-1]), document["model"].get(key.split(".")[-1]))


# --- limits on the participant's process tree -------------------------------------------------------

LIMIT_CASES = {
    "memory": ({"memory_mb": 300}, "x = bytearray(700 * 1024**2)\nimport time\ntime.sleep(30)",
               "memory: used more than 300 MB"),
    "processes": ({"max_processes": 10}, "import os, time\nfor _ in range(40):\n    if os.fork() == 0:\n"
                  "        time.sleep(30)\n        os._exit(0)\ntime.sleep(30)", "processes: ran more than 10"),
    "output": ({"max_output_mb": 1}, "while True:\n    print('x' * 1000)", "output: printed more than 1 MB"),
    "file size": ({"max_file_mb": 1}, "open('big.bin', 'wb').write(bytes(3 * 1024**2))",
                  "file size: tried to write a file larger than 1 MB"),
    "cpu time": ({"cpu_seconds": 1}, "while True:\n    pass", "CPU time: used more than 1 CPU seconds"),
}


@pytest.mark.parametrize("case", list(LIMIT_CASES))
def test_a_limit_hit_stops_the_run_with_a_message(tmp_path, case):
    limits, script, message = LIMIT_CASES[case]
    done, result, output = ingest(tmp_path, {"main.py": script}, "main.py", time_limit=60, limits=limits)
    assert done.returncode == 1 and result["status"] == "limit"
    assert message in result["message"] and result["duration"] < 30
    assert not processes_with(str(output))  # nothing of it left running


def test_no_network_by_default_but_loopback_inside(tmp_path):
    import socket

    outside = socket.socket()
    outside.bind(("127.0.0.1", 0))
    outside.listen()
    port = outside.getsockname()[1]
    probe = ("import socket\n"
             "inside = socket.socket(); inside.bind(('127.0.0.1', 0)); inside.listen()\n"
             "socket.create_connection(inside.getsockname(), timeout=2); print('loopback: yes')\n"
             "try:\n"
             f"    socket.create_connection(('127.0.0.1', {port}), timeout=2); print('host: reached')\n"
             "except OSError as error:\n"
             "    print('host: unreachable', error)\n")
    try:
        _, isolated, output = ingest(tmp_path / "off", {"main.py": probe}, "main.py")
        printed = (output / "logs" / "stdout.txt").read_text()
        assert isolated["network"] == "off", isolated  # bubblewrap is required here and in CI: never skipped
        assert "loopback: yes" in printed and "host: unreachable" in printed
        _, connected, output = ingest(tmp_path / "on", {"main.py": probe}, "main.py", limits={"network": True})
        assert connected["network"] == "on" and "host: reached" in (output / "logs" / "stdout.txt").read_text()
    finally:
        outside.close()
