"""Descriptions for analysts: the header and column comments of `sql/schema/*.sql` and `sql/views/*.sql` become
catalog comments (`COMMENT ON TABLE / VIEW / COLUMN`), so any SQL client sees them (duckdb_tables(),
duckdb_columns(), duckdb_views()), and `videokr tables` / `videokr describe` list them.

A file's description is its `-- doc:` header with its indented `--` continuation lines; a column's is the trailing
`-- ...` comment on its line in the DDL, with the indented comment lines right below it. Comments are (re)applied
only when a file's text changed (each COMMENT is a catalog change), inside the schema transaction.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import duckdb

from videokr.settings import SQL_DIR

_HEADER = re.compile(r"^--\s*(\w+):\s*(.*)$")
_CONT = re.compile(r"^--\s{2,}(\S.*)$")
_COLUMN = re.compile(r'^\s+"?([A-Za-z_]\w*)"?\s+[A-Za-z][^-]*?(?:--\s*(.*))?$')
_COLUMN_CONT = re.compile(r"^\s{8,}--\s*(.*)$")


def file_docs(text: str) -> tuple[str, dict[str, str]]:
    """(description, {column: description}) of one schema or view file."""
    doc, cols, last, in_doc = [], {}, None, False
    in_body = False
    for line in text.splitlines():
        head = _HEADER.match(line)
        if head:
            in_doc = head.group(1) == "doc"
            if in_doc:
                doc.append(head.group(2).strip())
            continue
        if in_doc and (m := _CONT.match(line)) and not line.lstrip("-").strip().upper().startswith("SELECT"):
            doc.append(m.group(1).strip())
            continue
        in_doc = False
        if re.match(r"^\s*CREATE\s+(OR\s+REPLACE\s+)?TABLE", line, re.I):
            in_body = True
            continue
        if not in_body:
            continue
        if line.strip().startswith(")"):
            in_body = False
        elif (m := _COLUMN_CONT.match(line)) and last:
            cols[last] = f"{cols.get(last, '')} {m.group(1).strip()}".strip()
        elif (m := _COLUMN.match(line)):
            last = m.group(1)
            if m.group(2):
                cols[last] = m.group(2).strip()
    return " ".join(doc), cols


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def apply_comments(con: duckdb.DuckDBPyConnection, recreated_views: set[str]) -> list[str]:
    """COMMENT ON every table, column and view whose file changed since its comments were applied (or whose view
    was just recreated). Runs inside the caller's transaction. Returns the objects commented."""
    applied = dict(con.execute("SELECT object, sha256 FROM schema_versions").fetchall())
    done = []
    for kind, folder in (("TABLE", "schema"), ("VIEW", "views")):
        for path in sorted((SQL_DIR / folder).glob("*.sql")):
            text = Path(path).read_text()
            sha = hashlib.sha256(text.encode()).hexdigest()
            key = f"comments:{path.stem}"
            if applied.get(key) == sha and path.stem not in recreated_views:
                continue
            doc, cols = file_docs(text)
            name = _name(text, kind) or path.stem
            if doc:
                con.execute(f'COMMENT ON {kind} "{name}" IS {_quote(doc)}')
            for col, note in cols.items() if kind == "TABLE" else ():
                con.execute(f'COMMENT ON COLUMN "{name}"."{col}" IS {_quote(note)}')
            con.execute("DELETE FROM schema_versions WHERE object = ?", [key])
            con.execute("INSERT INTO schema_versions VALUES (?, ?, 'schema')", [key, sha])
            done.append(name)
    return done


def _name(text: str, kind: str) -> str | None:
    m = re.search(rf"^--\s*{'table' if kind == 'TABLE' else 'view'}:\s*(\S+)", text, re.M)
    return m.group(1) if m else None


def catalog_listing(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Every table and view of the warehouse with its description (and, for tables, its row count)."""
    rows = con.execute("""SELECT table_name AS name, 'table' AS kind, comment AS description FROM duckdb_tables()
                          WHERE database_name = current_database()
                          UNION ALL
                          SELECT view_name, 'view', comment FROM duckdb_views()
                          WHERE database_name = current_database() AND NOT internal
                          ORDER BY kind, name""").fetchall()
    out = []
    for name, kind, desc in rows:
        n = con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] if kind == "table" else None
        out.append({"name": name, "kind": kind, "rows": n, "description": desc or ""})
    return out


def describe(con: duckdb.DuckDBPyConnection, name: str) -> list[dict]:
    """The columns of a table or view: name, type, description. Raises KeyError naming the known objects."""
    rows = con.execute("""SELECT column_name, data_type, comment FROM duckdb_columns()
                          WHERE database_name = current_database() AND table_name = ? ORDER BY column_index""",
                       [name]).fetchall()
    if not rows:
        known = ", ".join(r["name"] for r in catalog_listing(con))
        raise KeyError(f"no table or view {name!r}; known: {known}")
    return [{"column": c, "type": t, "description": d or ""} for c, t, d in rows]
