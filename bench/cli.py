"""``python -m bench``: generate a synthetic country, run the benchmarks on it."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Benchmarks at city and country scale.", no_args_is_help=True)

DbOption = Annotated[
    str, typer.Option("--db", help="SQLAlchemy URL, e.g. postgresql+psycopg://postgres@/bench")
]


@app.command()
def generate(
    db: DbOption,
    cameras: Annotated[int, typer.Option(help="cameras (about 1.2 per owner)")] = 10_000,
    events: Annotated[int, typer.Option(help="motion events over the window")] = 200_000,
    posts: Annotated[int, typer.Option(help="feed posts over the window")] = 10_000,
    seed: Annotated[int, typer.Option(help="same seed, same rows; another to add more")] = 1,
    days: Annotated[int, typer.Option(help="the window: the last DAYS days")] = 30,
    towns: Annotated[
        Path | None, typer.Option(help="us_zip_centroids.csv (default: ../shared/data/)")
    ] = None,
) -> None:
    """Migrate the database, then bulk-load a synthetic country into it (progress on stderr)."""
    from bench.generate import GenerateOptions
    from bench.generate import generate as run_generate

    summary = run_generate(
        url=db,
        options=GenerateOptions(
            cameras=cameras, events=events, posts=posts, seed=seed, days=days, towns_path=towns
        ),
    )
    typer.echo(json.dumps(asdict(summary), indent=2, default=str))


@app.command()
def targeting(
    db: DbOption,
    requests: Annotated[int, typer.Option(help="timed requests")] = 1_000,
    seed: Annotated[int, typer.Option(help="seed for the random requests")] = 7,
    warmup: Annotated[int, typer.Option(help="untimed requests first")] = 50,
    out: Annotated[Path, typer.Option(help="folder for the JSON results")] = Path("bench/results"),
) -> None:
    """Time target_owners on random requests against a PostGIS baseline; write JSON."""
    from bench import targeting as bench

    results = bench.run(url=db, requests=requests, seed=seed, warmup=warmup)
    path = bench.write_results(results, out)
    typer.echo(bench.summary(results))
    typer.echo(f"results: {path}")
