"""`python -m promptcache` runs the CLI."""

from .cli import run

run()
