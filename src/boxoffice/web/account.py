"""The visitor's account: sign up, log in and out, the profile and password, notifications."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from boxoffice.web.errors import BadInput, require_token
from boxoffice.web.gateway import ApiError
from boxoffice.web.pages import (
    forget_visitor,
    gateway,
    log_in,
    log_out,
    redirect,
    render,
    token,
)

router = APIRouter(include_in_schema=False)

# Limits like the auth service's own, so a form is refused here with a readable line before a
# round trip; the service still decides.
_TEXT = 1024


class LoginForm(BaseModel):
    """The login form."""

    username: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=_TEXT)
    next: str = Field("/", max_length=2000)


class RegisterForm(BaseModel):
    """The sign-up form."""

    email: str = Field(min_length=3, max_length=320)
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=_TEXT)
    full_name: str = Field("", max_length=200)


class ProfileForm(BaseModel):
    """The profile form: what the auth service lets its owner change."""

    full_name: str = Field("", max_length=200)
    phone_number: str = Field("", max_length=40)


class PasswordForm(BaseModel):
    """The change-password form: the current password and the new one, twice."""

    current_password: str = Field(min_length=1, max_length=_TEXT)
    new_password: str = Field(min_length=1, max_length=_TEXT)
    confirm_password: str = Field(min_length=1, max_length=_TEXT)


def local_path(next_path: str) -> str:
    """`next_path` if it is a path of this site, else '/': a login link must not bounce the
    visitor to another site (browsers read "/\\host" as "//host")."""
    ok = next_path.startswith("/") and not next_path.startswith("//") and "\\" not in next_path
    return next_path if ok else "/"


# --- notifications -------------------------------------------------------------------------


@router.get("/notifications", response_class=HTMLResponse)
async def notifications(request: Request) -> Response:
    tok = require_token(request)
    items = await gateway(request).call("GET", "/api/notifications/notifications", tok)
    return await render(request, "notifications.html", notifications=items)


@router.post("/notifications/read-all")
async def mark_all_read(request: Request) -> Response:
    tok = require_token(request)
    await gateway(request).call("POST", "/api/notifications/notifications/read-all", tok)
    return redirect(request, "/notifications", notice="All notifications are marked read.")


@router.post("/notifications/{notification_id}/read")
async def mark_read(request: Request, notification_id: uuid.UUID) -> Response:
    tok = require_token(request)
    await gateway(request).call(
        "POST", f"/api/notifications/notifications/{notification_id}/read", tok
    )
    return redirect(request, "/notifications")


# --- logging in and out ---------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/") -> Response:
    return await render(request, "login.html", next=local_path(next))


@router.post("/login")
async def login(request: Request, form: Annotated[LoginForm, Form()]) -> Response:
    try:
        result = await gateway(request).call(
            "POST", "/api/auth/token", data={"username": form.username, "password": form.password}
        )
    except ApiError as exc:
        if exc.status_code not in (400, 401, 403, 423):
            raise  # the account service is down or busy: the error page names it
        return await render(
            request,
            "login.html",
            status_code=exc.status_code,
            next=local_path(form.next),
            error="Wrong e-mail/username or password."
            if exc.status_code in (400, 401)
            else exc.detail,
            username=form.username,
        )
    response = redirect(request, local_path(form.next))
    log_in(request, response, result)
    return response


@router.get("/register", response_class=HTMLResponse)
async def register_page(request: Request) -> Response:
    return await render(request, "register.html", form={})


@router.post("/register")
async def register(request: Request, form: Annotated[RegisterForm, Form()]) -> Response:
    shown = {"email": form.email, "username": form.username, "full_name": form.full_name}
    api = gateway(request)
    try:
        await api.call(
            "POST",
            "/api/auth/register",
            json={**shown, "password": form.password, "full_name": form.full_name or None},
        )
        result = await api.call(
            "POST", "/api/auth/token", data={"username": form.email, "password": form.password}
        )
    except ApiError as exc:
        if exc.status_code >= 500 or exc.status_code == 429:
            raise
        return await render(
            request, "register.html", status_code=exc.status_code, form=shown, error=exc.detail
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


# --- the profile ----------------------------------------------------------------------------


@router.get("/profile", response_class=HTMLResponse)
async def profile_page(request: Request) -> Response:
    tok = require_token(request)
    profile = await gateway(request).call("GET", "/api/auth/profile", tok)
    return await render(request, "profile.html", profile=profile)


@router.post("/profile")
async def update_profile(request: Request, form: Annotated[ProfileForm, Form()]) -> Response:
    tok = require_token(request)
    body = {
        "full_name": form.full_name.strip() or None,
        "phone_number": form.phone_number.strip() or None,
    }
    try:
        await gateway(request).call("PUT", "/api/auth/profile", tok, json=body)
    except ApiError as exc:
        if exc.status_code not in (400, 409, 422):
            raise
        return redirect(request, "/profile", error=f"Your profile was not saved: {exc.detail}")
    forget_visitor(request)  # the header shows the new name from the next page on
    return redirect(request, "/profile", notice="Your profile is saved.")


@router.post("/profile/password")
async def change_password(request: Request, form: Annotated[PasswordForm, Form()]) -> Response:
    tok = require_token(request)
    if form.new_password != form.confirm_password:
        return redirect(request, "/profile", error="The two new passwords are not the same.")
    api = gateway(request)
    profile = await api.call("GET", "/api/auth/profile", tok)
    try:
        await api.call(
            "POST",
            "/api/auth/change-password",
            tok,
            json={"current_password": form.current_password, "new_password": form.new_password},
        )
    except ApiError as exc:
        if exc.status_code not in (400, 401, 403, 409, 422):
            raise
        if "current password" in exc.detail.lower() or exc.status_code in (401, 403):
            message = "Your current password is not right, so nothing changed."
        else:
            message = f"That new password cannot be used: {exc.detail}"
        return redirect(request, "/profile", error=message)
    # Every token from before is dead now (this one too): log in again with the new password,
    # so the visitor carries on where they were.
    if not isinstance(profile, dict) or not isinstance(profile.get("email"), str):
        raise BadInput("Your profile could not be read.")
    try:
        result = await api.call(
            "POST",
            "/api/auth/token",
            data={"username": profile["email"], "password": form.new_password},
        )
    except ApiError:
        response = redirect(
            request,
            "/login",
            next="/profile",
            notice="Your password is changed. Log in with the new one.",
        )
        log_out(request, response)
        return response
    response = redirect(
        request,
        "/profile",
        notice="Your password is changed. Other devices were logged out.",
    )
    log_in(request, response, result)
    return response
