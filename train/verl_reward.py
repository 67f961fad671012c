"""verl's custom reward entry point for the `verl` export: `compute_score` scores one response with `videokr_reward`.

    python -m verl.trainer.main_ppo ... data.train_files=<export>/rl.parquet \
        reward.custom_reward_function.path=pkg://train.verl_reward reward.custom_reward_function.name=compute_score

verl ships no reward for data_source "videokr": its default scorer raises NotImplementedError for it, so the run
needs this one. verl calls it per response with the row's data_source, reward_model.ground_truth
("<answer>X</answer>") and extra_info (whose problem_type picks exact match or ROUGE). It needs `train` importable
(videokr installed in verl's environment, or the repository on PYTHONPATH).
"""
from __future__ import annotations

from train.rewards import videokr_reward

DATA_SOURCE = "videokr"


def compute_score(data_source: str, solution_str: str, ground_truth: str, extra_info: dict | None = None,
                  **_) -> float:
    """R = 0.9 * accuracy + 0.1 * format of `solution_str` (the decoded response) against `ground_truth`.
    Raises for another data source (as verl's default scorer does) and when extra_info has no problem_type:
    scoring it as an unknown type would silently pay 0 accuracy to every response."""
    if data_source != DATA_SOURCE:
        raise NotImplementedError(f"train.verl_reward scores data_source {DATA_SOURCE!r} only, got {data_source!r}")
    problem_type = (extra_info or {}).get("problem_type")
    if not problem_type:
        raise ValueError(f"verl reward: row has no extra_info.problem_type (extra_info={extra_info!r}); "
                         "the videokr export writes it for every row")
    return float(videokr_reward(solution_str, ground_truth, problem_type))
