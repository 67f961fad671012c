"""Model-layer configuration, read from the `[llm]` section of `videokr.toml`.

    [llm]
    backend = "offline"            # default backend for every role (else settings.llm_source, "offline")
    concurrency = 16               # in-flight requests per endpoint (roles sharing base_url+model share it)
    timeout_s = 120                # per HTTP request
    max_retries = 6                # transport retries: 429, 5xx, timeouts, connection errors
    malformed_retries = 2          # extra attempts when a reply does not parse/validate
    backoff_base_s = 1.0           # exponential backoff with full jitter, capped at backoff_max_s
    backoff_max_s = 60.0
    json_schema = true             # send response_format={"type": "json_schema", strict}; else parse text
    cache = true                   # content-addressed reply cache under $VIDEOKR_HOME/llm_cache/
    cache_offline = false          # the offline stand-in is free and deterministic: not cached by default
    batch_tasks = []               # tasks sent through the Batch API in call_many, e.g. ["generate_qa", "solve"]
    batch_poll_s = 30
    batch_timeout_s = 93600        # 26 h: the 24 h completion window plus slack
    batch_discount = 0.5           # Batch API price factor
    batch_fallback = true          # batch items that failed or did not parse are retried synchronously
    image_tokens = 255             # prompt-token estimate per image part (rate limiting only)
    flush_every = 1000             # call_many writes the ledger when this many rows are pending
    [llm.frames]  count = 8  max_side = 512  quality = 85
    [llm.roles.generator]          # any top-level key above may be overridden per role
    backend = "openai"             # offline | openai | azure   (vLLM, Gemini: "openai" with their base_url)
    base_url = "https://api.openai.com/v1"
    model = "gpt-4o"
    api_key_env = "OPENAI_API_KEY" # the NAME of the environment variable; "" = endpoint needs no key
    rpm = 500                      # requests per minute (0 = unlimited)
    tpm = 200000                   # tokens per minute (0 = unlimited)
    max_tokens_param = "max_tokens"  # or "max_completion_tokens" (newer OpenAI models)
    extra_body = {}                # extra request fields (vLLM guided decoding, Gemini options, ...)
    api_version = "2024-10-21"     # azure only; base_url is then the azure endpoint
    [llm.prices."gpt-4o"]  input_per_mtok = 2.5  output_per_mtok = 10.0
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any

ROLES = ("generator", "solver", "blind_solver", "cot_validator", "relevance_judge", "judge")
# Roles that must be different models (the paper's CoT validation is by an *independent* MLLM; a generator must not
# grade or re-solve its own items). Checked when a stage that uses them starts (`check_independence`).
INDEPENDENT = (("generator", "solver"), ("generator", "blind_solver"), ("generator", "cot_validator"),
               ("solver", "cot_validator"))
# The offline stand-in's model name per role (when `model` is not set): distinct per role, so the embedded world
# obeys the independence rule (solver and blind solver may be one model, as they may be in production).
OFFLINE_MODELS = {"generator": "generator", "solver": "solver", "blind_solver": "solver",
                  "cot_validator": "validator", "relevance_judge": "judge", "judge": "judge"}
BACKENDS = ("offline", "openai", "azure")
# Human-reviewed steps (jobs/review) -> the roles a step's approved model plays, and the tasks it covers. A step is
# the role's *primary* step (the one `cfg.role(name)` answers with) unless it shares the role with another step
# (keyword expansion uses the generator role): then only its tasks are routed to its model.
STEP_ROLES = {"keyword_expansion": ("generator",), "relevance_judging": ("relevance_judge",),
              "qa_generation": ("generator",), "solving": ("solver", "blind_solver"),
              "cot_validation": ("cot_validator",)}
STEP_TASKS = {"keyword_expansion": ("expand_keywords",), "relevance_judging": ("judge_relevance",),
              "qa_generation": ("generate_qa",), "solving": ("solve",), "cot_validation": ("validate_cot",)}
TASK_STEPS = {t: s for s, ts in STEP_TASKS.items() for t in ts}
ROLE_PRIMARY = {"generator": "qa_generation", "solver": "solving", "blind_solver": "solving",
                "cot_validator": "cot_validation", "relevance_judge": "relevance_judging"}


class ConfigError(ValueError):
    """The `[llm]` configuration is unusable (names the role and the setting)."""


@dataclass(frozen=True)
class RoleConfig:
    role: str
    backend: str = "offline"
    base_url: str = ""
    model: str = ""
    api_key_env: str = "OPENAI_API_KEY"
    api_version: str = ""
    rpm: int = 0
    tpm: int = 0
    concurrency: int = 16
    timeout_s: float = 120.0
    max_retries: int = 6
    malformed_retries: int = 2
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    json_schema: bool = True
    max_tokens_param: str = "max_tokens"   # "max_completion_tokens" for endpoints that require it
    image_tokens: int = 255
    extra_body: dict = field(default_factory=dict, hash=False)

    def model_name(self, standin: str = "offline-standin-v1") -> str:
        """The model this role calls: `model`, or for the offline stand-in its per-role name."""
        if self.model or self.backend != "offline":
            return self.model
        return f"{standin}-{OFFLINE_MODELS.get(self.role, self.role)}"

    @property
    def identity(self) -> tuple:
        """What makes two roles the same model: backend, endpoint and model name."""
        return (self.backend, self.base_url.rstrip("/"), self.model_name())

    @property
    def endpoint_id(self) -> tuple:
        """Roles with the same endpoint id share one client, semaphore and rate limiter."""
        return (self.backend, self.base_url, self.model, self.api_key_env, self.api_version)

    def api_key(self) -> str:
        """The secret, from the environment only. Raises naming the variable, never showing a value."""
        if not self.api_key_env:
            return "no-key"          # e.g. a local vLLM server
        key = os.environ.get(self.api_key_env)
        if not key:
            raise ConfigError(f"llm role {self.role!r}: environment variable {self.api_key_env} is not set")
        return key


@dataclass(frozen=True)
class LLMConfig:
    roles: dict[str, RoleConfig]
    default: RoleConfig
    cache: bool = True
    cache_offline: bool = False
    cache_dir: str = ""
    batch_tasks: tuple[str, ...] = ()
    batch_poll_s: float = 30.0
    batch_timeout_s: float = 93600.0
    batch_discount: float = 0.5
    batch_max_requests: int = 50000
    batch_fallback: bool = True    # batch items that fail or do not parse go through the synchronous path
    flush_every: int = 1000
    frames: dict = field(default_factory=lambda: {"count": 8, "max_side": 512, "quality": 85})
    prices: dict[str, dict[str, float]] = field(default_factory=dict)
    allow_same_model: bool = False   # run anyway when independent roles share a model (a warning, recorded in runs)
    task_roles: dict = field(default_factory=dict)   # (role, task) -> RoleConfig of a non-primary step's model
    step_models: dict = field(default_factory=dict)  # step -> model name its override set (pilot or approval)

    def role(self, name: str) -> RoleConfig:
        return self.roles.get(name) or RoleConfig(**{**_as_dict(self.default), "role": name})

    def role_for(self, role: str, task: str | None = None) -> RoleConfig:
        """The role's config for one task: a step-specific override (e.g. keyword expansion's model on the
        generator role) or the role's own."""
        return self.task_roles.get((role, task)) or self.role(role)

    def price(self, model: str) -> tuple[float, float]:
        """(input, output) USD per million tokens; (0, 0) for models without a price entry."""
        p = self.prices.get(model) or {}
        return float(p.get("input_per_mtok", 0.0)), float(p.get("output_per_mtok", 0.0))


def step_of(role: str, task: str | None = None) -> str | None:
    """The reviewed step a call of `role` (doing `task`) belongs to, or None (an unreviewed call)."""
    if task:
        for step, tasks in STEP_TASKS.items():
            if task in tasks and role in STEP_ROLES[step]:
                return step
    return ROLE_PRIMARY.get(role)


def with_steps(cfg: LLMConfig, endpoints: dict[str, dict]) -> LLMConfig:
    """`cfg` with each step's roles served by the given endpoint (keys of RoleConfig: backend, base_url, model,
    api_key_env, ...; the role's other settings are kept). Used for an approved selection and for a pilot."""
    from dataclasses import replace
    roles, tasks, models = dict(cfg.roles), dict(cfg.task_roles), dict(cfg.step_models)
    for step, ep in endpoints.items():
        if step not in STEP_ROLES:
            raise ConfigError(f"unknown reviewed step {step!r}; steps: {', '.join(STEP_ROLES)}")
        over = {k: v for k, v in ep.items() if k in _ROLE_KEYS and v is not None}
        for role in STEP_ROLES[step]:
            base = {k: v for k, v in _as_dict(cfg.role(role)).items() if k != "role"}
            if "backend" in over and over["backend"] != base.get("backend"):
                base.pop("api_key_env", None)             # another kind of endpoint: its own key default
                base["base_url"] = ""
            rc = _role(role, base, over)
            if ROLE_PRIMARY.get(role) == step:
                roles[role] = rc
            else:
                tasks.update({(role, t): rc for t in STEP_TASKS[step]})
        models[step] = over.get("model") or cfg.role(STEP_ROLES[step][0]).model_name()
    return replace(cfg, roles=roles, task_roles=tasks, step_models=models)


def check_independence(cfg: LLMConfig, roles: tuple[str, ...], writers: dict[str, str] | None = None) -> list[str]:
    """Problems with the independence rule among `roles` (and against `writers`: model -> how many items it wrote,
    e.g. the generators of the candidates being verified). Raises ConfigError naming the roles, unless
    `allow_same_model`; then the problems are returned, for a loud warning and the run's record."""
    problems = []
    for a, b in INDEPENDENT:
        if a in roles and b in roles and cfg.role(a).identity == cfg.role(b).identity:
            problems.append(f"roles {a} and {b} use the same model {cfg.role(a).model_name()!r}")
    for model in sorted(writers or {}):
        for r in ("solver", "blind_solver", "cot_validator"):
            if r in roles and cfg.role(r).model_name() == model:
                problems.append(f"role {r} uses {model!r}, the generator of {writers[model]} items it would judge")
    if problems and not cfg.allow_same_model:
        raise ConfigError("independent roles share a model: " + "; ".join(problems)
                          + " (set [llm] allow_same_model = true to run anyway)")
    return problems


def _as_dict(rc: RoleConfig) -> dict:
    return {f.name: getattr(rc, f.name) for f in fields(rc)}


_ROLE_KEYS = {f.name for f in fields(RoleConfig)} - {"role"}
_TOP_KEYS = {f.name for f in fields(LLMConfig)} - {"roles", "default"}


def _role(name: str, base: dict, over: dict) -> RoleConfig:
    unknown = set(over) - _ROLE_KEYS
    if unknown:
        raise ConfigError(f"[llm.roles.{name}]: unknown keys {sorted(unknown)}")
    merged = {**base, **over}
    if merged.get("backend", "offline") not in BACKENDS:
        raise ConfigError(f"[llm.roles.{name}]: backend must be one of {BACKENDS}, got {merged['backend']!r}")
    if merged.get("backend") == "azure" and "api_key_env" not in over and "api_key_env" not in base:
        merged["api_key_env"] = "AZURE_OPENAI_API_KEY"
    if merged.get("backend") in ("openai", "azure") and not merged.get("model"):
        raise ConfigError(f"[llm.roles.{name}]: backend {merged['backend']!r} needs a model")
    types = {f.name: f.type for f in fields(RoleConfig)}
    for k, v in list(merged.items()):
        if types[k] in ("int", int):
            merged[k] = int(v)
        elif types[k] in ("float", float):
            merged[k] = float(v)
        elif types[k] in ("bool", bool):
            merged[k] = bool(v)
    return RoleConfig(role=name, **merged)


def load(settings: Any) -> LLMConfig:
    """Parse `settings.section("llm")`. Unknown roles are allowed (they get the defaults)."""
    sec: dict[str, Any] = dict(settings.section("llm")) if settings is not None else {}
    base = {k: v for k, v in sec.items() if k in _ROLE_KEYS}
    base.setdefault("backend", getattr(settings, "llm_source", None) or "offline")
    roles_sec = sec.get("roles", {}) or {}
    default = _role("default", base, roles_sec.get("default", {}))
    base = {**base, **roles_sec.get("default", {})}
    roles = {name: _role(name, base, over or {}) for name, over in roles_sec.items() if name != "default"}
    for name in ROLES:
        roles.setdefault(name, _role(name, base, {}))
    top = {k: v for k, v in sec.items() if k in _TOP_KEYS}
    if "batch_tasks" in top:
        top["batch_tasks"] = tuple(top["batch_tasks"])
    if "frames" in top:
        top["frames"] = {"count": 8, "max_side": 512, "quality": 85, **top["frames"]}
    unknown = set(sec) - _ROLE_KEYS - _TOP_KEYS - {"roles"}
    if unknown:
        raise ConfigError(f"[llm]: unknown keys {sorted(unknown)}")
    return LLMConfig(roles=roles, default=default, **top)
