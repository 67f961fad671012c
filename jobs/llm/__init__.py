"""The model layer: every model call of every stage goes through `ModelLayer` (see layer.py).

    from jobs.llm import ModelLayer, CallResult, frames_to_parts
"""
from jobs.llm.config import ROLES, ConfigError, LLMConfig, RoleConfig
from jobs.llm.images import frames_to_parts
from jobs.llm.layer import CallResult, ModelLayer

__all__ = ["ModelLayer", "CallResult", "frames_to_parts", "ROLES", "ConfigError", "LLMConfig", "RoleConfig"]
