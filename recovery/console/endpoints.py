"""The console's pages and forms at `/console`. Every action calls the same service the
REST API calls; a refusal is shown on the page as its message, never as a raw error."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from recovery.access.keys import Role
from recovery.api.context import AppContext
from recovery.appeals import service as appeals
from recovery.appeals.repository import PublicCaseReads, queue_counts
from recovery.console import sessions, views
from recovery.console.sessions import COOKIE, ConsoleUser
from recovery.domain.reasons import REJECTABLE
from recovery.errors import RecoveryError
from recovery.payouts import listing, operator
from recovery.review import routing
from recovery.review import service as review

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# htmx comes from the npm registry (package.json pins it); `make install` puts it here.
HTMX = ROOT / "node_modules" / "htmx.org" / "dist" / "htmx.min.js"
PRESESSION = "recovery_console_signin"
FORM_MAX = 16_384
RESOLUTIONS = ("paid", "payout_failed", "retry")

templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals["token_units"] = views.token_units
templates.env.globals["tx_state"] = views.tx_state
templates.env.filters["plain"] = views.plain_decimal
router = APIRouter(prefix="/console", include_in_schema=False)
T = TypeVar("T")


def _context(request: Request) -> AppContext:
    context = request.app.state.context
    assert isinstance(context, AppContext)
    return context


async def _form(request: Request) -> dict[str, str]:
    """An url-encoded form's fields (the last value of each)."""
    body = await request.body()
    if len(body) > FORM_MAX:
        return {}
    return {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _set_cookie(request: Request, response: Response, name: str, value: str, path: str) -> None:
    response.set_cookie(
        name, value, httponly=True, samesite="strict", secure=_secure(request), path=path
    )


def _signed_in(request: Request) -> ConsoleUser | None:
    context = _context(request)
    with context.database.unit_of_work() as session:
        return sessions.current(
            session,
            request.cookies.get(COOKIE),
            now=context.clock(),
            idle=timedelta(minutes=context.settings.console_idle_minutes),
        )


def _to_sign_in(note: str | None = None) -> RedirectResponse:
    query = f"?{urlencode({'note': note})}" if note else ""
    return RedirectResponse(f"/console/sign-in{query}", status_code=303)


def _page(
    request: Request,
    name: str,
    user: ConsoleUser | None,
    status_code: int = 200,
    **values: Any,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        name,
        {"user": user, "Role": Role, **values},
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )


def _message(
    request: Request, user: ConsoleUser | None, title: str, message: str, status_code: int
) -> HTMLResponse:
    """A page that says one thing: why something was refused or not shown."""
    return _page(
        request, "message.html", user, status_code=status_code, title=title, message=message
    )


def _refused(
    request: Request, user: ConsoleUser | None, title: str, refused: RecoveryError
) -> HTMLResponse:
    """The service's refusal, with its own words and status."""
    return _message(request, user, title, refused.detail, refused.status_code)


def _refused_csrf(request: Request, user: ConsoleUser | None) -> HTMLResponse:
    return _message(
        request,
        user,
        "Form refused",
        "This form has no valid CSRF token (an old page, or a form from another site). Go "
        "back, reload the page and try again.",
        403,
    )


# ------------------------------------------------------------------ static files


@router.get("/static/{name}")
def static(name: str) -> Response:
    """The console's stylesheet, and htmx as the npm package ships it."""
    if name == "htmx.min.js":
        if not HTMX.exists():
            return Response("htmx is not installed: run make install", status_code=404)
        return FileResponse(HTMX, media_type="text/javascript")
    if name == "console.css":
        return FileResponse(HERE / "static" / "console.css", media_type="text/css")
    return Response("not found", status_code=404)


# ------------------------------------------------------------------ sign-in


@router.get("")
def home() -> RedirectResponse:
    return RedirectResponse("/console/queue", status_code=303)


@router.get("/sign-in")
def sign_in_page(request: Request, note: str | None = None) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = _page(request, "sign_in.html", None, csrf=token, note=note, error=None)
    _set_cookie(request, response, PRESESSION, token, "/console")
    return response


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    form = await _form(request)
    expected = request.cookies.get(PRESESSION)
    sent = form.get("csrf")
    if not expected or not sent or not secrets.compare_digest(expected, sent):
        return _refused_csrf(request, None)
    context = _context(request)
    try:
        with context.database.unit_of_work() as session:
            token = sessions.sign_in(session, form.get("api_key", ""), now=context.clock())
    except RecoveryError as error:
        fresh = secrets.token_urlsafe(24)
        response = _page(
            request,
            "sign_in.html",
            None,
            status_code=error.status_code,
            csrf=fresh,
            note=None,
            error=error.detail,
        )
        _set_cookie(request, response, PRESESSION, fresh, "/console")
        return response
    signed_in = RedirectResponse("/console/queue", status_code=303)
    _set_cookie(request, signed_in, COOKIE, token, "/")
    signed_in.delete_cookie(PRESESSION, path="/console")
    return signed_in


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    user = _signed_in(request)
    form = await _form(request)
    if user is not None and not sessions.csrf_matches(user, form.get("csrf")):
        return _refused_csrf(request, user)
    context = _context(request)
    with context.database.unit_of_work() as session:
        sessions.sign_out(session, request.cookies.get(COOKIE), now=context.clock())
    response = _to_sign_in("You are signed out.")
    response.delete_cookie(COOKIE, path="/")
    return response


# ------------------------------------------------------------------ queue


@router.get("/queue")
async def queue_page(request: Request) -> Response:
    user = _signed_in(request)
    if user is None:
        return _to_sign_in("Sign in to see the queue.")
    context = _context(request)
    query = request.query_params
    names = (
        "network",
        "case_type",
        "min_value",
        "max_value",
        "status",
        "network_class",
        "holder",
        "sort",
        "queue",
    )
    fields = {k: query.get(k, "") for k in names}
    older = query.get("older_than_minutes", "")
    error = None
    items: list[dict[str, Any]] = []
    next_cursor = None
    now = context.clock()
    try:
        filters = review.QueueFilter(
            network=fields["network"] or None,
            case_type=fields["case_type"] or None,
            min_value=review.quote_value(fields["min_value"] or None, "min_value"),
            max_value=review.quote_value(fields["max_value"] or None, "max_value"),
            older_than=timedelta(minutes=int(older)) if older.isdigit() else None,
            status=fields["status"] or "in_review",
            network_class=fields["network_class"] or None,
            holder=fields["holder"] or None,
            sort=fields["sort"] or "age",
            queue=fields["queue"] or None,
        )
        items, next_cursor = await review.queue(
            PublicCaseReads(context.database),
            user.principal,
            filters,
            now=now,
            limit=50,
            cursor=query.get("cursor") or None,
            policy=context.policy,
        )
    except RecoveryError as refused:
        error = refused.detail
    status = fields["status"] if fields["status"] in review.QUEUE_STATUSES else "in_review"
    counts = await context.database.read(
        lambda session: queue_counts(
            session,
            status=status,
            me=user.principal.subject,
            lapse_at=now - review.REVIEW_CLAIM_LAPSE,
        )
    )
    desk = await context.database.read(lambda session: routing.board(session, now))
    counts["class"] = {
        recovery_class: sum(
            counts["pairs"].get((n, t), 0)
            for t, networks in zip(
                ("wrong_network", "unlisted_token"),
                review.class_networks(context.policy, recovery_class),
                strict=True,
            )
            for n in networks
        )
        for recovery_class in review.QUEUE_CLASSES
    }
    shown = {**fields, "older_than_minutes": older}
    next_query = urlencode({**{k: v for k, v in shown.items() if v}, "cursor": next_cursor})
    return _page(
        request,
        "queue.html",
        user,
        items=items,
        filters=shown,
        counts=counts,
        desk=desk,
        networks=sorted(context.policy.networks),
        next_query=next_query if next_cursor else None,
        error=error,
    )


# ------------------------------------------------------------------ case


def _case_values(session: Session, context: AppContext, user: ConsoleUser, case_id: str) -> Any:
    case = appeals.get_case(session, user.principal, case_id)
    events = appeals.events(session, user.principal, case_id)
    try:
        payout = listing.payout_of_case(session, context.policy, case_id)
    except RecoveryError:
        payout = None
    facts = case.facts or {}
    verdict = case.verdict or {}
    quote = verdict.get("quote") or None
    decimals = facts.get("decimals")
    return {
        "case": case,
        "facts": facts,
        "verdict": verdict,
        "quote": quote,
        "decimals": decimals,
        "events": events,
        "payout": payout,
        "tx_link": views.explorer_link(context.policy, case.network, case.tx_hash),
        "payout_link": (
            views.explorer_link(context.policy, payout.network, payout.delivered_tx)
            if payout and payout.delivered_tx
            else None
        ),
        "explorer": lambda h: views.explorer_link(context.policy, case.network, h),
        "proof_needed": review.needs_proof(case, context.policy, context.clock()),
        "reasons": sorted(REJECTABLE),
    }


def _show_case(
    request: Request,
    user: ConsoleUser,
    case_id: str,
    *,
    error: str | None = None,
    done: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    context = _context(request)
    try:
        with context.database.unit_of_work() as session:
            values = _case_values(session, context, user, case_id)
    except RecoveryError as refused:
        return _refused(request, user, "Case not shown", refused)
    return _page(
        request, "case.html", user, status_code=status_code, error=error, done=done, **values
    )


@router.get("/cases/{case_id}")
def case_page(request: Request, case_id: str, done: str | None = None) -> Response:
    user = _signed_in(request)
    if user is None:
        return _to_sign_in("Sign in to open a case.")
    return _show_case(request, user, case_id, done=done)


_ACTIONS: dict[str, Callable[[Session, AppContext, ConsoleUser, str, dict[str, str]], Any]] = {
    "claim": lambda s, c, u, i, f: review.claim(s, u.principal, i, now=c.clock()),
    "release": lambda s, c, u, i, f: review.release(s, u.principal, i, now=c.clock()),
    "approve": lambda s, c, u, i, f: review.approve(
        s,
        c.policy,
        u.principal,
        i,
        now=c.clock(),
        acknowledged=[x for x in f.get("acknowledge", "").split(",") if x],
    ),
    "reject": lambda s, c, u, i, f: review.reject(
        s,
        u.principal,
        i,
        reason_code=f.get("reason_code", ""),
        note=f.get("note", "").strip() or "rejected by the appeals team",
        now=c.clock(),
    ),
    "request-info": lambda s, c, u, i, f: review.request_info(
        s, u.principal, i, question=f.get("question", "").strip(), now=c.clock()
    ),
}
_DONE = {
    "claim": "You hold this case now.",
    "release": "You released this case.",
    "approve": "Approval recorded.",
    "reject": "The case is rejected.",
    "request-info": "The question is sent to the user.",
}


@router.post("/cases/{case_id}/{action}")
async def case_action(request: Request, case_id: str, action: str) -> Response:
    user = _signed_in(request)
    if user is None:
        return _to_sign_in("Your session ended; sign in again.")
    form = await _form(request)
    if not sessions.csrf_matches(user, form.get("csrf")):
        return _refused_csrf(request, user)
    act = _ACTIONS.get(action)
    if act is None:
        return _show_case(request, user, case_id, error=f"no action {action!r}", status_code=404)
    if action == "request-info" and not form.get("question", "").strip():
        return _show_case(
            request, user, case_id, error="Write the question the user should answer.",
            status_code=422,
        )  # fmt: skip
    context = _context(request)
    try:
        with context.database.unit_of_work() as session:
            act(session, context, user, case_id, form)
    except RecoveryError as refused:
        return _show_case(
            request, user, case_id, error=refused.detail, status_code=refused.status_code
        )
    return RedirectResponse(
        f"/console/cases/{case_id}?{urlencode({'done': _DONE[action]})}", status_code=303
    )


# ------------------------------------------------------------------ payouts


@router.get("/payouts")
def payouts_page(request: Request) -> Response:
    user = _signed_in(request)
    if user is None:
        return _to_sign_in("Sign in to see the payouts.")
    context = _context(request)
    try:
        with context.database.unit_of_work() as session:
            items = listing.payouts(
                session, context.policy, user.principal, status=None, network=None, limit=200
            )
            wallets = listing.gas_wallets(
                session, user.principal, context.adapters, context.gas_wallet
            )
    except RecoveryError as refused:
        return _refused(request, user, "Payouts", refused)
    groups: dict[str, list[Any]] = {}
    for item in items:
        groups.setdefault(item.status, []).append(item)
    return _page(
        request,
        "payouts.html",
        user,
        groups=groups,
        wallets=wallets,
        now=context.clock(),
        explorer=lambda network, h: views.explorer_link(context.policy, network, h),
    )


@router.post("/payouts/{case_id}/resolve")
async def resolve_payout(request: Request, case_id: str) -> Response:
    user = _signed_in(request)
    if user is None:
        return _to_sign_in("Your session ended; sign in again.")
    form = await _form(request)
    if not sessions.csrf_matches(user, form.get("csrf")):
        return _refused_csrf(request, user)
    resolution, note = form.get("resolution", ""), form.get("note", "").strip()
    if resolution not in RESOLUTIONS:
        return _message(
            request,
            user,
            "Payout not resolved",
            f"resolution {resolution!r} is not one of {', '.join(RESOLUTIONS)}",
            400,
        )
    if form.get("confirm") != "yes":
        return _page(
            request, "confirm.html", user, case_id=case_id, resolution=resolution, note=note
        )
    context = _context(request)
    try:
        with context.database.unit_of_work() as session:
            operator.resolve(
                session,
                user.principal,
                case_id,
                resolution=resolution,  # type: ignore[arg-type]  # checked above
                note=note or "resolved in the console",
                now=context.clock(),
                adapters=context.adapters,
            )
    except RecoveryError as refused:
        return _refused(request, user, "Payout not resolved", refused)
    return RedirectResponse("/console/payouts", status_code=303)


# ------------------------------------------------------------------ overview


@router.get("/overview")
def overview_page(request: Request) -> Response:
    user = _signed_in(request)
    if user is None:
        return _to_sign_in("Sign in to see the overview.")
    context = _context(request)
    with context.database.unit_of_work() as session:
        figures = views.overview(session, context.clock())
    return _page(request, "overview.html", user, figures=figures)
