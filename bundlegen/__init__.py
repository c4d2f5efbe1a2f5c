"""Builder internals: task definitions → deterministic Codabench bundles, a validator, a local worker."""
