"""Fixtures shared by the test modules."""

import pytest

from tests.sites import make_site


@pytest.fixture
def site(tmp_path):
    """The generated conference site (facts one and two clicks from the root, a long page, a binary file)."""
    return make_site(tmp_path / "site")



@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL server on 127.0.0.1 for the session (Debian's postgresql package).

    Skipped with the reason when no server can be started, unless TFGRPO_REQUIRE_POSTGRES is set
    (CI sets it: there the production-store tests must run, not skip).
    """
    import os

    from tfgrpo_agents.testing.postgres import PostgresUnavailable, TemporaryPostgres

    try:
        server = TemporaryPostgres().__enter__()
    except PostgresUnavailable as exc:
        if os.environ.get("TFGRPO_REQUIRE_POSTGRES"):
            raise
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    yield server.url
    server.__exit__(None, None, None)
