"""What page tests share: reading a form's CSRF token and its error message."""

from __future__ import annotations

import html
import re

HTML = {"accept": "text/html"}


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF token in the page"
    return match.group(1)


def form_error(page: str) -> str:
    """The form's error message, as the person reads it (entities decoded)."""
    match = re.search(r'class="error" role="alert">([^<]*)<', page)
    return html.unescape(match.group(1)) if match else ""
