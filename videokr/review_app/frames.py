"""One stored frame of a review video as a JPEG response: the review page and the re-annotation task both show
frames at the instants the pipeline's checks saw, one per request (selective decode; the browser caches it), never
whole clips in memory."""
from __future__ import annotations

from fastapi import HTTPException, Response

THUMB_SIDE, FULL_SIDE = 240, 1280


def frame_jpeg(path: str | None, stamps: list[float], i: int, size: str, what: str) -> Response:
    """Frame `i` of `stamps` from `path` as a JPEG (`size` "thumb" or full); 404 naming `what` when there is none."""
    from jobs.media import model_frames
    if not path or not 0 <= i < len(stamps):
        raise HTTPException(404, f"{what} has no frame {i}")
    try:
        mf = model_frames.load(path, model_frames.Budget(frames=1, max_side=FULL_SIDE), [stamps[i]])
    except model_frames.VideoError as exc:
        raise HTTPException(404, f"video of {what} cannot be decoded: {exc}") from None
    jpeg = model_frames.encode_jpeg(mf.array[0], THUMB_SIDE if size == "thumb" else FULL_SIDE)
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})
