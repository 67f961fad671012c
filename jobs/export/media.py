"""The videos of an export: where the files say they are, checked before any row is written, and placed in the folder.

Modes (`videos` option):
- link (default): `videos/<video_id><ext>` in every file, a symlink there to the media file (absolute target, so the
  folder can move on this machine); copy it with `cp -L` / `rsync -L` to take the videos along.
- copy: the same paths, real files (the first format's folder gets a copy, the others hard links to it where the
  filesystem allows): the folder travels whole.
- absolute: the media store's absolute paths, nothing placed (a trainer on this machine reading in place).

The written paths depend only on the video id and its file's extension (never on $VIDEOKR_HOME), so the same snapshot
still gives byte-identical files wherever the export is made.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

VIDEO_MODES = ("link", "copy", "absolute")
VIDEO_DIR = "videos"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def check_mode(mode: str | None) -> str:
    mode = mode or "link"
    if mode not in VIDEO_MODES:
        raise ValueError(f"unknown videos mode {mode!r}; modes: {', '.join(VIDEO_MODES)}")
    return mode


def export_path(video_id: str, source: str, mode: str = "link") -> str:
    """The path an export file gives for a video: relative to the export folder, or the source's absolute path."""
    if mode == "absolute":
        return str(Path(source).absolute())
    return f"{VIDEO_DIR}/{_UNSAFE.sub('_', str(video_id))}{Path(source).suffix.lower() or '.mp4'}"


def video_problem(source: str) -> tuple[str, str] | None:
    """(reason, detail) when a video cannot go into an export, else None."""
    p = Path(source)
    if not p.exists():
        return "missing_video_file", f"{source}: no such file"
    if not p.is_file():
        return "not_a_video_file", f"{source}: not a regular file"
    if p.stat().st_size == 0:
        return "empty_video_file", f"{source}: 0 bytes"
    return None


def place_videos(folder: Path, videos: dict[str, str], mode: str, copies: dict[str, Path] | None = None) -> int:
    """Link or copy each video (id -> source path) into `folder`/videos under its export path; returns how many.
    `copies` (source -> a copy already made) lets the later formats of one run hard-link instead of copying again.
    An entry already in place (same link target, or a copy of the same size) is kept; one no longer wanted goes."""
    if mode == "absolute":
        return 0
    (folder / VIDEO_DIR).mkdir(parents=True, exist_ok=True)
    copies = {} if copies is None else copies
    wanted = {export_path(vid, source, mode).split("/", 1)[1] for vid, source in videos.items()}
    for stale in (folder / VIDEO_DIR).iterdir():   # a video left out since this folder was last written
        if stale.name not in wanted:
            stale.unlink()
    for vid, source in sorted(videos.items()):
        src = Path(source).absolute()
        dst = folder / export_path(vid, source, mode)
        if mode == "link":
            if dst.is_symlink() and os.readlink(dst) == str(src):
                continue
            _replace(dst, lambda tmp, s=src: os.symlink(s, tmp))
            continue
        if dst.is_file() and not dst.is_symlink() and dst.stat().st_size == src.stat().st_size:
            copies.setdefault(str(src), dst)
            continue
        first = copies.get(str(src))
        _replace(dst, lambda tmp, s=src, f=first: _link_or_copy(f, s, tmp))
        copies.setdefault(str(src), dst)
    return len(videos)


def _link_or_copy(first: Path | None, src: Path, tmp: Path) -> None:
    if first is not None:
        try:
            os.link(first, tmp)
            return
        except OSError:   # another filesystem, or no hard links there: copy
            pass
    shutil.copyfile(src, tmp)


def _replace(dst: Path, make) -> None:
    """Create the entry under a temp name, then rename it over `dst` (a reader never sees half a file)."""
    tmp = dst.with_name(f".{dst.name}.tmp")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    make(tmp)
    os.replace(tmp, dst)
