"""The first program of an agent's sandbox: keep to the agent's CPUs, enter /home/agent, become the agent.

    python -I -c "<this file>" CPUS -- COMMAND...

The sandbox already shows the staged home at /home (run.py binds it there: read-only, with submission/, code/,
logs/ and agent/ writable on top), so nothing of the host's paths is needed here. This keeps the agent's processes
to CPUS processors, changes to /home/agent and replaces itself with the agent's start command (exec: no process of
ours stays in between).

Exit 125: it could not prepare (bad arguments, no /home/agent); 127: the start command could not be started.
Standard library only.
"""
import os
import sys

AGENT_DIR = "/home/agent"


def keep_to_cpus(cpus: int) -> None:
    available = sorted(os.sched_getaffinity(0))
    if 0 < cpus < len(available):
        os.sched_setaffinity(0, available[:cpus])


def main(argv: list) -> int:
    if len(argv) < 3 or argv[1] != "--" or not argv[0].isdigit():
        print("agent launcher: usage: CPUS -- COMMAND...", file=sys.stderr)
        return 125
    cpus, command = int(argv[0]), argv[2:]
    try:
        keep_to_cpus(cpus)
        os.chdir(AGENT_DIR)
        os.environ["PWD"] = AGENT_DIR  # a shell's `pwd` shows it even before its first cd
    except OSError as error:
        print(f"agent launcher: cannot enter {AGENT_DIR}: {error}", file=sys.stderr)
        return 125
    sys.stdout.flush()
    try:
        os.execvpe(command[0], command, os.environ)
    except OSError as error:
        print(f"agent launcher: cannot start {command[0]!r}: {error}", file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
