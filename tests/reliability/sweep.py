"""Helpers of the bad-input sweep: what the warehouse held before a stage run on bad input, so a case can show that
nothing already written was lost (every natural key present before is present after), and the quarantine rows."""
from __future__ import annotations


def keys(settings) -> dict[str, set[tuple]]:
    """table -> the set of its natural keys (as text), for every table of the registry, read in one statement."""
    from warehouse import Warehouse
    from warehouse.schema import table
    with Warehouse(settings, read_only=True) as wh:
        cols = {name: ", ".join(f'"{c}"::VARCHAR' for c in table(name).key) for name in wh.tables()}
        parts = [f"SELECT '{name}' AS t, list(DISTINCT [{c}]) FROM \"{name}\"" for name, c in cols.items()]
        rows = wh.con.execute(" UNION ALL ".join(parts)).fetchall()
    return {name: {tuple(k) for k in ks or []} for name, ks in rows}


def lost(before: dict[str, set], after: dict[str, set]) -> dict[str, int]:
    """table -> how many keys present before are gone after (empty: nothing lost)."""
    return {t: len(k - after.get(t, set())) for t, k in before.items() if k - after.get(t, set())}


def quarantine(settings, stage: str) -> dict[str, dict]:
    """item -> {reason, detail} of the stage's quarantine rows."""
    from warehouse import Warehouse
    with Warehouse(settings, read_only=True) as wh:
        rows = wh.query("SELECT item, reason, detail FROM quarantine WHERE stage = ?", [stage]).to_dicts()
    return {r["item"]: r for r in rows}


def named(row: dict | None, *words: str) -> bool:
    """A quarantine row exists, has a reason, and its reason + detail name every one of `words`."""
    if not row or not row.get("reason"):
        return False
    text = f"{row['reason']} {row.get('detail') or ''}"
    return all(w in text for w in words)


def stored(text: str) -> str:
    """How the warehouse stores a text value: a NUL as the four characters \\x00 (warehouse/writes.py)."""
    return text.replace("\x00", "\\x00")
