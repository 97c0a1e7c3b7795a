"""``python -m bench``: generate a synthetic country, run the targeting benchmark on it."""

from bench.cli import app

app(prog_name="python -m bench")
