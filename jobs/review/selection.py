"""Model selection from expert verdicts (the paper's human-in-the-loop pick), as pure functions plus one writer.

The rule: per step, each candidate's error rate gets a 95% Wilson score interval; a model qualifies when the
interval's upper bound is under the step's threshold (so a lucky small sample does not qualify); among qualifying
models the cheapest (price per call from `[review]`) is taken, ties broken by error rate, then name. If none
qualifies, the step has no selection and `reason` says why.

Counting: a sample is one observation however many reviewers judged it; it is an error when most of its verdicts
say error, and a tie counts as an error (a disputed output is not evidence of quality). Agreement between reviewers
is Cohen's kappa on correct/error over samples judged by at least two (the first two verdicts by time).

Configuration (`videokr.toml`), per step:

    [review.steps.generation]
    threshold = 0.05
    candidates = [{model = "gpt-x", price = 0.004}, {model = "local-vl", price = 0.0005}]
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

Z95 = 1.959963984540054     # two-sided 95% normal quantile
DEFAULT_THRESHOLD = 0.10
_LEGACY = {"qa_generation": "generation", "relevance_judging": "relevance"}   # the steps' first names


@dataclass(frozen=True)
class ModelRate:
    step: str
    model: str
    n: int
    errors: int
    error_rate: float | None
    wilson_low: float
    wilson_high: float
    threshold: float
    price: float | None
    qualifies: bool
    selected: bool
    reason: str


def wilson(errors: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion errors/n; (0, 1) when nothing was judged."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= errors <= n:
        raise ValueError(f"errors {errors} outside 0..{n}")
    p = errors / n
    denom = 1 + z * z / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, (centre - half) / denom), min(1.0, (centre + half) / denom)


def _by_sample(verdicts: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for v in sorted(verdicts, key=lambda v: (str(v.get("judged_at") or ""), v["reviewer"])):
        out.setdefault(v["sample_id"], []).append(v)
    return out


def counts(verdicts: list[dict]) -> dict[tuple[str, str], tuple[int, int]]:
    """(step, model) -> (judged samples, error samples); each verdict row has step, model, sample_id, reviewer, verdict."""
    out: dict[tuple[str, str], list[int]] = {}
    for vs in _by_sample(verdicts).values():
        errs = sum(v["verdict"] == "error" for v in vs)
        c = out.setdefault((vs[0]["step"], vs[0]["model"]), [0, 0])
        c[0] += 1
        c[1] += int(2 * errs >= len(vs))
    return {k: (n, e) for k, (n, e) in out.items()}


def cohen_kappa(pairs: list[tuple[str, str]]) -> float | None:
    """Cohen's kappa of two raters' labels; None when undefined (no pairs, or chance agreement is 1)."""
    if not pairs:
        return None
    n = len(pairs)
    labels = {a for a, _ in pairs} | {b for _, b in pairs}
    p_o = sum(a == b for a, b in pairs) / n
    p_e = sum((sum(a == k for a, _ in pairs) / n) * (sum(b == k for _, b in pairs) / n) for k in labels)
    if p_e >= 1:
        return None
    return (p_o - p_e) / (1 - p_e)


def kappa_per_step(verdicts: list[dict]) -> dict[str, dict]:
    """step -> {pairs, agreement, kappa} over samples judged by two or more reviewers (first two by time)."""
    pairs: dict[str, list[tuple[str, str]]] = {}
    for vs in _by_sample(verdicts).values():
        if len(vs) >= 2:
            pairs.setdefault(vs[0]["step"], []).append((vs[0]["verdict"], vs[1]["verdict"]))
    return {s: {"pairs": len(p), "agreement": sum(a == b for a, b in p) / len(p), "kappa": cohen_kappa(p)}
            for s, p in pairs.items()}


def select(step: str, models: list[str], n_errors: dict[str, tuple[int, int]], threshold: float,
           prices: dict[str, float | None]) -> tuple[list[ModelRate], str]:
    """Apply the rule to one step. Returns (a row per model, the step's outcome: what was picked, or why nothing)."""
    rows = []
    for m in sorted(models):
        n, e = n_errors.get(m, (0, 0))
        low, high = wilson(e, n)
        price = prices.get(m)
        ok = n > 0 and high < threshold
        if n == 0:
            why = "no judged samples"
        elif ok:
            why = f"upper bound {high:.3f} < threshold {threshold:.3f}"
        else:
            why = f"upper bound {high:.3f} >= threshold {threshold:.3f} ({e} errors in {n})"
        if ok and price is None:
            why += "; no price configured, so it cannot be the cheapest"
        rows.append(ModelRate(step, m, n, e, e / n if n else None, low, high, threshold, price, ok, False, why))
    eligible = sorted((r for r in rows if r.qualifies and r.price is not None),
                      key=lambda r: (r.price, r.error_rate, r.model))
    if not eligible:
        judged = [r for r in rows if r.n]
        if not judged:
            return rows, f"no selection: no sample of step {step} has been judged yet"
        best = min(judged, key=lambda r: (r.wilson_high, r.model))
        if any(r.qualifies for r in rows):
            return rows, f"no selection: models under the threshold have no price in [review.steps.{step}]"
        return rows, (f"no selection: no model's 95% upper bound is under the threshold {threshold:.3f} "
                      f"(lowest: {best.wilson_high:.3f}, {best.errors} errors in {best.n}); judge more samples "
                      f"or widen the pool")
    pick = eligible[0]
    rows = [ModelRate(**{**asdict(r), "selected": True,
                         "reason": r.reason + f"; selected: cheapest of {len(eligible)} qualifying at {r.price:g}/call"})
            if r.model == pick.model else r for r in rows]
    return rows, (f"selected {pick.model}: cheapest of {len(eligible)} qualifying model(s) at {pick.price:g}/call, "
                  f"error rate {pick.error_rate:.3f} (95% CI {pick.wilson_low:.3f}-{pick.wilson_high:.3f})")


def step_config(review: dict, step: str) -> tuple[float, dict[str, float | None]]:
    """(threshold, model -> price per call) of a step from the `[review]` table of videokr.toml."""
    steps = review.get("steps", {}) or {}
    cfg = dict(steps.get(step) or steps.get(_LEGACY.get(step, ""), {}))
    threshold = float(cfg.get("threshold", review.get("threshold", DEFAULT_THRESHOLD)))
    prices = {}
    for c in cfg.get("candidates", []):
        name = c.get("model") or c.get("name")
        prices[name] = float(c["price"]) if c.get("price") is not None else None
    if not steps:                    # the embedded world's pool (jobs/sources/offline_pool.py) prices its own models
        from jobs.sources.offline_pool import POOL
        prices = {m.name: m.price for m in POOL.values() if m.step == step}
    return threshold, prices


def summarize(verdicts: list[dict], models_per_step: dict[str, list[str]], review: dict) -> dict[str, dict]:
    """step -> {threshold, rows, outcome, selected, kappa}: everything the summary view and `record` need."""
    nm = counts(verdicts)
    kappas = kappa_per_step(verdicts)
    out = {}
    for step, models in sorted(models_per_step.items()):
        threshold, prices = step_config(review, step)
        rows, outcome = select(step, models, {m: nm[(s, m)] for s, m in nm if s == step}, threshold, prices)
        out[step] = {"threshold": threshold, "rows": [asdict(r) for r in rows], "outcome": outcome,
                     "selected": next((r.model for r in rows if r.selected), None),
                     "kappa": kappas.get(step, {"pairs": 0, "agreement": None, "kappa": None})}
    return out


def record(wh, run, review: dict, steps: list[str] | None = None) -> dict[str, dict]:
    """Compute the selection from the warehouse's verdicts and write `model_selection` (the steps' rows replaced).
    Returns the summary per step."""
    from jobs.review import samples
    per_step = samples.models_per_step(wh)
    if steps is not None:
        per_step = {s: m for s, m in per_step.items() if s in steps}
    summary = summarize(samples.verdict_rows(wh), per_step, review)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = [{**r, "reason": r["reason"] if r["selected"] else f"{r['reason']}; step: {s['outcome']}",
             "kappa": s["kappa"]["kappa"], "decided_at": now}
            for s in summary.values() for r in s["rows"]]
    run.write("model_selection", rows, scope={"step": list(per_step)})
    return summary
