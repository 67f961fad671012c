"""The candidate pool per reviewed step, from `[review]` in videokr.toml, and whether stages need approved models.

    [review]
    sample_size = 100                      # pilot items per model and step (default 100, the paper's)
    threshold = 0.10                       # default error-rate threshold
    require_approved_models = true         # default: true when a real endpoint is configured (see `require_approved`)
    [review.steps.qa_generation]
    threshold = 0.05
    sample_size = 100
    candidates = [
      {model = "gpt-4o", price = 0.004, backend = "openai", base_url = "https://api.openai.com/v1",
       api_key_env = "OPENAI_API_KEY"},
      {model = "qwen2.5-vl-72b", price = 0.0008, backend = "openai", base_url = "http://vllm:8000/v1",
       api_key_env = ""},
    ]

Steps: keyword_expansion, relevance_judging, qa_generation, solving, cot_validation (the roles each step's model
plays are in jobs/llm/config.py STEP_ROLES). A candidate's endpoint keys are the model layer's role keys (backend,
base_url, api_key_env, api_version, rpm, ...). `[review.steps.generation]` / `.relevance` (the first names) are read
as qa_generation / relevance_judging.

With no `[review.steps]` and every role offline, the embedded world's pool applies (jobs/sources/offline_pool.py:
three offline generators and three offline solvers of known, different error rates), so selection has a right answer.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from jobs.llm.config import BACKENDS, STEP_ROLES, ConfigError, load as load_llm

STEPS = tuple(STEP_ROLES)
ALIASES = {"generation": "qa_generation", "relevance": "relevance_judging"}
DEFAULT_SAMPLE_SIZE = 100
DEFAULT_THRESHOLD = 0.10
# stage -> the reviewed steps whose models it calls (checked when its model layer starts)
STAGE_STEPS = {"collect": ("keyword_expansion",), "screen": ("relevance_judging",),
               "generate": ("qa_generation",), "verify": ("solving", "cot_validation")}
_ENDPOINT_KEYS = ("backend", "base_url", "api_key_env", "api_version", "rpm", "tpm", "concurrency", "timeout_s",
                  "max_tokens_param", "extra_body", "json_schema")


@dataclass(frozen=True)
class Candidate:
    model: str
    price: float | None
    endpoint: dict = field(default_factory=dict, hash=False)   # model-layer role keys, model included

    @property
    def real(self) -> bool:
        return self.endpoint.get("backend", "offline") != "offline"


@dataclass(frozen=True)
class StepPool:
    step: str
    threshold: float
    sample_size: int
    candidates: tuple[Candidate, ...]

    def candidate(self, model: str) -> Candidate:
        for c in self.candidates:
            if c.model == model:
                return c
        raise ConfigError(f"[review.steps.{self.step}]: no candidate {model!r} "
                          f"(candidates: {', '.join(c.model for c in self.candidates)})")


def section(settings) -> dict:
    return dict(settings.section("review")) if settings is not None else {}


def _candidate(step: str, c: dict) -> Candidate:
    model = c.get("model") or c.get("name")
    if not model:
        raise ConfigError(f"[review.steps.{step}]: a candidate without a model: {c}")
    ep = {k: c[k] for k in _ENDPOINT_KEYS if k in c}
    if isinstance(c.get("endpoint"), dict):
        ep.update({k: v for k, v in c["endpoint"].items() if k in _ENDPOINT_KEYS})
    ep.setdefault("backend", "offline")
    if ep["backend"] not in BACKENDS:
        raise ConfigError(f"[review.steps.{step}] candidate {model!r}: backend must be one of {BACKENDS}")
    price = c.get("price")
    return Candidate(model, None if price is None else float(price), {**ep, "model": model})


def _embedded() -> dict:
    from jobs.sources.offline_pool import POOL
    steps: dict[str, dict] = {}
    for m in POOL.values():
        steps.setdefault(m.step, {"candidates": []})["candidates"].append(
            {"model": m.name, "price": m.price, "backend": "offline"})
    return steps


def pools(settings, llm_all_offline: bool | None = None) -> dict[str, StepPool]:
    """step -> its pool. The embedded pool when `[review]` configures no step and every model role is offline."""
    review = section(settings)
    steps = {ALIASES.get(k, k): v for k, v in (review.get("steps") or {}).items()}
    if not steps:
        if llm_all_offline is None:
            llm_all_offline = all_offline(settings)
        steps = _embedded() if llm_all_offline else {}
    size = int(review.get("sample_size", DEFAULT_SAMPLE_SIZE))
    out = {}
    for step, cfg in steps.items():
        if step not in STEPS:
            raise ConfigError(f"[review.steps.{step}]: unknown step; steps: {', '.join(STEPS)}")
        cands = tuple(_candidate(step, c) for c in cfg.get("candidates") or [])
        if len({c.model for c in cands}) != len(cands):
            raise ConfigError(f"[review.steps.{step}]: a model is listed twice")
        n = int(cfg.get("sample_size", size))
        if n < 1:
            raise ConfigError(f"[review.steps.{step}]: sample_size must be >= 1, got {n}")
        out[step] = StepPool(step, float(cfg.get("threshold", review.get("threshold", DEFAULT_THRESHOLD))), n, cands)
    return out


def review_config(settings) -> dict:
    """The `[review]` table as jobs.review.selection reads it (thresholds and prices), the embedded pool included."""
    review = section(settings)
    steps = {s: {"threshold": p.threshold, "candidates": [{"model": c.model, "price": c.price} for c in p.candidates]}
             for s, p in pools(settings).items()}
    return {**review, "steps": steps}


def all_offline(settings) -> bool:
    cfg = load_llm(settings)
    return all(rc.backend == "offline" for rc in [cfg.default, *cfg.roles.values()])


def require_approved(settings) -> bool:
    """`[review] require_approved_models`; by default true as soon as a real endpoint is configured (a real [llm]
    role or a real candidate), false for the all-offline embedded world. A deployment that picks its models by hand
    says so explicitly with `require_approved_models = false` (logged, and recorded in the runs' params)."""
    review = section(settings)
    if "require_approved_models" in review:
        return bool(review["require_approved_models"])
    ps = pools(settings)
    return any(c.real for p in ps.values() for c in p.candidates) or not all_offline(settings)
