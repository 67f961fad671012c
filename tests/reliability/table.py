"""The reliability table: every scenario records (scenario, expected, observed, pass) before it asserts, and
conftest.py prints the rows at the end of the session. `FULL` widens the sweep (`make reliability`)."""
from __future__ import annotations

import os

FULL = os.environ.get("VIDEOKR_RELIABILITY", "").lower() == "full"
ROWS: list[tuple[str, str, str, bool]] = []


def scale(bounded: int, full: int) -> int:
    return full if FULL else bounded


def check(scenario: str, expected: str, observed, ok: bool) -> None:
    """Record a row, then assert it (a failing row still reaches the table)."""
    ROWS.append((scenario, expected, str(observed), bool(ok)))
    assert ok, f"{scenario}: expected {expected}; observed {observed}"


def render() -> str:
    if not ROWS:
        return ""
    head = ("scenario", "expected", "observed", "pass")
    cells = [head] + [(s, e, o.replace("\n", " ")[:160], "PASS" if p else "FAIL") for s, e, o, p in ROWS]
    widths = [min(w, max(len(r[i]) for r in cells)) for i, w in enumerate((48, 60, 90))]
    fmt = lambda r: " | ".join(str(r[i])[:widths[i]].ljust(widths[i]) for i in range(3)) + " | " + r[3]  # noqa: E731
    lines = [fmt(head), "-+-".join("-" * w for w in widths) + "-+-----"]
    lines += [fmt(r) for r in cells[1:]]
    n_ok = sum(1 for r in ROWS if r[3])
    lines.append(f"{n_ok}/{len(ROWS)} scenarios pass ({'full' if FULL else 'bounded'} form)")
    return "\n".join(lines)
