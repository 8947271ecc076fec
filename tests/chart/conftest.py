"""Fixtures for the chart tests; rendering lives in chart_render.py."""

import pytest

from chart_render import Rendered, render


@pytest.fixture(scope="session")
def defaults() -> Rendered:
    return render()
