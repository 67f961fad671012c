"""Per-row derivations computed once, when a row is written, so that views read a small column instead of deriving
it from long text on every query (`v_dataset_stats` once ran regexes over every rationale: 6.65 s at the paper's
scale). Every writer gets them, not only the stage that usually computes them; a value the writer set is kept.
Rows written before a derived column existed get it from a one-time migration (sql/migrations/)."""
from __future__ import annotations

import re

import pyarrow as pa

_WS = re.compile(r"\s+")


def think_lengths(text: str | None) -> tuple[int, int]:
    """(words, non-blank lines) of a rationale, as the SQL in sql/migrations/verified_qa_think_lengths.sql counts
    them: whitespace-separated words of the text with spaces (only) trimmed; lines with something but spaces."""
    text = text or ""
    return len(_WS.split(text.strip(" "))), sum(1 for line in text.split("\n") if line.strip(" "))


# table -> (source column, {derived column: index in the function's tuple}, function)
DERIVED = {"verified_qa": ("think", {"think_words": 0, "think_steps": 1}, think_lengths)}


def fill(table: str, data: pa.Table) -> pa.Table:
    """`data` with the table's derived columns added, or their nulls filled, from the source column."""
    spec = DERIVED.get(table)
    if spec is None or spec[0] not in data.column_names or not data.num_rows:
        return data
    source, cols, fn = spec
    have = {c: data.column(c).to_pylist() if c in data.column_names else [None] * data.num_rows for c in cols}
    if all(v is not None for c in cols for v in have[c]):
        return data
    values = [fn(t) for t in data.column(source).to_pylist()]
    for c, i in cols.items():
        arr = pa.array([h if h is not None else v[i] for h, v in zip(have[c], values)], type=pa.int32())
        data = (data.set_column(data.column_names.index(c), c, arr) if c in data.column_names
                else data.append_column(c, arr))
    return data
