"""The login (COMPAT_AUTH=user:password), and what the login page may show.

gradio 6.31 renders the description of every named API endpoint, with its parameters and their labels,
into each HTML page it serves (`window.gradio_api_info`), the login page it shows a visitor who has not
logged in included, and whatever the query string says (`?page=`, `?all_endpoints=`): /gradio_api/info
needs the login, a page describing the same did not. HideApiFromLoginPage, an ASGI middleware, empties
that description in the login page, which its config marks `"auth_required": true`; once logged in, the
page and the API description are as gradio makes them.
"""

from __future__ import annotations

import os
import re

EMPTY_API_DESCRIPTION = b'{"named_endpoints":{},"unnamed_endpoints":{}}'
# gradio writes the description as JSON with "<" escaped, so its script ends at the first ";</script>"
_DESCRIPTION = re.compile(rb"(window\.gradio_api_info = ).*?(;</script>)", re.S)
_LOGIN_PAGE = re.compile(rb'"auth_required":\s*true')


def login_from_env() -> tuple[str, str] | None:
    """COMPAT_AUTH as gradio's (user, password), or None when it is unset; exits naming the variable
    when it is not `user:password`."""
    raw = os.environ.get("COMPAT_AUTH")
    if not raw:
        return None
    user, sep, password = raw.partition(":")
    if not sep or not user or not password:
        raise SystemExit("COMPAT_AUTH must be user:password")
    return user, password


def without_api_description(page: bytes) -> bytes:
    """`page` with its API description emptied if it is the login page; any other page as it is."""
    if not _LOGIN_PAGE.search(page):
        return page
    return _DESCRIPTION.sub(rb"\g<1>" + EMPTY_API_DESCRIPTION + rb"\g<2>", page)


class HideApiFromLoginPage:
    """ASGI middleware: an HTML answer to a GET is read whole and passed through without_api_description;
    everything else (API calls, their event streams, files) goes through as it comes."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        held: dict = {}
        body = bytearray()

        async def send_page(message: dict) -> None:
            if message["type"] == "http.response.start":
                if dict(message.get("headers", [])).get(b"content-type", b"").startswith(b"text/html"):
                    held["start"] = message
                    return
            if "start" not in held:
                await send(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body", False):
                return
            page = without_api_description(bytes(body))
            start = held["start"]
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            await send({**start, "headers": [*headers, (b"content-length", str(len(page)).encode())]})
            await send({"type": "http.response.body", "body": page})

        await self.app(scope, receive, send_page)
