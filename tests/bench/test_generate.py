"""The synthetic country: homes on streets, events with a daily rhythm, rows the ORM reads."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import IntegrityError

from bench import country
from bench.generate import GenerateOptions, generate
from bench.progress import Progress
from doorstep.accounts.models import User
from doorstep.cameras.models import Camera, MotionEvent
from doorstep.db import Database
from doorstep.feed.models import Home, Post
from doorstep.footage.targeting import target_owners
from doorstep.geo import circle

ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)


def test_homes_line_up_along_streets(towns_file: Path) -> None:
    rng = np.random.default_rng(3)
    towns = country.choose_towns(country.load_towns(towns_file), homes=2_000_000, rng=rng)
    homes = country.place_homes(towns, 5_000, rng)
    assert len(towns) > 5
    offsets = country.street_offsets_m(homes)
    low, high = country.SETBACK_M
    on_street = np.mean((offsets >= low - 0.5) & (offsets <= high + 0.5))
    # Noise would put about a quarter there (15 m of a 40-80 m half block); homes set
    # back from a street land there unless a cross street is nearer.
    assert on_street > 0.8

    # Bigger towns (more ZIP codes) get more homes.
    per_town = np.bincount(homes.town, minlength=len(towns))
    sizes = np.array([t.zip_codes for t in towns])
    assert np.corrcoef(per_town, sizes)[0, 1] > 0.9


def _schema_of(url: str, table: str) -> set[tuple[str, str]]:
    """Every index and constraint of ``table``, by name and definition."""
    engine = create_engine(url)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(
                text("SELECT name, coalesce(sql, '') FROM sqlite_master WHERE tbl_name = :t"),
                {"t": table},
            ).all()
        else:
            rows = conn.execute(
                text(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :t UNION"
                    " SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                    " WHERE conrelid = CAST(:t AS regclass)"
                ),
                {"t": table},
            ).all()
    engine.dispose()
    return {(str(name), str(definition)) for name, definition in rows}


def test_generate(tmp_path: Path, towns_file: Path, database_url: str) -> None:
    url = database_url
    schema_before = _schema_of(url, "motion_events")
    with (tmp_path / "progress.txt").open("w") as stream:
        summary = generate(
            url=url,
            options=GenerateOptions(cameras=300, events=12_000, posts=100, seed=5, anchor=ANCHOR),
            progress=Progress(stream=stream),
        )
    assert summary.cameras == 300 and summary.owners == 250
    assert "motion_events: 12,000/12,000" in (tmp_path / "progress.txt").read_text()
    database = Database(url)
    with database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Camera)) == 300
        assert session.scalar(select(func.count()).select_from(MotionEvent)) == 12_000
        assert session.scalar(select(func.count()).select_from(User)) == 250
        assert session.scalar(select(func.count()).select_from(Home)) == 250
        assert session.scalar(select(func.count()).select_from(Post)) == 100
        rows = session.execute(
            select(MotionEvent.started_at, MotionEvent.ended_at, Camera.exact_longitude).join(
                Camera, Camera.id == MotionEvent.camera_id
            )
        ).all()
        assert all(summary.window_start <= s < ANCHOR and e >= s for s, e, _ in rows)
        # More in the evening than in the small hours, in each camera's local time.
        hours = np.array([(s.hour + s.minute / 60 + round(lon / 15)) % 24 for s, _, lon in rows])
        evening = np.sum((hours >= 17) & (hours < 21))
        night = np.sum((hours >= 1) & (hours < 5))
        assert evening > 4 * night

        # The generated rows are real rows: targeting reads them.
        camera = session.scalars(select(Camera).where(Camera.accepts_requests)).first()
        assert camera is not None
        event = session.scalars(
            select(MotionEvent).where(MotionEvent.camera_id == camera.id, MotionEvent.on_device)
        ).first()
        assert event is not None
        owners = target_owners(
            session=session,
            area=circle(camera.exact_latitude, camera.exact_longitude, 50),
            window_start=event.started_at,
            window_end=event.ended_at if event.ended_at > event.started_at else ANCHOR,
        )
        assert camera.owner_id in {owner.owner_id for owner in owners}

        # The load dropped the table's indexes, primary key included, and built them again.
        assert _schema_of(url, "motion_events") == schema_before
        assert any("PRIMARY KEY" in d or "pk_" in n for n, d in schema_before)
        duplicate = session.execute(
            select(MotionEvent.__table__).where(MotionEvent.id == event.id)
        ).one()
    database.dispose()
    engine = create_engine(url)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(MotionEvent.__table__.insert().values(**duplicate._mapping))
    engine.dispose()
