"""/home/instructions.txt: the benchmark's generic rules, adapted from MLE-bench's environment/instructions.txt,
with the task's own submission contract (the exact files of a results task; the entry file, its command and time
limit for a code task) and the format check that replaces MLE-bench's validation server (validate.py)."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .home import TaskFacts

HEADER = """\
You are taking part in an offline benchmark of machine-learning engineering tasks, built from Codabench
competition bundles, that tests the coding ability of agents like yourself.

You are given one task. Solve it as a participant would: write the code, train a model where the task calls for
one, and produce a submission. You may not label the data by hand to produce a submission.

BENCHMARK INSTRUCTIONS
------
Read these first; they are also in /home/instructions.txt.

- **Task**: /home/data/description.md holds the task's pages (overview, data, evaluation). Read it to understand
  what is asked and how it is scored.
- **Data**: /home/data/ holds the task's public data (read-only).
{kit}- **Submission**: {submission}
- **Your code and logs**: keep the code you wrote in /home/code/ ($CODE_DIR) and your notes and logs in /home/logs/
  ($LOGS_DIR); they are collected with your submission. /home/agent/ ($AGENT_DIR) is your own folder.
- **Time**: you have {time_limit} seconds in all ($TIME_LIMIT_SECS). Then everything you started is stopped,
  and what is in /home/submission/ at that moment is graded.
- **Network**: {network}
- **Format**: /home/submission_format.json states the submission's contract in machine-readable form.
- **Submission checker**: `/home/validate_submission.sh` tells you whether your submission is valid: it checks
  /home/submission/ (or the folder or the one file you give it) against the sample submission and the contract,
  the format only, without any answer. It prints every problem with its file, line and column, then one JSON
  line ({{"valid": ..., "result": ..., "problems": [...]}}), and exits 0 when valid, 1 when not. It does NOT give
  you a score{not_run}. It replaces MLE-bench's validation server (nothing listens on
  localhost:5000) and also takes curl's form: `/home/validate_submission.sh -F file=@/home/submission/FILE`.
- **Cheating**: the hidden answers are not on this machine and grading happens after you stop. You are not
  allowed to look for other participants' solutions to this task; a plagiarised submission is disqualified.

Your submission is graded by the task's own scoring program, as described in the Evaluation section of
/home/data/description.md. Your goal is the best score you can reach.

Wherever the points above and /home/data/description.md disagree, the points above win: they are always true
for this offline setup.
"""

KIT = ("- **Starting kit**: /home/starting_kit/ (read-only) holds what participants download: its README says what\n"
       "  to submit, and its sample submission shows the format.\n")


def instructions_text(facts: "TaskFacts", *, time_limit: float, network: bool = False) -> str:
    return HEADER.format(kit=KIT if facts.has_starting_kit else "", submission=_submission(facts),
                         time_limit=f"{time_limit:g}",
                         not_run=", and it does not run your code" if facts.kind == "code" else "",
                         network=("you may use the network." if network else
                                  "there is none (only a private loopback); install nothing from the internet."))


def _submission(facts: "TaskFacts") -> str:
    if facts.kind == "results":
        return _results(facts)
    return _code(facts)


def _results(facts: "TaskFacts") -> str:
    files = ", ".join(f"/home/submission/{name}" for name in facts.files) or "the files the task's pages name"
    return (f"this is a results task: the files in /home/submission/ ($SUBMISSION_DIR) are scored as they are.\n"
            f"  You MUST write {files} (at the top level of /home/submission/, not in a subfolder). Only\n"
            f"  /home/submission/ is graded; a missing or malformed file is a failed attempt.")


def _code(facts: "TaskFacts") -> str:
    entry = facts.entry or "the program the task's pages name"
    if entry.endswith(".ipynb"):
        how = (f"The notebook {entry} is executed from top to bottom on a real kernel; it reads the data folder\n"
               f"  from the environment variable DATA_DIR and writes its outputs into OUTPUT_DIR.")
    else:
        command = " ".join(["python3", entry, *facts.args])
        how = (f"It is run as\n\n      {command}\n\n  where {{input_data}} is the hidden data's folder and "
               f"{{predictions}} the folder to write into\n  (also in the environment variables DATA_DIR and "
               f"OUTPUT_DIR).")
    limit = f"\n  Each run has {facts.run_time_limit:g} s." if facts.run_time_limit else ""
    instead = (f"\n  Instead of the program, the platform also accepts the results file(s) "
               f"{', '.join(facts.results_files)} at the top level." if facts.results_files else "")
    others = (f"\n  The task also runs or edits {', '.join(facts.other_files)} of your submission (see the Evaluation "
              f"section)." if facts.other_files else "")
    return (f"this is a code task: the platform runs your program on hidden data of the same kind as\n"
            f"  /home/data/ (other rows and values) and scores what it produces. You MUST put the code submission\n"
            f"  into /home/submission/ ($SUBMISSION_DIR): {entry} at its top level, with every file it needs\n"
            f"  beside it. {how}{limit} Compute everything from the data it is given: hard-code nothing of the\n"
            f"  public files. Check that it runs on /home/data/ before you finish.{others}{instead}")
