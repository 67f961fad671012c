"""Model selection from verdicts: Wilson intervals and Cohen's kappa against hand-computed values, and the rule."""
from __future__ import annotations

import pytest

from jobs.review.selection import cohen_kappa, counts, kappa_per_step, select, step_config, wilson


@pytest.mark.parametrize("errors,n,low,high", [
    (5, 100, 0.02154, 0.11175),   # p=.05: (0.05 + 0.01921 -/+ 1.96*sqrt(0.000475 + 0.0000960)) / 1.03841
    (0, 10, 0.0, 0.27753),        # z^2/n / (1 + z^2/n) = 0.38415 / 1.38415
    (0, 100, 0.0, 0.03699),
    (2, 4, 0.15004, 0.84996),     # symmetric around 1/2
    (10, 10, 0.72247, 1.0),
])
def test_wilson_matches_hand_computed_values(errors, n, low, high):
    lo, hi = wilson(errors, n)
    assert lo == pytest.approx(low, abs=6e-5) and hi == pytest.approx(high, abs=6e-5)


def test_wilson_without_samples_is_uninformative_and_rejects_bad_counts():
    assert wilson(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson(5, 4)


def test_cohen_kappa_matches_the_textbook_example():
    # 50 items: both yes 20, A yes/B no 5, A no/B yes 10, both no 15 -> p_o = .7, p_e = .5*.6 + .5*.4 = .5
    pairs = [("y", "y")] * 20 + [("y", "n")] * 5 + [("n", "y")] * 10 + [("n", "n")] * 15
    assert cohen_kappa(pairs) == pytest.approx(0.4)
    assert cohen_kappa([("a", "b"), ("b", "a")]) == pytest.approx(-1.0)
    assert cohen_kappa([("a", "a")] * 3) is None          # chance agreement 1: undefined
    assert cohen_kappa([]) is None


def _v(sid, reviewer, verdict, t, model="m1", step="generation"):
    return {"step": step, "model": model, "sample_id": sid, "reviewer": reviewer, "verdict": verdict, "judged_at": t}


def test_a_sample_counts_once_and_a_split_decision_is_an_error():
    vs = [_v("s1", "a", "correct", 1), _v("s1", "b", "error", 2),                           # tie -> error
          _v("s2", "a", "correct", 1), _v("s2", "b", "correct", 2), _v("s2", "c", "error", 3),  # majority correct
          _v("s3", "a", "error", 1, model="m2")]
    assert counts(vs) == {("generation", "m1"): (2, 1), ("generation", "m2"): (1, 1)}
    k = kappa_per_step(vs)["generation"]     # pairs (first two by time): (correct, error), (correct, correct)
    assert k["pairs"] == 2 and k["agreement"] == 0.5 and k["kappa"] == pytest.approx(0.0)


def test_cheapest_qualifying_model_is_selected_ties_by_error_rate():
    n_err = {"a": (100, 0), "b": (100, 1), "c": (100, 0), "d": (100, 9)}     # b: upper 0.0545
    prices = {"a": 0.02, "b": 0.01, "c": 0.01, "d": 0.001}
    rows, outcome = select("solving", list(n_err), n_err, 0.06, prices)
    by = {r.model: r for r in rows}
    assert [r.model for r in rows if r.qualifies] == ["a", "b", "c"]         # d: upper 0.163 >= 0.06
    assert by["c"].selected and not by["b"].selected and not by["a"].selected  # b, c cost the same; c has 0 errors
    assert outcome.startswith("selected c") and sum(r.selected for r in rows) == 1


def test_no_model_qualifies_gives_no_selection_and_says_why():
    rows, outcome = select("cot_validation", ["x", "y", "z"], {"x": (100, 8), "y": (20, 0)}, 0.05,
                           {"x": 0.1, "y": 0.1, "z": 0.1})
    assert not any(r.selected or r.qualifies for r in rows)
    assert "no selection" in outcome and "0.05" in outcome
    assert {r.model: r.reason for r in rows}["z"] == "no judged samples"
    _, nothing = select("relevance", ["x"], {}, 0.05, {"x": 1.0})
    assert "no sample of step relevance has been judged" in nothing


def test_a_qualifying_model_without_a_price_is_never_the_cheapest():
    rows, outcome = select("solving", ["free?"], {"free?": (100, 0)}, 0.05, {})
    assert rows[0].qualifies and not rows[0].selected and "no price" in outcome


def test_step_config_reads_threshold_and_prices():
    review = {"threshold": 0.2, "steps": {"solving": {"threshold": 0.05, "candidates": [
        {"model": "m1", "price": 0.5, "endpoint": "http://x"}, {"name": "m2"}]}}}
    assert step_config(review, "solving") == (0.05, {"m1": 0.5, "m2": None})
    assert step_config(review, "generation") == (0.2, {})
