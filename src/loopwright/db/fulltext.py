"""Full-text search with stemming, one construct for both databases.

SQLite: an FTS5 table per searched table (``<table>_fts``: the row's id, unindexed, and the
searched columns; porter stemming), kept by triggers (migration 0009). PostgreSQL: the English
``tsvector`` of the same columns, behind a GIN index over exactly that expression. So
"invoices" finds "Invoice March" on both.

A query is reduced to its words (letters and digits) before it reaches either engine, so no
user text is ever parsed as FTS5 or ``tsquery`` syntax. ``all_words`` (searching a list) asks
for every word, as a search box does; ``any_word`` (ranking memories against a message) asks
for any of them and lets the rank sort them out.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from sqlalchemy import Boolean, ColumnElement, literal
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from loopwright.db.sqlite_inline import InlineSession

# table -> the columns searched (kept in step with migration 0009)
SEARCHED: dict[str, tuple[str, ...]] = {
    "memories": ("content",),
    "projects": ("name", "description"),
    "tasks": ("title", "description"),
    "documents": ("title", "content"),
}
MAX_WORDS = 32
_WORD = re.compile(r"[^\W_]+")

Mode = Literal["all", "any"]
# Words that say nothing about relevance, dropped from ``any`` queries: PostgreSQL's English
# stop words (its ``english.stop``, the Snowball list), so FTS5, which keeps every word, ranks
# the same words as ``to_tsquery`` does.
STOP_WORDS = frozenset(
    {
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "did",
        "do",
        "does",
        "doing",
        "don",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "s",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "t",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
    }
)


def words(q: str) -> list[str]:
    """The query's words, lower-cased, first ``MAX_WORDS`` (duplicates dropped)."""
    found: dict[str, None] = {}
    for word in _WORD.findall(q.lower()):
        found.setdefault(word[:64], None)
        if len(found) == MAX_WORDS:
            break
    return list(found)


_PLAIN = re.compile(r"[\w\s'-]*")


def plain_words(q: str) -> bool:
    """``q`` is words only (letters, digits, spaces, hyphens, apostrophes; not ``_``): a query
    with other signs ("50%", "0_0") means those signs, which full-text search drops."""
    return "_" not in q and _PLAIN.fullmatch(q) is not None and bool(words(q))


def query_words(q: str, mode: Mode) -> list[str]:
    found = words(q)
    return [w for w in found if w not in STOP_WORDS] if mode == "any" else found


def fts5_query(q: str, mode: Mode) -> str:
    """An FTS5 query of the words as quoted strings (tokenized, so stemmed, by the table)."""
    joiner = " OR " if mode == "any" else " "
    return joiner.join(f'"{w}"' for w in query_words(q, mode))


def tsquery(q: str, mode: Mode) -> str:
    """A ``to_tsquery`` text of the words (``&`` or ``|``); stop words drop out there."""
    joiner = " | " if mode == "any" else " & "
    return joiner.join(query_words(q, mode))


def pg_vector(table: str, columns: tuple[str, ...]) -> str:
    joined = " || ' ' || ".join(f"coalesce({table}.{c}, '')" for c in columns)
    return f"to_tsvector('english'::regconfig, {joined})"


def on_sqlite(session: AsyncSession) -> bool:
    return isinstance(session, InlineSession)


class TextMatch(ColumnElement[bool]):
    """``TextMatch("documents", q)``: the row of ``documents`` matches ``q`` (see module)."""

    type = Boolean()
    inherit_cache = False

    def __init__(self, table: str, q: str, mode: Mode = "all") -> None:
        self.table = table
        self.columns = SEARCHED[table]
        self.q = q
        self.mode: Mode = mode


@compiles(TextMatch, "sqlite")
def _match_sqlite(element: TextMatch, compiler: SQLCompiler, **kw: Any) -> str:
    if not words(element.q):
        return "1 = 0"
    fts = f"{element.table}_fts"
    query = compiler.process(literal(fts5_query(element.q, element.mode)), **kw)
    return f"{element.table}.id IN (SELECT id FROM {fts} WHERE {fts} MATCH {query})"


@compiles(TextMatch, "postgresql")
def _match_postgresql(element: TextMatch, compiler: SQLCompiler, **kw: Any) -> str:
    if not words(element.q):
        return "1 = 0"
    query = compiler.process(literal(tsquery(element.q, element.mode)), **kw)
    if element.table == "memories":
        vector = "memories.content_fts"
    else:
        vector = pg_vector(element.table, element.columns)
    return f"{vector} @@ to_tsquery('english'::regconfig, {query})"


def ranked_sql(sqlite: bool, table: str, where: str, limit_param: str = "limit") -> str:
    """``SELECT id, rank`` of the rows of ``table`` matching ``:q`` (already an FTS5 query on
    SQLite, a ``to_tsquery`` text on PostgreSQL) and ``where`` (over alias ``t``), best first;
    rank is positive, larger is better (negated BM25; ``ts_rank``)."""
    if sqlite:
        fts = f"{table}_fts"
        return (
            f"SELECT t.id AS id, -bm25({fts}) AS rank FROM {fts} JOIN {table} t ON t.id = {fts}.id "
            f"WHERE {fts} MATCH :q AND {where} ORDER BY bm25({fts}) LIMIT :{limit_param}"
        )
    # memories store their vector (``content_fts``, migration 0009): ranking reads it
    vector = "t.content_fts" if table == "memories" else pg_vector("t", SEARCHED[table])
    query = "to_tsquery('english'::regconfig, :q)"
    return (
        f"SELECT t.id AS id, ts_rank({vector}, {query}) AS rank FROM {table} t "
        f"WHERE {vector} @@ {query} AND {where} ORDER BY rank DESC LIMIT :{limit_param}"
    )


def engine_query(sqlite: bool, q: str, mode: Mode) -> str:
    return fts5_query(q, mode) if sqlite else tsquery(q, mode)
