"""Golden-test options: `pytest tests/golden --update-golden` rewrites the expected files.

pytest only reads options from conftest files it loads at start-up, which includes this one when the
run names tests/golden (or a file in it). For a run from elsewhere, `TEAMBEAT_UPDATE_GOLDEN=1` does
the same.
"""

from __future__ import annotations

import os

import pytest

UPDATE_ENV = "TEAMBEAT_UPDATE_GOLDEN"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/golden/expected/* from the current templates and renderers",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    from_option = bool(request.config.getoption("--update-golden", default=False))
    return from_option or os.environ.get(UPDATE_ENV, "") not in ("", "0")
