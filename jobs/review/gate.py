"""The gate between expert verdicts and the stages: wait for verdicts, decide, approve, and serve approved models.

- `progress` / `ready`: how much of each piloted step the experts have judged (the review DAG waits on it);
- `decide`: the selection from the verdicts (selection.record -> model_selection) and, per step with a pick,
  the figures a lead approves (the body of the DAG's ApprovalOperator);
- `approve`: the lead's answer, written to the picked row (approved, approved_by, approved_at);
- `review_models`: what the model layer serves per step: the approved model, or (pilots) the candidate; and the
  refusal, naming the step, when a stage needs a step with no approved model and approval is required.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone

from jobs.llm.config import STEP_ROLES, ConfigError
from jobs.review import pool, selection

log = logging.getLogger("videokr.review")


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


# ---------------------------------------------------------------------- serving approved models


def approved(wh) -> dict[str, str]:
    """step -> the approved selected model (model_selection.approved); {} before any review."""
    try:
        df = wh.query("SELECT step, model FROM model_selection WHERE selected AND approved ORDER BY step")
    except Exception:  # noqa: BLE001 - a read-only warehouse from before the approval columns: nothing approved
        return {}
    return dict(df.iter_rows())


@dataclass
class ReviewModels:
    endpoints: dict[str, dict] = field(default_factory=dict)   # step -> endpoint serving its roles
    approved: dict[str, str] = field(default_factory=dict)
    require: bool = False
    unapproved: set[str] = field(default_factory=set)


def refusal(step: str, stage: str | None) -> str:
    return (f"{stage or 'stage'}: step {step} has no approved model selection and [review] require_approved_models "
            f"is true: run the review DAG, judge its samples and approve the pick (model_selection.approved), "
            f"or set require_approved_models = false")


def review_models(settings, wh, pilot: dict[str, dict] | None = None) -> ReviewModels:
    """The models a layer built on `wh` (a stage Run, a Warehouse or None) serves per reviewed step. For a stage
    run, records the approved models (or the steps it runs unapproved) in the run's params, and raises ConfigError
    naming the first step it needs that lacks an approval when approval is required."""
    pilot = dict(pilot or {})
    stage = getattr(wh, "stage", None)
    ok = {} if wh is None else approved(getattr(wh, "wh", wh))
    pools = pool.pools(settings) if ok else {}
    rv = ReviewModels(approved=ok)
    for step, model in ok.items():
        if step in pilot:
            continue
        if step not in pools:
            raise ConfigError(f"step {step}: the approved model {model!r} is not in [review.steps.{step}]; restore "
                              f"it or review the step again")
        rv.endpoints[step] = pools[step].candidate(model).endpoint
    rv.endpoints.update(pilot)
    rv.require = not pilot and pool.require_approved(settings)
    rv.unapproved = set(STEP_ROLES) - set(rv.endpoints)
    needed = pool.STAGE_STEPS.get(stage, ())
    if stage is not None and isinstance(getattr(wh, "params", None), dict):
        used = {s: ok[s] for s in needed if s in ok and s not in pilot}
        if used:
            wh.params["approved_models"] = used
        missing = [s for s in needed if s in rv.unapproved]
        if missing and not rv.require:
            wh.params["models_not_approved"] = missing
            log.warning("%s: models of %s are not human-approved (require_approved_models = false)",
                        stage, ", ".join(missing))
    if rv.require:
        for step in needed:
            if step in rv.unapproved:
                raise ConfigError(refusal(step, stage))
    return rv


# ---------------------------------------------------------------------- waiting for verdicts


def progress(wh, steps: list[str] | None = None) -> dict[str, dict]:
    """step -> {samples, judged}: samples with at least one verdict."""
    df = wh.query("""SELECT s.step, count(*) AS samples, count(v.sample_id) AS judged
                     FROM review_samples s
                     LEFT JOIN (SELECT DISTINCT sample_id FROM review_verdicts) v USING (sample_id)
                     GROUP BY s.step ORDER BY s.step""")
    out = {r["step"]: {"samples": r["samples"], "judged": r["judged"]} for r in df.iter_rows(named=True)}
    return {s: out.get(s, {"samples": 0, "judged": 0}) for s in (steps or out)}


def ready(settings, steps: list[str] | None = None, min_judged: float = 1.0) -> tuple[bool, dict]:
    """(every step with samples has at least `min_judged` of them judged, the progress)."""
    from warehouse import Warehouse
    with Warehouse(settings, read_only=True) as wh:
        prog = progress(wh, steps)
    live = {s: p for s, p in prog.items() if p["samples"]}
    done = bool(live) and all(p["judged"] >= min_judged * p["samples"] for p in live.values())
    return done, prog


# ---------------------------------------------------------------------- deciding and approving


def body(step: str, s: dict) -> str:
    """The figures a lead approves (Markdown): per model n, errors, error rate, 95% Wilson interval, price, pick."""
    lines = [f"**Step `{step}`**: threshold {s['threshold']:.3f} on the 95% upper bound; "
             f"rule: the cheapest model under it, ties by error rate.", "",
             "| model | judged | errors | error rate | 95% Wilson | price/call | qualifies | pick |",
             "|---|---|---|---|---|---|---|---|"]
    for r in s["rows"]:
        rate = "-" if r["error_rate"] is None else f"{r['error_rate']:.3f}"
        price = "-" if r["price"] is None else f"{r['price']:g}"
        lines.append(f"| {r['model']} | {r['n']} | {r['errors']} | {rate} | {r['wilson_low']:.3f}-"
                     f"{r['wilson_high']:.3f} | {price} | {'yes' if r['qualifies'] else 'no'} | "
                     f"{'**picked**' if r['selected'] else ''} |")
    k = s["kappa"]
    lines += ["", f"Outcome: {s['outcome']}.",
              f"Agreement: kappa {k['kappa']:.2f} over {k['pairs']} doubly judged samples." if k["kappa"] is not None
              else "Agreement: no sample judged by two reviewers.",
              "", "Approve to let the stages use the picked model for this step's roles "
              f"({', '.join(STEP_ROLES[step])})."]
    return "\n".join(lines)


def decide(settings, steps: list[str] | None = None, params: dict | None = None) -> dict[str, dict]:
    """Write model_selection from the verdicts; step -> {model, outcome, body} for every step with a pick."""
    from warehouse import Warehouse, stage_run
    with Warehouse(settings) as wh, stage_run(wh, "review", {"steps": list(steps or [])},
                                             {**(params or {}), "phase": "decide"}) as run:
        summary = selection.record(wh, run, pool.review_config(settings), steps)
    out = {}
    for step, s in summary.items():
        log.info("review %s: %s", step, s["outcome"])
        if s["selected"]:
            out[step] = {"model": s["selected"], "outcome": s["outcome"], "body": body(step, s)}
    return out


def approve(settings, step: str, model: str, user: str, at: datetime | None = None) -> dict:
    """Mark `model` approved for `step` by `user`. Refuses when it is no longer the step's pick (verdicts changed
    since the lead saw the figures): the review must decide again."""
    from warehouse import Warehouse, new_run_id
    with Warehouse(settings) as wh:
        df = wh.query("SELECT * FROM model_selection WHERE step = ? AND selected", [step])
        if df.is_empty() or df["model"][0] != model:
            have = None if df.is_empty() else df["model"][0]
            raise ValueError(f"step {step}: the pick is now {have!r}, not the approved {model!r}; decide again")
        row = {**df.row(0, named=True), "approved": True, "approved_by": user, "approved_at": at or _now()}
        row.pop("run_id", None)
        wh.write("model_selection", [row], new_run_id("review-approval"))
    log.info("review %s: %s approved by %s", step, model, user)
    return row


def models_line(settings, wh) -> str:
    """One line for the run summary: whether the models in use are human-approved."""
    ok = approved(wh)
    picked = ", ".join(f"{s}={m}" for s, m in sorted(ok.items()))
    if pool.require_approved(settings):
        return f"models: human-approved selections in use ({picked or 'none'}; require_approved_models = true)"
    return ("models: not human-approved (require_approved_models = false)"
            + (f"; approved where reviewed: {picked}" if picked else ""))
