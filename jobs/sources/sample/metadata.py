"""YouTube `videos.list` item dicts for the sample world (stand-in metadata; same shape as the Data API v3)."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import numpy as np

from .spec import VideoSpec

TITLE_FORMS = ["{name} | {lecture} explained", "{name}: a visual walkthrough ({course})",
               "Lecture: {name} - {subject}", "{name} in one animation | {lecture}"]


def iso_duration(seconds: float) -> str:
    s = int(round(seconds))
    h, m, sec = s // 3600, s // 60 % 60, s % 60
    return "PT" + (f"{h}H" if h else "") + (f"{m}M" if m else "") + (f"{sec}S" if sec or s == 0 else "")


def channel(subject: str) -> tuple[str, str]:
    """(channelId, channelTitle): one open-courseware channel per subject."""
    digest = hashlib.sha256(subject.encode()).digest()
    cid = "UC" + "".join("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[b % 64] for b in digest[:22])
    return cid, f"Open {subject} Lectures"


def video_item(spec: VideoSpec, duration_s: float, has_captions: bool, summary: str) -> dict:
    """The item for `spec`; planted options (title, description, tags, license, duration) override defaults."""
    rng = np.random.default_rng(spec.rng_seed("metadata"))
    kp = spec.kp
    o = spec.options
    title = o.get("title") or TITLE_FORMS[int(rng.integers(0, len(TITLE_FORMS)))].format(**kp)
    desc = o.get("description") or (
        f"{summary} Part of the {kp['course']} course ({kp['subject']}), lecture: {kp['lecture']}. "
        "Released under a Creative Commons Attribution licence (CC BY).")
    tags = o.get("tags") or [kp["name"].lower(), kp["lecture"].lower(), kp["course"].lower(), kp["subject"].lower()]
    cid, ctitle = o.get("channel") or channel(kp["subject"])
    published = datetime(2019, 1, 1, tzinfo=timezone.utc) + timedelta(days=int(rng.integers(0, 2000)),
                                                                       seconds=int(rng.integers(0, 86400)))
    return {
        "kind": "youtube#video",
        "etag": hashlib.sha256(f"etag:{spec.spec_hash}".encode()).hexdigest()[:27],
        "id": spec.video_id,
        "snippet": {
            "publishedAt": published.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "channelId": cid,
            "title": title,
            "description": desc,
            "channelTitle": ctitle,
            "tags": tags,
            "categoryId": "27",
            "defaultAudioLanguage": "en",
        },
        "contentDetails": {
            "duration": o.get("duration_iso") or iso_duration(duration_s),
            "dimension": "2d",
            "definition": "sd",
            "caption": "true" if has_captions else "false",
            "licensedContent": False,
            "projection": "rectangular",
        },
        "status": {
            "uploadStatus": "processed",
            "privacyStatus": "public",
            "license": o.get("license", "creativeCommon"),
            "embeddable": True,
            "publicStatsViewable": True,
        },
    }


def parse_iso_duration(iso: str) -> float:
    """Seconds of an ISO-8601 duration like PT1H2M3S."""
    import re
    m = re.fullmatch(r"P(?:(\d+)D)?T?(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?", iso)
    if not m:
        raise ValueError(f"not an ISO-8601 duration: {iso!r}")
    d, h, mi, s = (float(x) if x else 0.0 for x in m.groups())
    return d * 86400 + h * 3600 + mi * 60 + s
