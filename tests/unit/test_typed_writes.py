"""Writes are typed from sql/schema, never inferred from the data: a value first set after 9,999 nulls lands intact in
every column of every table, and a value that does not fit its column is an error naming table, column and row."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from warehouse.schema import registry

VALUES = {"VARCHAR": "malformed reply: {\"oops\"", "BIGINT": 2**40 + 3, "INTEGER": 7, "UBIGINT": 2**63 + 5,
          "DOUBLE": 1.5, "BOOLEAN": True, "DATE": date(2026, 12, 7), "TIMESTAMP": datetime(2026, 12, 7, 13, 8, 46),
          "VARCHAR[]": ["a", "b"], "DOUBLE[]": [0.25, 1.75]}
N = 10_000


def _key_value(typ: str, i: int):
    return {"VARCHAR": f"k{i:05d}", "BIGINT": i, "INTEGER": i, "UBIGINT": i, "DOUBLE": i + 0.5,
            "BOOLEAN": bool(i % 2), "DATE": date.fromordinal(730000 + i),
            "TIMESTAMP": datetime.fromordinal(730000 + i)}[typ]


@pytest.mark.parametrize("name", sorted(registry()))
def test_a_column_set_only_in_the_last_row_is_kept(wh, name):
    t = registry()[name]
    types = dict(t.columns)
    if "run_id" in t.key:
        pytest.skip("keyed by the writing run itself: one row per write")
    content = [c for c, _ in t.columns if c not in t.key and c != "run_id"]
    rows = [{**{k: _key_value(types[k], i) for k in t.key}, **{c: None for c in content}} for i in range(N)]
    rows[-1].update({c: VALUES[types[c]] for c in content})
    before = wh.con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]   # e.g. schema_versions' own rows
    wh.write(name, rows, "run-typed")
    cols = ", ".join(f'"{c}"' for c in content) or "1"
    last = {k: _key_value(types[k], N - 1) for k in t.key}
    where = " AND ".join(f'"{k}" = ?' for k in t.key)
    got = wh.con.execute(f'SELECT {cols} FROM "{name}" WHERE {where}', list(last.values())).fetchone()
    assert wh.con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] == before + N
    if content:
        assert dict(zip(content, got)) == {c: VALUES[types[c]] for c in content}


def test_a_value_that_does_not_fit_names_table_column_and_row(wh):
    rows = [{"call_id": f"c{i}", "tokens_in": 10} for i in range(150)] + [{"call_id": "bad", "tokens_in": "many"}]
    with pytest.raises(ValueError, match=r"llm_calls\.tokens_in: value 'many' of row \{'call_id': 'bad'\}"):
        wh.write("llm_calls", rows, "run-typed")
    assert wh.con.execute("SELECT count(*) FROM llm_calls").fetchone()[0] == 0, "nothing of a failed write lands"


def test_append_inserts_rows_as_they_are_typed_and_in_the_chunk(wh):
    """Ledgers are appended: the rows land as given (typed, stamped), nothing of the table is diffed or deleted."""
    wh.write("llm_calls", [{"call_id": "a", "tokens_in": 1}, {"call_id": "b", "tokens_in": 2}], "run-1", append=True)
    counts = wh.write("llm_calls", [{"call_id": "c", "tokens_in": 3.0}], "run-2", append=True)
    assert counts == {"inserted": 1, "deleted": 0, "unchanged": 0}
    got = wh.query("SELECT call_id, tokens_in, run_id FROM llm_calls ORDER BY call_id").rows()
    assert got == [("a", 1, "run-1"), ("b", 2, "run-1"), ("c", 3, "run-2")]
    with pytest.raises(ValueError, match="llm_calls.tokens_in"):
        wh.write_many([("llm_calls", [{"call_id": "d", "tokens_in": 4}], "run-3", None, True),
                       ("llm_calls", [{"call_id": "e", "tokens_in": "x"}], "run-3", None, True)])
    assert wh.query("SELECT count(*) AS n FROM llm_calls").item() == 3, "a failed chunk appends nothing"
