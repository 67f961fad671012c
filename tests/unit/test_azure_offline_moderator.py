"""The offline moderator (stand-in for Azure Content Safety): blocklist on text, scene flag on frames."""
from __future__ import annotations

from jobs.sources.offline_moderator import OfflineModerator


def test_blocklist_text_with_word_boundaries_and_config():
    m = OfflineModerator({"blocklist": ["forbidden phrase"]})
    assert m.moderate_text("Graphic violence and GORE compilation").flagged
    assert not m.moderate_text("Gorenstein rings in algebra").flagged          # word boundary
    r = m.moderate_text("this has a Forbidden Phrase inside")
    assert r.flagged and "forbidden phrase" in r.reason.lower()
    assert not OfflineModerator({"thresholds": {"Violence": 7}}).moderate_text("gore").flagged


def test_frames_follow_the_scene_record():
    m = OfflineModerator()
    assert m.moderate_image(b"jpeg", {"scene": {"unsafe_frames": True}}).flagged
    assert not m.moderate_image(b"jpeg", {"scene": {"unsafe_frames": False}}).flagged
    assert not m.moderate_image(b"jpeg", None).flagged
