"""Who is asking, and may they submit: the review page's own checks, because Airflow does not guard plugin apps.

- Identity: the Airflow JWT, from `Authorization: Bearer` (REST clients) or the `_token` cookie the Airflow UI sets
  at login (the page, same origin). It is validated by Airflow's own auth manager (`get_user_from_token`: signature,
  expiry, audience, revocation), never re-implemented here. Missing, expired or invalid -> 401.
- Reviewer: the user's role (simple auth manager `role`, FAB-style `roles`) is in `[review] reviewer_roles`
  (default admin, op), or their name is in `[review] reviewer_users`. Others may read, and get 403 on submit.
- CSRF: a state-changing request must carry `X-CSRF-Token`, an HMAC (keyed from Airflow's `[api] secret_key`) of
  the user's name and the time it was issued. Only a same-origin page can read it (from GET api/me), it is bound
  to the user, and it expires; a cross-site form can neither read it nor set the header. A present `Origin` header
  must also be this host.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import urlsplit
from dataclasses import dataclass

from fastapi import HTTPException, Request, status

COOKIE = "_token"                  # airflow.api_fastapi.auth.managers.base_auth_manager.COOKIE_NAME_JWT_TOKEN
CSRF_HEADER = "X-CSRF-Token"
CSRF_MAX_AGE_S = 12 * 3600
DEFAULT_REVIEWER_ROLES = ("admin", "op")


@dataclass(frozen=True)
class Reviewer:
    name: str
    roles: tuple[str, ...]
    can_review: bool


def auth_manager():
    """Airflow's auth manager: the api-server's instance, or (outside it, e.g. tests) one built from the config."""
    from airflow.api_fastapi.app import create_auth_manager, get_auth_manager
    try:
        return get_auth_manager()
    except RuntimeError:
        return create_auth_manager()


def login_url(next_url: str | None = None) -> str:
    try:
        return auth_manager().get_url_login(next_url=next_url)
    except Exception:          # a login link is a courtesy: never turn a 401 into a 500
        return "/auth/login"


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.cookies.get(COOKIE)


def _roles(user) -> tuple[str, ...]:
    roles = []
    if getattr(user, "role", None):
        roles.append(str(user.role))
    for r in getattr(user, "roles", None) or []:
        roles.append(str(getattr(r, "name", r)))
    return tuple(r.lower() for r in roles)


async def current_user(request: Request, review_cfg: dict) -> Reviewer:
    """The validated Airflow user of the request; 401 when there is none."""
    from jwt import InvalidTokenError
    token = _token(request)
    if not token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Not authenticated: log in to Airflow",
                            headers={"WWW-Authenticate": "Bearer"})
    try:
        user = await auth_manager().get_user_from_token(token)
    except InvalidTokenError as exc:         # expired, bad signature, revoked, malformed
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"Invalid or expired token ({type(exc).__name__})",
                            headers={"WWW-Authenticate": "Bearer"}) from None
    roles = _roles(user)
    allowed_roles = {r.lower() for r in review_cfg.get("reviewer_roles", DEFAULT_REVIEWER_ROLES)}
    allowed_users = set(review_cfg.get("reviewer_users", ()))
    name = user.get_name()
    return Reviewer(name, roles, bool(allowed_roles & set(roles)) or name in allowed_users)


def _key() -> bytes:
    from airflow.configuration import conf
    secret = conf.get("api", "secret_key", fallback="") or conf.get("api_auth", "jwt_secret", fallback="")
    if not secret:
        raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, "no [api] secret_key configured for CSRF tokens")
    return hashlib.sha256(b"videokr-review-csrf\x00" + secret.encode()).digest()


def _sign(user: str, issued: int) -> str:
    mac = hmac.new(_key(), f"{user}\x00{issued}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def csrf_token(user: str, now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    return f"{issued}.{_sign(user, issued)}"


def check_csrf(request: Request, user: str) -> None:
    """403 unless the request carries this user's unexpired CSRF token (and, if it says, comes from this origin)."""
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.headers.get("host", ""):   # host only: TLS may end at a proxy
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"CSRF: cross-origin request from {origin}")
    token = request.headers.get(CSRF_HEADER, "")
    issued, _, mac = token.partition(".")
    if not issued.isdigit() or not mac:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"CSRF: missing or malformed {CSRF_HEADER} header")
    if not hmac.compare_digest(mac, _sign(user, int(issued))):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "CSRF: token does not belong to this user")
    if time.time() - int(issued) > CSRF_MAX_AGE_S:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "CSRF: token expired; reload the page")
