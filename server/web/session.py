"""The browser's session behind the server's token (MLEB_SERVER_TOKEN).

A browser cannot send `Authorization: Bearer ...` when it follows a link, so the login page takes the token once,
in a POST form, and answers with an HttpOnly session cookie (no expiry: it ends with the browser session) whose
value is an HMAC of the token: the token itself is never stored in the browser, never put in a URL, and changing
it ends every session. The cookie opens the pages and the JSON API alike (artifact links, /docs); a request that
changes something (cancel, resume) must also carry the X-MLEB-Web header, which another site's form cannot send.
"""
from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse

COOKIE = "mleb_web_session"
HEADER = "x-mleb-web"  # sent by web.js with every call it makes
LOGIN = "/ui/login"
LOGOUT = "/ui/logout"
STATIC = "/ui/static/"  # the pages' CSS, script and icon: nothing of the server's state
SAFE_METHODS = ("GET", "HEAD")


def session_value(token: str) -> str:
    return hmac.new(token.encode(), b"mleb web session v1", hashlib.sha256).hexdigest()


def is_public(path: str) -> bool:
    """The login form, the logout (it only drops the cookie) and the static files."""
    return path in (LOGIN, LOGOUT) or path.startswith(STATIC)


def admits(request: Request, token: str) -> bool:
    """The login page and static files; or a request with the session cookie (and the header, to change things)."""
    if is_public(request.url.path):
        return True
    cookie = request.cookies.get(COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, session_value(token)):
        return False
    return request.method in SAFE_METHODS or bool(request.headers.get(HEADER))


def is_page(request: Request) -> bool:
    path = request.url.path
    return request.method in SAFE_METHODS and (path == "/" or path.startswith("/ui/") or path == "/docs")


def login_redirect(request: Request) -> RedirectResponse | None:
    """A page asked for without the session: to the login form, back to the page after (None for the API)."""
    if not is_page(request):
        return None
    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{LOGIN}?next={quote(safe_next(wanted))}", status_code=303)


def safe_next(path: str | None) -> str:
    """Only a path of this server (never //host or a scheme) is followed after the login."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/ui/runs"
    return path
