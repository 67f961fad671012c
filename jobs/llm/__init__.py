"""The model layer: every model call of every stage goes through `ModelLayer` (see layer.py).

    from jobs.llm import ModelLayer, CallResult

Image parts come from jobs.media.model_frames (the one path to the frames a model sees).
"""
from jobs.llm.config import ROLES, ConfigError, LLMConfig, RoleConfig
from jobs.llm.layer import CallResult, ModelLayer

__all__ = ["ModelLayer", "CallResult", "ROLES", "ConfigError", "LLMConfig", "RoleConfig"]
