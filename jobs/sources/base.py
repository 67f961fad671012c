"""Interfaces of the external systems. Each has a real client and an embedded offline stand-in.

| interface    | real client (jobs/sources/...)           | offline stand-in                       |
|--------------|------------------------------------------|----------------------------------------|
| SearchSource | YouTube Data API v3 (youtube.py)         | sample library metadata (sample/)      |
| Downloader   | yt-dlp (ytdlp.py)                        | sample library files (sample/)         |
| Moderator    | Azure AI Content Safety (azure_safety.py)| blocklist + scene flags (offline_moderator.py) |
| ChatModel    | OpenAI-compatible endpoint (llm/)        | offline model over scene records (offline_model.py) |

Records exchanged are plain dicts/dataclasses so they can go straight into warehouse rows.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, Field

# ---------------------------------------------------------------- search and download


@dataclass
class SearchPage:
    video_ids: list[str]
    next_page_token: str | None
    units: int                      # quota units this call cost (search.list = 100)


class SearchSource(Protocol):
    name: str

    def search(self, query: str, page_token: str | None = None, max_results: int = 50) -> SearchPage:
        """CC-licensed, captioned videos for `query` (YouTube search.list semantics)."""

    def details(self, video_ids: list[str]) -> tuple[list[dict], int]:
        """`videos.list(part=snippet,contentDetails,status)` items for up to 50 ids, and the units spent."""


@dataclass
class Download:
    video_id: str
    path: Path | None               # mp4 on disk, None when the download failed
    captions_path: Path | None      # WebVTT
    error: str | None = None


class Downloader(Protocol):
    def download(self, video_id: str, out_dir: Path) -> Download: ...


# ---------------------------------------------------------------- moderation


@dataclass
class ModerationResult:
    flagged: bool
    categories: dict[str, int] = field(default_factory=dict)   # category -> severity (0..7)
    reason: str = ""


class Moderator(Protocol):
    def moderate_text(self, text: str) -> ModerationResult: ...

    def moderate_image(self, jpeg: bytes, context: dict | None = None) -> ModerationResult: ...


# ---------------------------------------------------------------- model calls

Role = Literal["generator", "solver", "blind_solver", "cot_validator", "relevance_judge", "judge"]
Skill = Literal["basic_video_reasoning", "knowledge_enhanced_perception", "knowledge_intensive_reasoning"]
SKILLS: tuple[str, ...] = ("basic_video_reasoning", "knowledge_enhanced_perception", "knowledge_intensive_reasoning")
ProblemType = Literal["multiple choice", "open-ended"]


@dataclass
class ChatRequest:
    """One model call. `messages` is OpenAI chat format (text and image_url parts).

    `context` carries machine-readable facts about the request (video_id, number of frames attached, kp_id,
    sample index). Real endpoints never see it; the offline stand-in reads it to look up scene records.
    """
    role: str
    task: str                       # prompt name: generate_qa | solve | validate_cot | judge_relevance | expand_kb
    messages: list[dict]
    schema: type[BaseModel]
    context: dict = field(default_factory=dict)
    temperature: float = 0.0
    max_tokens: int = 2048
    prompt_version: str = ""


class ChatModel(Protocol):
    name: str

    def complete(self, request: ChatRequest) -> str:
        """The raw reply text (JSON for structured tasks)."""


# ---------------------------------------------------------------- structured replies


class QAItem(BaseModel):
    skill: Skill
    problem_type: ProblemType
    question: str
    options: list[str] | None = None        # ["A. ...", "B. ..."], 4..10 options for multiple choice
    answer: str                             # a letter for multiple choice; short text for open-ended
    think: str                              # chain-of-thought rationale
    evidence_s: float | None = None         # when (seconds) the evidence is shown, if the generator can say


class GeneratedQA(BaseModel):
    items: list[QAItem]


class SolverAnswer(BaseModel):
    think: str
    answer: str


class CoTStep(BaseModel):
    step: str
    grounded: bool
    basis: Literal["video", "knowledge", "none"]


class CoTVerdict(BaseModel):
    steps: list[CoTStep]
    valid: bool


class RelevanceVerdict(BaseModel):
    relevant: bool
    score: float = Field(ge=0, le=1)
    reason: str = ""


class KPProposal(BaseModel):
    course: str
    lecture: str
    name: str
    statement: str
    keywords: list[str]


class KBExpansion(BaseModel):
    proposals: list[KPProposal]


class KeywordExpansion(BaseModel):
    keywords: list[str]
