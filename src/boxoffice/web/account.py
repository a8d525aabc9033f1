"""The visitor's account: sign up, log in and out, notifications."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from boxoffice.web.errors import require_token
from boxoffice.web.gateway import ApiError
from boxoffice.web.pages import (
    gateway,
    log_in,
    log_out,
    redirect,
    render,
    token,
)

router = APIRouter(include_in_schema=False)


@router.get("/notifications", response_class=HTMLResponse)
async def notifications(request: Request) -> Response:
    tok = require_token(request)
    items = await gateway(request).call("GET", "/api/notifications/notifications", tok)
    return await render(request, "notifications.html", notifications=items)


@router.post("/notifications/{notification_id}/read")
async def mark_read(request: Request, notification_id: uuid.UUID) -> Response:
    tok = require_token(request)
    await gateway(request).call(
        "POST", f"/api/notifications/notifications/{notification_id}/read", tok
    )
    return redirect(request, "/notifications")


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/") -> Response:
    return await render(request, "login.html", next=next)


@router.post("/login")
async def login(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    try:
        result = await gateway(request).call(
            "POST", "/api/auth/token", data={"username": username, "password": password}
        )
    except ApiError as exc:
        return await render(
            request,
            "login.html",
            status_code=exc.status_code,
            next=next,
            error="Wrong e-mail/username or password."
            if exc.status_code in (400, 401)
            else exc.detail,
            username=username,
        )
    # Only local paths: a login link must not bounce the visitor to another site (browsers
    # read "/\\host" as "//host").
    local = next.startswith("/") and not next.startswith("//") and "\\" not in next
    response = redirect(request, next if local else "/")
    log_in(request, response, result)
    return response


@router.get("/register", response_class=HTMLResponse)
async def register_page(request: Request) -> Response:
    return await render(request, "register.html", form={})


@router.post("/register")
async def register(
    request: Request,
    email: Annotated[str, Form()],
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    full_name: Annotated[str, Form()] = "",
) -> Response:
    form = {"email": email, "username": username, "full_name": full_name}
    api = gateway(request)
    try:
        await api.call(
            "POST",
            "/api/auth/register",
            json={**form, "password": password, "full_name": full_name or None},
        )
        result = await api.call(
            "POST", "/api/auth/token", data={"username": email, "password": password}
        )
    except ApiError as exc:
        return await render(
            request, "register.html", status_code=exc.status_code, form=form, error=exc.detail
        )
    response = redirect(request, "/", notice="Welcome to boxoffice!")
    log_in(request, response, result)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    tok = token(request)
    if tok:
        try:
            await gateway(request).call("POST", "/api/auth/logout", tok)
        except ApiError:
            pass  # the token is dead already; forgetting the cookie is all that is left
    response = redirect(request, "/", notice="You are logged out.")
    log_out(request, response)
    return response
