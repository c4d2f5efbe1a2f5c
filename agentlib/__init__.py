"""Agents: prepare → agent → grade, with MLE-bench's agent contract.

An agent is a folder `agents/<id>/` with an `agent.yaml` (definition.py). For one task, the framework stages the
agent's home from a built bundle (home.py: the task's pages and public data, the starting kit, the folders for its
submission, code and logs), runs the agent's start command confined by bubblewrap with that home at /home
(run.py), copies what it left out through the sandbox's one door, and grades its submission through the bundle's
own ingestion and scoring programs, exactly as a participant's (run.grade_rollout).

    python -m agentlib list
    python -m agentlib run --agent dummy --bundle dist/churn-spec.zip --out runs/dummy-churn
"""
