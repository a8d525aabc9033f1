"""Who may see the staff and admin pages: a logged-out visitor is sent to log in (and brought
back), a logged-in one without the role gets the 403 page. The services check again."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from boxoffice.web.errors import LoginRequired
from boxoffice.web.pages import token, visitor


class Visitor(BaseModel):
    """Who is asking, and the token the page calls the API with."""

    user: dict[str, Any]
    token: str


async def signed_in(request: Request) -> Visitor:
    """The logged-in visitor, or the login page (which brings them back here)."""
    tok = token(request)
    user = await visitor(request) if tok else None
    if tok is None or user is None:
        raise LoginRequired()
    return Visitor(user=user, token=tok)


def _role_in(*roles: str, refusal: str) -> Any:
    async def check(request: Request) -> Visitor:
        who = await signed_in(request)
        if who.user.get("role") not in roles:
            raise StarletteHTTPException(403, refusal)
        return who

    return check


admin_only = _role_in("admin", refusal="This page is for admins only.")
staff_only = _role_in("staff", "admin", refusal="This page is for the cinema's staff only.")

Admin = Annotated[Visitor, Depends(admin_only)]
Staff = Annotated[Visitor, Depends(staff_only)]
