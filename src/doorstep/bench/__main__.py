"""``python -m doorstep.bench``: the bench commands, before ``doorstep bench`` is wired in."""

from doorstep.bench.cli import app

app(prog_name="doorstep bench")
