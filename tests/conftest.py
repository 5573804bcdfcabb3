"""Fixtures shared by the test modules."""

import pytest

from tests.sites import make_site


@pytest.fixture
def site(tmp_path):
    """The generated conference site (facts one and two clicks from the root, a long page, a binary file)."""
    return make_site(tmp_path / "site")

