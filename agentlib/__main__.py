"""python -m agentlib: see cli.py."""
import sys

from .cli import cli

sys.exit(cli(prog_name="python -m agentlib"))
