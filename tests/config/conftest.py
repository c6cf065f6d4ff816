"""Fixtures of the hostile-input tests: one sandboxed CLI process for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.config.sandbox import Sandbox


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox()
    yield box
    box.close()
