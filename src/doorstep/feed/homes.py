"""Homes: where a resident's feed is centred, how far it reaches, what alerts him.

Privacy: a home's exact position leaves this module only through :func:`home_view`
(the resident's own view); every other use goes through its coarse cell.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from doorstep import geo
from doorstep.accounts.models import User
from doorstep.db import utcnow
from doorstep.errors import DoorstepError, InvalidInput
from doorstep.feed import areas
from doorstep.feed.models import Category, Home
from doorstep.feed.schemas import HomeRead


class HomeRequired(DoorstepError):
    status_code = 409
    code = "home_required"


def no_home() -> HomeRequired:
    """The refusal of a resident without a home where a feed needs one."""
    return HomeRequired("Set your home position first: the feed shows what happens around it.")


def get_home(*, session: Session, owner: User) -> Home | None:
    return session.get(Home, owner.id)


def require_home(*, session: Session, owner: User) -> Home:
    home = get_home(session=session, owner=owner)
    if home is None:
        raise no_home()
    return home


def set_home(
    *,
    session: Session,
    owner: User,
    latitude: float,
    longitude: float,
    radius_mi: float = areas.DEFAULT_RADIUS_MI,
    alert_categories: Sequence[Category] = (),
) -> Home:
    """Set the resident's home, feed radius (0.5 to 5 miles) and alert categories.

    The exact position is kept for his own view; lookups use its coarse cell.
    """
    geo.check_position(latitude, longitude)
    if not areas.MIN_RADIUS_MI <= radius_mi <= areas.MAX_RADIUS_MI:
        raise InvalidInput(
            f"The radius is between {areas.MIN_RADIUS_MI} and {areas.MAX_RADIUS_MI:g} miles.",
            code="invalid_radius",
        )
    home = get_home(session=session, owner=owner)
    if home is None:
        home = Home(user_id=owner.id)
        session.add(home)
    home.exact_latitude, home.exact_longitude = latitude, longitude
    home.coarse_cell = geo.cell_of(latitude, longitude, geo.COARSE_RESOLUTION)
    home.radius_m = areas.miles_to_m(radius_mi)
    home.alert_categories = sorted({Category(c).value for c in alert_categories})
    home.updated_at = utcnow()
    session.flush()
    return home


def home_view(home: Home) -> HomeRead:
    """The resident's own view: the one place a home's exact position goes into a response."""
    return HomeRead(
        latitude=home.exact_latitude,
        longitude=home.exact_longitude,
        coarse_cell=areas.cell_label(home.coarse_cell),
        radius_mi=round(areas.m_to_miles(home.radius_m), 3),
        alert_categories=[Category(c) for c in home.alert_categories],
    )
