"""SQL conditions written in cxe.yml (a criterion's `filter`, an error rule): parsed with SQLGlot in
the engine's dialect, and refused unless they are one condition on a row that cannot change the query
they are pasted into."""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError, TokenError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.parser import Parser
from sqlglot.tokens import Token, TokenType

from .answers import first_line

EXAMPLE = "route = '/checkout'"

# SQLAlchemy backend names (URL.get_backend_name()) → SQLGlot dialects. Unknown: generic parsing.
_DIALECTS = {
    "postgresql": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlite": "sqlite",
    "snowflake": "snowflake",
    "bigquery": "bigquery",
    "clickhouse": "clickhouse",
    "databricks": "databricks",
    "spark": "spark",
    "hive": "hive",
    "trino": "trino",
    "presto": "presto",
    "redshift": "redshift",
    "mssql": "tsql",
    "oracle": "oracle",
    "duckdb": "duckdb",
}

# Keywords that begin a statement of their own rather than a condition.
_STATEMENT_STARTS = frozenset(Parser.STATEMENT_PARSERS) | {
    TokenType.SELECT,
    TokenType.WITH,
    TokenType.VALUES,
    TokenType.FROM,
    TokenType.TABLE,
    TokenType.COMMAND,
}
# Statements and queries, which have no place inside a condition on a row.
_STATEMENTS = (exp.Query, exp.Subquery, exp.DDL, exp.DML, exp.Drop, exp.Command)
# Arithmetic and text operators: a number or a string, never true or false, whatever the columns.
_ARITHMETIC = (
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.IntDiv,
    exp.Mod,
    exp.Pow,
    exp.Neg,
    exp.DPipe,
    exp.BitwiseAnd,
    exp.BitwiseOr,
    exp.BitwiseXor,
    exp.BitwiseNot,
    exp.BitwiseLeftShift,
    exp.BitwiseRightShift,
)
_TRUTH = {exp.DataType.Type.BOOLEAN, exp.DataType.Type.UNKNOWN, exp.DataType.Type.NULL}
_REQUIRED = re.compile(r"Required keyword: '\w+' missing for <class '[\w.]+\.(\w+)'>")


def dialect_for_backend(backend: str | None) -> str | None:
    """The SQLGlot dialect of a SQLAlchemy backend name (`postgresql`, `mssql`...); None (generic
    SQL) for a backend SQLGlot does not know or a URL not known until run time."""
    return _DIALECTS.get((backend or "").lower())


def check_condition(text: str, dialect: str | None, *, example: str = EXAMPLE) -> str | None:
    """Why `text` is not one SQL condition on a row that can be pasted as `WHERE (<text>)` without
    changing the query; None when it is. The answer names what was found and what is expected."""
    expected = f"expected one SQL condition such as {example}"
    if not text.strip():
        return f"is empty; {expected}"
    try:
        tokens = sqlglot.tokenize(text, read=dialect)
    except TokenError as exc:
        return f"cannot be read as SQL ({first_line(exc)}: an unclosed quote?); {expected}"
    if not tokens:
        return f"holds only an SQL comment; {expected}"
    problem = _token_problem(text, tokens)
    if problem:
        return f"{problem}; {expected}"
    try:
        # Parsed as a condition, never as a statement: nothing falls back to a raw command.
        condition = sqlglot.parse_one(text, read=dialect, into=exp.Condition)
    except ParseError as exc:
        first = tokens[0]
        if first.token_type in _STATEMENT_STARTS and _failed_at(exc, first):
            return f"is a {first.text.upper()} statement, not a condition; {expected}"
        return f"is not valid SQL: {_parse_error(text, exc)}; {expected}"
    except SqlglotError as exc:
        return f"is not valid SQL: {first_line(exc)}; {expected}"
    problem = _node_problem(condition, dialect) or _structure_problem(text, condition, dialect)
    if problem is None:
        problem = _type_problem(condition, dialect)
    return f"{problem}; {expected}" if problem else None


def _token_problem(text: str, tokens: list[Token]) -> str | None:
    """Comments, `;` and a `)` that closes what the text did not open: each would let the text
    reach past the parentheses it is pasted into, or hide what it does."""
    depth = 0
    for token in tokens:
        if token.comments:
            shown = " ".join(c.strip() for c in token.comments)[:40]
            return f"holds an SQL comment ({shown!r}): comments (-- or /* */) can hide text"
        if token.token_type == TokenType.SEMICOLON:
            return f"holds a ';'{_place(text, token.start)}, which ends a statement"
        if token.token_type == TokenType.L_PAREN:
            depth += 1
        elif token.token_type == TokenType.R_PAREN:
            depth -= 1
            if depth < 0:
                return (
                    f"closes a parenthesis it did not open (the ')'{_place(text, token.start)}), "
                    "which would reach outside the filter"
                )
    return None


def _node_problem(condition: exp.Expr, dialect: str | None) -> str | None:
    """A statement, subquery, parameter or aggregate anywhere in the condition."""
    if isinstance(condition, exp.Query):
        return f"is a {condition.key.upper()} query, not a condition"
    if isinstance(condition, _STATEMENTS):
        return f"is a {condition.key.upper()} statement, not a condition"
    for node in condition.walk():
        if isinstance(node, exp.Query | exp.Subquery):
            shown = _shown(node.this if isinstance(node, exp.Subquery) else node, dialect)
            return f"holds a subquery ({shown}); a filter is a condition on a row's own columns"
        if isinstance(node, _STATEMENTS):
            return f"holds a {node.key.upper()} statement ({_shown(node, dialect)})"
        if isinstance(node, exp.Star):
            return f"holds * ({_shown(node.parent or node, dialect)}); name the columns"
        if isinstance(node, exp.Placeholder | exp.Parameter):
            return f"holds a parameter ({_shown(node, dialect)}); write the value itself"
        if isinstance(node, exp.AggFunc | exp.Window):
            what = "an aggregate" if isinstance(node, exp.AggFunc) else "a window function"
            shown = _shown(node, dialect)
            return f"holds {what} ({shown}); a filter is a condition on each row, not on a group"
    return None


def _structure_problem(text: str, condition: exp.Expr, dialect: str | None) -> str | None:
    """The text pasted as the engines will paste it must read back as one SELECT whose WHERE is one
    parenthesised condition: this one, whole."""
    found = f"would change the query it narrows (pasted as WHERE ({_shorten(text)}))"
    try:
        pasted = sqlglot.parse(f"SELECT * FROM t WHERE ({text})", read=dialect)
    except SqlglotError:
        return found
    if len(pasted) != 1 or not isinstance(pasted[0], exp.Select):
        return found
    select = pasted[0]
    where = select.args.get("where")
    if where is None or not isinstance(where.this, exp.Paren) or where.this.this != condition:
        return found
    rest = select.copy()
    rest.set("where", None)
    if rest != sqlglot.parse_one("SELECT * FROM t", read=dialect):
        return found
    return None


def _type_problem(condition: exp.Expr, dialect: str | None) -> str | None:
    """A value SQLGlot can tell is not true or false: a number, a text, arithmetic. A bare column or
    a function it does not know may be a boolean, and passes."""
    if isinstance(condition, exp.Null):
        return "is NULL, not a condition"
    if isinstance(condition, _ARITHMETIC):
        return f"is a calculation ({_shown(condition, dialect)}), not true or false"
    try:
        kind = annotate_types(condition.copy(), dialect=dialect).type
    except SqlglotError:
        return None  # the engine judges what SQLGlot cannot type
    if kind is None or kind.this in _TRUTH:
        return None
    shown = _shown(condition, dialect)
    return f"is a value of type {kind.sql(dialect=dialect)} ({shown}), not true or false"


def _failed_at(exc: ParseError, token: Token) -> bool:
    error = exc.errors[0] if exc.errors else {}
    return error.get("line") == token.line and error.get("col") == token.col


def _parse_error(text: str, exc: ParseError) -> str:
    error = exc.errors[0] if exc.errors else {}
    description = str(error.get("description") or first_line(exc))
    highlight = str(error.get("highlight") or "").strip()
    line, col = error.get("line"), error.get("col")
    where = ""
    if isinstance(line, int) and isinstance(col, int):
        col = max(1, col - len(highlight) + 1)  # SQLGlot counts to the token's end; say its start
        where = f" at line {line}, column {col}" if "\n" in text.strip() else f" at column {col}"
    if description.startswith("Invalid expression / Unexpected token") and highlight:
        return f"unexpected {highlight!r}{where}"
    required = _REQUIRED.match(description)
    if required:
        return f"{highlight or required.group(1)!r}{where} is missing what follows it"
    return f"{description}{where}"


def _place(text: str, offset: int | None) -> str:
    """` at column 7` (or ` at line 2, column 3` in a text of several lines), 1-based."""
    if offset is None:
        return ""
    before = text[:offset]
    line = before.count("\n") + 1
    column = offset - (before.rfind("\n") + 1) + 1
    return f" at line {line}, column {column}" if "\n" in text.strip() else f" at column {column}"


def _shown(node: exp.Expr, dialect: str | None) -> str:
    return _shorten(node.sql(dialect=dialect))


def _shorten(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
