"""Database: engine factory, session factory, declarative base and column types.

Conventions (see also CONVENTIONS.md):

* integer primary keys, ``BigInteger`` on PostgreSQL and ``INTEGER`` on SQLite
  (so SQLite's rowid autoincrement works): use ``IdPk`` / ``ID_TYPE``;
* timestamps are timezone-aware UTC (``UTCDateTime``); naive datetimes are refused;
* money is ``Numeric(18, 2)`` yuan (``MONEY``), rates ``Numeric(9, 6)`` (``RATE``),
  unrounded accumulators ``ExactDecimal``, always ``Decimal`` in Python, never float;
* services never commit: the request (``get_session``) or the job owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from app.clock import now_utc
from app.config import REPO_ROOT
from app.money import MONEY_DIGITS, MONEY_PLACES

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def bytewise_text(length: int) -> sa.types.TypeEngine[str]:
    """An identifier (a bank's transaction id, a contract number) ordered byte by
    byte: collation "C" on PostgreSQL, as SQLite's text.  Equality is the same as
    under the database's locale; its index compares bytes instead of going
    through the locale (a bank file probes a million of them), and Python's
    order of the values is the index's (``sparse_rows``)."""
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


BYTEWISE_TEXT = bytewise_text(64)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """``TIMESTAMP WITH TIME ZONE``; aware UTC in, aware UTC out (also on SQLite)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: timestamps must be timezone-aware")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class ExactNumeric(TypeDecorator[Decimal]):
    """``NUMERIC(p, s)`` read and written as ``Decimal`` quantized to the scale.

    PostgreSQL stores it exactly.  SQLite has no decimal type: values are kept as
    REAL (exact to 15 significant digits, i.e. below 10^13 yuan for money) and are
    turned back into ``Decimal`` through their shortest repr, never through
    float arithmetic in Python.
    """

    impl = sa.Numeric
    cache_ok = True

    def __init__(self, precision: int, scale: int) -> None:
        super().__init__(precision, scale)
        self.quantum = Decimal(1).scaleb(-scale)

    def load_dialect_impl(self, dialect: Any) -> sa.types.TypeEngine[Any]:
        precision, scale = self.impl.precision, self.impl.scale
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Numeric(precision, scale, asdecimal=False))
        return dialect.type_descriptor(sa.Numeric(precision, scale))

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("float given for a NUMERIC column: use Decimal")
        value = Decimal(value).quantize(self.quantum)
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value)).quantize(self.quantum)


class ExactDecimal(TypeDecorator[Decimal]):
    """A ``Decimal`` of any scale kept exactly (the engine's unrounded
    accumulators): unconstrained ``NUMERIC`` on PostgreSQL, text on SQLite,
    whose REAL would round it.  Never compared or summed in SQL."""

    impl = sa.Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Text())
        return dialect.type_descriptor(sa.Numeric())

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("float given for an exact decimal column: use Decimal")
        return str(value) if dialect.name == "sqlite" else Decimal(value)

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        return None if value is None else Decimal(value)


MONEY = ExactNumeric(MONEY_DIGITS, MONEY_PLACES)
RATE = ExactNumeric(9, 6)


def money_total(amounts: sa.ColumnElement[Any]) -> sa.ColumnElement[Decimal]:
    """``SUM(amounts)`` in SQL as a ``Decimal`` of fen (0 over no rows).  Exact on
    PostgreSQL (NUMERIC); on SQLite, whose REAL sums may carry a float residue,
    ``round`` gives back the fen the amounts are."""
    return sa.type_coerce(sa.func.round(sa.func.coalesce(sa.func.sum(amounts), 0), 2), MONEY)


def enum_type(enum_cls: type[enum.StrEnum], name: str) -> sa.Enum:
    """A string column restricted to the enum's values by a CHECK constraint."""
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


IdPk = Annotated[int, mapped_column(ID_TYPE, primary_key=True, autoincrement=True)]
CreatedAt = Annotated[dt.datetime, mapped_column(UTCDateTime(), default=now_utc)]


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(
    url: str, *, echo: bool = False, pool_size: int = 5, max_overflow: int = 10
) -> Engine:
    """Engine for ``url``; SQLite gets foreign keys, WAL, a busy timeout and real
    transactions (``BEGIN IMMEDIATE``, see ``_sqlite_begin``)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(url, echo=echo, pool_pre_ping=True, pool_size=pool_size,
                                max_overflow=max_overflow)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, echo=echo, connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin,
    # so SAVEPOINTs and transactional DDL behave as on PostgreSQL.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # Every transaction takes SQLite's single write lock up front.  A deferred
    # transaction that reads and then writes fails with "database is locked"
    # when another writer got in between; an immediate one waits (busy_timeout)
    # instead.  This also makes guarded updates (quota) serial on SQLite.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(bind: Engine | Connection, **kw: Any) -> sessionmaker[Session]:
    return sessionmaker(bind=bind, expire_on_commit=False, **kw)


@contextmanager
def session_scope(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction outside a request (commands, jobs): commit or roll back."""
    with session_factory() as session, session.begin():
        yield session


def _alembic_config() -> Any:
    from alembic.config import Config

    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    return config


def migration_heads() -> set[str]:
    """The head revision(s) of the migrations shipped with this code."""
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(_alembic_config()).get_heads())


def applied_revisions(connection: Connection) -> set[str]:
    """The revision(s) the database is at (empty if never migrated)."""
    from alembic.runtime.migration import MigrationContext

    return set(MigrationContext.configure(connection).get_current_heads())


def run_migrations(engine: Engine, revision: str = "head") -> None:
    """``alembic upgrade`` to ``revision`` on ``engine``'s database."""
    from alembic import command

    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


# -- bulk reads and writes -------------------------------------------------------


def one_of(session: Session, column: sa.ColumnElement[Any], values: list[Any]
           ) -> sa.ColumnElement[bool]:
    """``column IN values`` for thousands of values (str or int), as one parameter:
    on PostgreSQL ``= ANY`` of an array sent as the text of its literal (an
    expanded IN costs a bind parameter each to build and send, and a Python
    list is adapted value by value); on SQLite the values of a JSON array
    (``json_each``: an IN has at most 32,766 parameters)."""
    if session.get_bind().dialect.name != "postgresql":
        listed = _json_values(values)
        return column.in_(sa.select(listed.c.value))
    return column == sa.any_(_pg_array(values, column.type))


def sparse_rows(session: Session, query: sa.Select, column: sa.ColumnElement[Any],
                values: list[Any], *, within: sa.ColumnElement[bool] | None = None,
                bytewise: bool = False) -> list[sa.Row]:
    """The rows of ``query`` whose ``column`` is one of ``values``, for values that
    mostly are not there and run in sequence (a bank's transaction ids in a new
    file).  First one scan of ``column``'s index (with ``within``, the equality
    leading that index) between the smallest and the largest value, of at most
    as many entries as values: usually it finds none, and nothing else is read.
    Only what it finds is looked up, or, when the range holds more entries than
    there are values, every value (``one_of``).  The range's ends are taken by
    the database (its collation orders the index), or, for a ``bytewise``
    column (``BYTEWISE_TEXT``), here: Python orders text by code point, as
    UTF-8's bytes order, and two values are sent instead of the array."""
    if bytewise:
        lowest, highest = min(values), max(values)
    else:
        if session.get_bind().dialect.name == "postgresql":
            listed = sa.func.unnest(_pg_array(values, column.type)).table_valued(
                "value").render_derived()
        else:
            listed = _json_values(values)
        lowest = sa.select(sa.func.min(listed.c.value)).scalar_subquery()
        highest = sa.select(sa.func.max(listed.c.value)).scalar_subquery()
    in_range = sa.select(column).where(column >= lowest, column <= highest)
    found = session.scalars((in_range if within is None else in_range.where(within))
                            .limit(len(values) + 1)).all()
    if len(found) <= len(values):
        values = list(set(found) & set(values))
        if not values:
            return []
    return list(session.execute(query.where(one_of(session, column, values))).all())


def plain_rows(session: Session, query: sa.Select, *, binary: bool = False
               ) -> list[tuple[Any, ...]]:
    """The rows of ``query`` as the driver gives them (tuples), fetched at once:
    on PostgreSQL through the driver's own cursor, since a SQLAlchemy row costs
    several times the driver's fetch.  For queries whose parameters and results
    need nothing of their column types (ints, text, booleans, array literals,
    bytes).  ``binary``: PostgreSQL sends the results in binary (a ``bytea`` as
    text comes hex-encoded, twice the bytes and five times the time)."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return [tuple(row) for row in connection.execute(query)]
    compiled = query.compile(dialect=connection.dialect)
    with connection.connection.cursor() as cursor:
        cursor.execute(str(compiled), compiled.params, binary=binary)
        return cursor.fetchall()


def _json_values(values: list[Any]) -> sa.TableValuedAlias:
    """``values`` as a one-column table (``value``) on SQLite: ``json_each`` of
    one JSON parameter (an IN list has at most 32,766 parameters)."""
    return sa.func.json_each(sa.bindparam(None, json.dumps(values), type_=sa.Text)
                             ).table_valued("value")


_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f\x7f"\\]')


def _pg_array(values: list[Any], type_: sa.types.TypeEngine[Any]) -> sa.ColumnElement[Any]:
    """``values`` as one parameter: the text of an array literal (psycopg would
    adapt a Python list value by value), sent untyped and cast, so PostgreSQL
    reads it as a constant array when it plans (a cast from text would be
    evaluated only at run time: no hashed ``= ANY`` in a filter then)."""
    from sqlalchemy.dialects.postgresql import ARRAY

    if values and isinstance(values[0], str) and not _NEEDS_ESCAPE.search("".join(values)):
        literal = '{"' + '","'.join(values) + '"}'  # nothing to escape: each quoted as it is
    else:
        literal = "{" + ",".join(
            str(v) if isinstance(v, int) else
            '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"
    return sa.cast(sa.bindparam(None, literal, type_=sa.types.NullType()), ARRAY(type_))


def allocate_ids(session: Session, table: sa.Table, n: int, *,
                 sequence: str | None = None) -> list[int]:
    """``n`` new ids of ``table``'s primary key, for rows written in bulk with
    their ids (so other rows can name them).  PostgreSQL draws them from
    ``sequence`` (default: the serial column's own); SQLite, whose
    transactions hold the database's write lock, counts on from the largest id."""
    if session.get_bind().dialect.name == "postgresql":
        source = (sa.func.nextval(sequence) if sequence is not None else
                  sa.func.nextval(sa.func.pg_get_serial_sequence(table.name, "id")))
        return list(session.scalars(sa.select(source).select_from(
            sa.func.generate_series(1, n))))
    top = session.scalar(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0)))
    return list(range(top + 1, top + 1 + n))


def copy_rows(session: Session, table: sa.Table, columns: tuple[str, ...],
              rows: list[tuple[Any, ...]], *, plain: frozenset[str] = frozenset()) -> None:
    """Insert ``rows`` (Python values, as for the ORM) into ``table``: ``COPY`` on
    PostgreSQL (row triggers still fire), an executemany INSERT elsewhere.
    ``plain``: as for ``row_writer``."""
    if not rows:
        return
    with row_writer(session, table, columns, plain=plain) as write:
        for row in rows:
            write(row)


@contextmanager
def row_writer(session: Session, table: sa.Table, columns: tuple[str, ...], *,
               plain: frozenset[str] = frozenset(), binary: bool = False
               ) -> Iterator[Callable[[tuple], None]]:
    """``write(row)`` for rows of ``table`` as they are produced: on PostgreSQL
    each goes into an open ``COPY``, so the database inserts while the caller
    is still producing (the session may not run other statements meanwhile);
    elsewhere they are inserted together at the end.  Values in the ``plain``
    columns are already what the driver takes (a quantized Decimal, a plain
    str), so they skip their column type's processing.  ``binary`` (every
    column plain): the ``COPY`` is in binary format, each value sent in its
    column's type, so nothing is formatted as text, escaped and parsed back
    (a fifth less work for a wide row)."""
    session.flush()
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        rows: list[tuple] = []
        yield rows.append
        if rows:
            session.execute(table.insert(),
                            [dict(zip(columns, row, strict=True)) for row in rows])
        return
    processors = [None if c in plain else _copy_processor(table.c[c].type, dialect)
                  for c in columns]
    cursor = session.connection().connection.cursor()
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    with cursor.copy(statement + (" (FORMAT BINARY)" if binary else "")) as copy:
        if binary:
            if any(processors):
                raise ValueError("a binary COPY takes plain values only")
            copy.set_types([_pg_type_name(table.c[c].type, dialect) for c in columns])
        if not any(processors):
            yield copy.write_row
            return

        def write(row: tuple) -> None:
            copy.write_row([p(v) if p and v is not None else v
                            for p, v in zip(processors, row, strict=True)])

        yield write


def _pg_type_name(type_: sa.types.TypeEngine[Any], dialect: Any) -> str:
    """The type's name as the driver knows it ("VARCHAR(64) COLLATE "C"" -> "varchar")."""
    return type_.compile(dialect=dialect).split("(")[0].split(" COLLATE")[0].strip().lower()


def _copy_processor(type_: sa.types.TypeEngine[Any], dialect: Any) -> Any:
    """How a value of ``type_`` is written in COPY's text format (JSON as its text):
    as a statement would bind it, through the dialect's own type (the generic
    ``NUMERIC``'s processor would turn a ``Decimal`` into a float)."""
    if isinstance(type_, sa.JSON):
        return json.dumps
    return type_.dialect_impl(dialect).bind_processor(dialect)


def update_rows(session: Session, table: sa.Table, key: str, rows: list[dict[str, Any]], *,
                earlier: frozenset[str] = frozenset(), plain: bool = False) -> None:
    """Update many rows of ``table`` by ``key``, each with its own values (same
    columns in every row).  A column in ``earlier`` only moves back: it becomes
    the earlier of its stored value and the given one (a stored NULL counts as
    later than any).  PostgreSQL: ``COPY`` into a temporary table and one
    ``UPDATE … FROM``; elsewhere an executemany UPDATE.  ``plain``: every value
    is already what the driver takes (``row_writer``)."""
    if not rows:
        return
    columns = [c for c in rows[0] if c != key]

    def value(column: str, given: Any) -> Any:
        stored = table.c[column]
        if column not in earlier:
            return given
        return sa.case((sa.or_(stored.is_(None), stored > given), given), else_=stored)

    if session.get_bind().dialect.name != "postgresql":
        session.execute(
            table.update().where(table.c[key] == sa.bindparam(f"_{key}"))
            .values({c: value(c, sa.bindparam(f"_{c}")) for c in columns}),
            [{f"_{k}": v for k, v in row.items()} for row in rows])
        return
    session.flush()
    # One temporary table per table and set of columns (a session may update
    # different columns of one table).
    temp = f"_update_{table.name}_{zlib.crc32(' '.join(columns).encode()):08x}"
    session.execute(sa.text(f"CREATE TEMPORARY TABLE IF NOT EXISTS {temp} ON COMMIT DELETE ROWS "
                            f"AS SELECT {', '.join([key, *columns])} FROM {table.name} "
                            "WITH NO DATA"))
    session.execute(sa.text(f"TRUNCATE {temp}"))
    names = (key, *columns)
    temp_table = sa.Table(temp, sa.MetaData(), *(sa.Column(c, table.c[c].type) for c in names))
    values = itemgetter(*names)  # a row's values in order, as a tuple (two names at least)
    copy_rows(session, temp_table, names, list(map(values, rows)),
              plain=frozenset(names) if plain else frozenset())
    # Bounded by the rows' own keys: otherwise the planner may merge-join the
    # temporary table with the table's whole primary key from its first row
    # on (the early chunks of a million loans' due day each read every loan
    # before their own range: loans 100,001-105,000 took 106 ms, 67 bounded).
    keys = [row[key] for row in rows]
    lo, hi = min(keys), max(keys)
    # Without statistics the planner guesses the temporary table's size from
    # its pages and may hash the whole bounded range of ``table`` to join a few
    # rows: when the keys are sparse (a few loans across the book), analyse it.
    # A chunk's keys fill their range, which then bounds any plan (the
    # statistics cost a due day 4 µs a loan).
    if hi - lo >= 2 * len(rows):
        session.execute(sa.text(f"ANALYZE {temp}"))
    session.execute(table.update()
                    .where(table.c[key] == temp_table.c[key],
                           table.c[key].between(lo, hi))
                    .values({c: value(c, temp_table.c[c]) for c in columns}))
