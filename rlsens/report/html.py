"""Rendering the single self-contained page with jinja2 (autoescape on for every value)."""

from __future__ import annotations

from typing import Any

import jinja2

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("rlsens.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_index(**context: Any) -> str:
    """The HTML of index.html. Every string from suites or results is escaped by jinja2."""
    return _ENV.get_template("index.html.j2").render(**context)
