"""The benchmarks' services: a scratch database on a local PostgreSQL server, Redis on its own database."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

# The throttle comparison's scratch database, also the name a refused scratch name is told to use.
SCRATCH_DATABASE = "portal_throttle_bench"
# The scratch database is dropped and created again: never these.
PROTECTED_DATABASES = frozenset({"portal", "portal_ci", "portal_dev", "postgres", "template0", "template1"})
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True, slots=True)
class PostgresServer:
    host: str
    port: int
    user: str | None
    password: str | None
    maintenance_database: str  # what DATABASE_URL names; only connected to, to create and drop
    scratch: str

    @classmethod
    def parse(cls, url: str, scratch: str) -> "PostgresServer":
        parts = urlsplit(url)
        if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
            raise SystemExit(f"DATABASE_URL must be a postgres:// URL, not {parts.scheme}://.")
        if parts.hostname not in LOCAL_HOSTS:
            raise SystemExit(f"The benchmark only uses a local PostgreSQL server, not {parts.hostname!r}.")
        if scratch in PROTECTED_DATABASES:
            raise SystemExit(
                f"Refusing to use the database {scratch!r} as the scratch database: the benchmark drops "
                f"and creates it. Use a scratch name such as {SCRATCH_DATABASE}."
            )
        return cls(
            host=parts.hostname,
            port=parts.port or 5432,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            maintenance_database=unquote(parts.path.lstrip("/")) or "postgres",
            scratch=scratch,
        )

    @property
    def scratch_url(self) -> str:
        credentials = ""
        if self.user:
            credentials = self.user + (f":{self.password}" if self.password else "") + "@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"postgres://{credentials}{host}:{self.port}/{self.scratch}"

    def _connect(self, database: str) -> Any:
        import psycopg

        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database,
            autocommit=True,
            connect_timeout=10,
        )

    def _execute(self, statement: str) -> None:
        from psycopg import sql

        with self._connect(self.maintenance_database) as connection:
            connection.execute(sql.SQL(statement).format(name=sql.Identifier(self.scratch)))

    def create(self) -> None:
        self.drop()
        self._execute("CREATE DATABASE {name}")

    def drop(self) -> None:
        # FORCE (PostgreSQL 13+) ends the sessions a killed run left behind.
        self._execute("DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def describe(self) -> tuple[str, int]:
        """The server's version and how many connections an ordinary session may still open."""
        with self._connect(self.maintenance_database) as connection:
            version = connection.execute("SHOW server_version").fetchone()[0]
            maximum = int(connection.execute("SHOW max_connections").fetchone()[0])
            reserved = int(connection.execute("SHOW superuser_reserved_connections").fetchone()[0])
            in_use = int(connection.execute("SELECT count(*) FROM pg_stat_activity").fetchone()[0])
        return f"PostgreSQL {version}", maximum - reserved - in_use


def redis_url_on_database(url: str, database: int) -> str:
    """REDIS_URL with its database number replaced by `database`."""
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss"}:
        raise SystemExit(f"REDIS_URL must be a redis:// or rediss:// URL, not {parts.scheme}://.")
    if "db=" in parts.query:
        raise SystemExit("Give the Redis database with --redis-db, not as ?db= in REDIS_URL.")
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))
