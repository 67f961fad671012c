"""WebVTT parsing of downloaded captions (uploaded and YouTube automatic ones)."""
from __future__ import annotations

import pytest

from jobs.screening.captions import CaptionsError, parse_vtt

UPLOADED = """WEBVTT
Kind: captions
Language: en

NOTE a comment block

1
00:00:01.000 --> 00:00:03.500 align:start position:0%
The period of a <i>pendulum</i>

2
01:02.250 --> 01:04.000
depends on its length &amp; gravity
"""

AUTO = """WEBVTT

00:00:00.000 --> 00:00:02.000
we<00:00:00.500><c> measure</c><00:00:01.000><c> ten</c>

00:00:02.000 --> 00:00:02.010
we measure ten

00:00:02.010 --> 00:00:04.000
we measure ten
swings of the pendulum
"""


def test_uploaded_cues_with_ids_settings_and_entities():
    cues = parse_vtt(UPLOADED)
    assert [(c["cue_index"], c["start_s"], c["end_s"]) for c in cues] == [(0, 1.0, 3.5), (1, 62.25, 64.0)]
    assert cues[0]["text"] == "The period of a pendulum" and cues[1]["text"] == "depends on its length & gravity"


def test_auto_caption_rolling_duplicates_are_dropped():
    cues = parse_vtt(AUTO)
    assert [c["text"] for c in cues] == ["we measure ten", "swings of the pendulum"]


def test_not_vtt_raises():
    with pytest.raises(CaptionsError):
        parse_vtt("1\n00:00:01,000 --> 00:00:02,000\nSRT text\n")
