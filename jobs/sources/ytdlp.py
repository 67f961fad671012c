"""Downloader over yt-dlp's Python API (YoutubeDL): mp4 at 720p at most, English captions (uploaded, else automatic).

    dl = YtDlpDownloader({"ratelimit": 2_000_000, "cookiefile": None, "retries": 10})
    d = dl.download("dQw4w9WgXcQ", media_dir)   # -> Download(video_id, path, captions_path, error)

Safety: the output template is built from the *requested* id after it matched ^[A-Za-z0-9_-]{11}$, never from what
the extractor returns, and the resolved folder is checked to lie inside `out_dir`; a hostile id is refused before
any network call. A download archive (`out_dir/archive.txt`) makes reruns skip finished ids (the existing files are
returned). Interrupted transfers resume with HTTP Range (continuedl) and are retried.

Config (`[download]` in videokr.toml): format, retries, ratelimit (bytes/s), cookiefile, socket_timeout, sub_langs.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

from jobs.sources.base import Download

log = logging.getLogger("videokr.ytdlp")

VIDEO_ID_RE = re.compile(r"[A-Za-z0-9_-]{11}\Z")      # \Z, not $: "$" also matches before a trailing newline
FORMAT = ("bv*[height<=720][ext=mp4]+ba[ext=m4a]/b[height<=720][ext=mp4]/"
          "bv*[height<=720]+ba/b[height<=720]")


class InvalidVideoId(ValueError):
    pass


def safe_video_dir(video_id: str, out_dir: Path) -> Path:
    """out_dir/<id>, after checking the id shape and that the folder stays inside out_dir."""
    if not isinstance(video_id, str) or not VIDEO_ID_RE.match(video_id):
        raise InvalidVideoId(f"invalid YouTube video id {video_id!r}: must match ^[A-Za-z0-9_-]{{11}}$")
    root = Path(out_dir).resolve()
    vdir = (root / video_id).resolve()
    if vdir.parent != root:
        raise InvalidVideoId(f"video id {video_id!r} escapes the media folder")
    return vdir


def find_files(vdir: Path, video_id: str) -> tuple[Path | None, Path | None]:
    """(mp4, English WebVTT) already in vdir; prefers `<id>.en.vtt` over other English variants."""
    mp4 = vdir / f"{video_id}.mp4"
    subs = sorted(vdir.glob(f"{video_id}.en*.vtt"), key=lambda p: (p.name != f"{video_id}.en.vtt", p.name))
    return (mp4 if mp4.is_file() and mp4.stat().st_size > 0 else None), (subs[0] if subs else None)


class _Logger:
    """yt-dlp logger: debug/info to our log at debug level, warnings and errors kept for the Download record."""

    def __init__(self, video_id: str):
        self.video_id, self.errors = video_id, []

    def debug(self, msg: str) -> None:
        log.debug("%s: %s", self.video_id, msg)

    info = debug

    def warning(self, msg: str) -> None:
        log.warning("%s: %s", self.video_id, msg)

    def error(self, msg: str) -> None:
        self.errors.append(re.sub(r"\x1b\[[0-9;]*m", "", msg))
        log.error("%s: %s", self.video_id, self.errors[-1])


class YtDlpDownloader:
    name = "ytdlp"

    def __init__(self, config: dict | None = None):
        self.cfg = dict(config or {})

    def options(self, video_id: str, vdir: Path, archive: Path, logger: _Logger) -> dict:
        cfg, retries = self.cfg, int(self.cfg.get("retries", 10))
        base = str(vdir / video_id).replace("%", "%%")
        opts = {
            "format": cfg.get("format", FORMAT), "merge_output_format": "mp4",
            "outtmpl": {"default": base + ".%(ext)s"},
            "writesubtitles": True, "writeautomaticsub": True,   # uploaded subs win per language; auto fills in
            "subtitleslangs": list(cfg.get("sub_langs", ["en"])), "subtitlesformat": "vtt/best",
            "download_archive": str(archive), "continuedl": True, "overwrites": False,
            "retries": retries, "fragment_retries": retries, "file_access_retries": 3, "extractor_retries": 3,
            "socket_timeout": float(cfg.get("socket_timeout", 30)),
            "retry_sleep_functions": {"http": lambda n: min(float(cfg.get("retry_sleep_max", 10)), 0.5 * 2 ** n)
                                      if cfg.get("retry_sleep", True) else 0},
            "noplaylist": True, "quiet": True, "noprogress": True, "logger": logger,
            "ignoreerrors": True,            # errors land in logger.errors and the Download record
        }
        if cfg.get("ratelimit"):
            opts["ratelimit"] = int(cfg["ratelimit"])
        if cfg.get("cookiefile"):
            opts["cookiefile"] = str(cfg["cookiefile"])
        try:
            import imageio_ffmpeg
            opts["ffmpeg_location"] = imageio_ffmpeg.get_ffmpeg_exe()    # merges separate video + audio
        except Exception:  # noqa: BLE001 - no ffmpeg: progressive formats still work
            pass
        return opts

    def download(self, video_id: str, out_dir: Path) -> Download:
        from yt_dlp import YoutubeDL

        try:
            vdir = safe_video_dir(video_id, out_dir)
        except InvalidVideoId as exc:
            return Download(str(video_id), None, None, error=f"invalid_id: {exc}")
        vdir.mkdir(parents=True, exist_ok=True)
        archive = Path(out_dir).resolve() / "archive.txt"
        logger = _Logger(video_id)
        url = f"https://www.youtube.com/watch?v={video_id}"
        try:
            with YoutubeDL(self.options(video_id, vdir, archive, logger)) as ydl:
                ydl.download([url])
        except Exception as exc:  # noqa: BLE001 - a bad video must not stop the stage
            logger.errors.append(f"{type(exc).__name__}: {exc}")
        mp4, vtt = find_files(vdir, video_id)
        if mp4 is None:
            err = "; ".join(logger.errors) or "no mp4 written (in the download archive but the file is gone?)"
            return Download(video_id, None, vtt, error=err[:1000])
        return Download(video_id, mp4, vtt, error="; ".join(logger.errors)[:1000] or None)
