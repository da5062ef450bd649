"""A PostgreSQL database of a benchmark's own, so benchmarks never touch the test database."""

from __future__ import annotations

import sqlalchemy as sa

from evac.settings import normalise_database_url


def postgres_bench_url(server_url: str, database: str) -> str | None:
    """Drop and recreate the bench's own database on the server; None if the server is unreachable."""
    server = sa.make_url(normalise_database_url(server_url))
    engine = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
    except sa.exc.OperationalError as exc:
        print(f"  PostgreSQL at {server_url} not reachable ({type(exc).__name__}); skipped")
        return None
    finally:
        engine.dispose()
    return server.set(database=database).render_as_string(hide_password=False)
