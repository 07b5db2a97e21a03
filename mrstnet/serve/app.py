"""The HTTP routes (FastAPI): the versioned JSON API, health, and the page.

    POST /v1/predict   a video (multipart field `video`) -> top-k; `timeline=true` adds the
                       windows and segments
    GET  /v1/model     architecture, classes, clip geometry, parameters, checkpoint
    GET  /healthz      liveness and readiness (model loaded, worker alive, queue depth)
    GET  /openapi.json the API described by the framework (no /docs: that page needs a CDN)
    GET  /             the page (static/: plain HTML, CSS and JS, no external asset)

Every error is JSON `{"error": {"code": ..., "message": ...}}` with its status (see
`docs/serve.md`). With a token, /v1/* need `Authorization: Bearer TOKEN`; /healthz and
the page's files do not (they hold nothing private; the page asks for the token).

A prediction: a slot is taken (or 503) before the body is read; the body is streamed to
the server's folder (`upload.py`); the rest runs in a request thread (`Service`) while
the event loop serves others; past `--timeout` the answer is 504 and the thread stops at
its next model call. The thread owns the file and the slot from the moment it is
handed the upload, so both are given back whatever the route does.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from functools import partial
from pathlib import Path

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from mrstnet import __version__

from .batcher import RequestTimeout
from .limits import ApiError
from .schemas import ErrorBody, Health, ModelInfo, Prediction
from .service import PredictOptions, Service
from .upload import FIELD, receive_upload

STATIC = Path(__file__).resolve().parent / "static"
log = logging.getLogger("mrstnet.serve")

# The page's own files only: no CDN, no inline script, media from the chosen file (blob:).
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}
ERRORS = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        400: "unreadable video, empty upload, malformed form",
        401: "missing or wrong bearer token",
        408: "the upload did not arrive within --timeout",
        413: "upload larger than --max-upload-mb, or video longer than --max-seconds",
        415: "not multipart, not a video, or no video stream",
        422: "a query parameter out of range",
        503: "busy (Retry-After says when to try again) or the model is not running",
        504: "the prediction took longer than --timeout",
    }.items()
}
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FIELD],
                    "properties": {FIELD: {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


class SecurityHeaders:
    """ASGI middleware adding SECURITY_HEADERS to every HTTP answer."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for k, v in SECURITY_HEADERS.items():
                    headers.setdefault(k, v)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def error_response(e: ApiError) -> JSONResponse:
    return JSONResponse(e.body(), status_code=e.status, headers=e.headers)


def bearer_check(token: str | None):
    """A dependency refusing requests without `Authorization: Bearer <token>` (401)."""

    def check(request: Request) -> None:
        if token is None:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        challenge = {"WWW-Authenticate": 'Bearer realm="mrstnet"'}
        if scheme.lower() != "bearer" or not given:
            raise ApiError(
                401, "unauthorized",
                "this server needs a token: send the header 'Authorization: Bearer TOKEN' "
                "(the token given to mrstnet serve --token)", challenge,
            )  # fmt: skip
        if not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise ApiError(401, "unauthorized", "wrong token", challenge)

    return check


def create_app(service: Service, *, token: str | None = None) -> FastAPI:
    """The routes over a started `service`; `token`: the bearer token /v1/* need."""
    limits = service.limits
    app = FastAPI(
        title="mrstnet",
        version=__version__,
        description="Action recognition in video with MRST-Net (IJCAI 2019): upload a video, "
        "get its most probable actions and, optionally, a timeline of them.",
        docs_url=None,  # Swagger UI and ReDoc load from a CDN; the JSON is enough
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.add_middleware(SecurityHeaders)
    auth = [Depends(bearer_check(token))]

    @app.exception_handler(ApiError)
    async def api_error(request: Request, e: ApiError):
        return error_response(e)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "http_error")
        message = {
            404: f"no such path {request.url.path}: the API is under /v1/ (see /openapi.json)",
            405: f"{request.method} is not allowed on {request.url.path}",
        }.get(e.status_code, str(e.detail))
        return error_response(ApiError(e.status_code, code, message, dict(e.headers or {})))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError):
        parts = []
        for err in e.errors():
            where = ".".join(str(x) for x in err.get("loc", ())[1:]) or "request"
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
        return error_response(ApiError(422, "invalid_parameter", "; ".join(parts)))

    @app.exception_handler(Exception)
    async def bug(request: Request, e: Exception):
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error_response(
            ApiError(500, "internal", "internal error; the server's log has the details")
        )

    @app.get("/healthz", response_model=Health, responses={503: ERRORS[503]})
    async def healthz():
        """Liveness and readiness: 200 when the model's worker runs, else 503."""
        h = service.health()
        return JSONResponse(h, status_code=200 if h["ready"] else 503)

    @app.get("/v1/model", response_model=ModelInfo, dependencies=auth,
             responses={401: ERRORS[401]})  # fmt: skip
    async def model():
        """The checkpoint being served: architecture, classes, clip geometry, parameters."""
        return service.model

    @app.post(
        "/v1/predict",
        response_model=Prediction,  # for the OpenAPI document: the answer is built below
        dependencies=auth,
        openapi_extra=UPLOAD_BODY,
        responses=ERRORS,
    )
    async def predict(
        request: Request,
        top: int = Query(5, ge=1, le=100, description="classes in the answer"),
        clips: int = Query(10, ge=1, description="clips per video, probabilities averaged"),
        crops: int = Query(1, ge=1, le=3, description="1 (centre) or 3 crops per clip"),
        timeline: bool = Query(False, description="also score sliding windows: segments"),
        stride: float | None = Query(None, gt=0, description="seconds between windows "
                                     "(default: half a window)"),
        smooth: int = Query(3, ge=1, le=99, description="windows averaged, odd"),
        threshold: float = Query(0.5, ge=0, le=1, description="smoothed probability "
                                 "a segment's class needs"),
    ):  # fmt: skip
        """Classify an uploaded video (multipart field `video`): the same computation as
        `mrstnet predict` and, with `timeline=true`, `mrstnet timeline`."""
        tic = time.monotonic()
        deadline = tic + limits.timeout
        if crops == 2:
            raise ApiError(422, "invalid_parameter", "crops: 1 (centre) or 3")
        if smooth % 2 == 0:
            raise ApiError(422, "invalid_parameter", f"smooth: an odd number, got {smooth}")
        if clips * crops > limits.max_clips:
            n = clips * crops
            raise ApiError(
                422, "invalid_parameter", f"clips x crops: at most {limits.max_clips}, got {n}"
            )
        opts = PredictOptions(top, clips, crops, timeline, stride, smooth, threshold)
        service.admit()
        handed = False
        upload = None
        try:
            upload = await receive_upload(request, service.temp_dir, limits, deadline)
            job = partial(service.run_predict, upload, opts, deadline)
            future = asyncio.get_running_loop().run_in_executor(service.pool, job)
            handed = True  # the request thread now removes the file and frees the slot
            try:
                # shield: a cancelled wait must not cancel a job before it starts (its
                # `finally` would never run)
                left = max(0.0, deadline - time.monotonic())
                result = await asyncio.wait_for(asyncio.shield(future), left)
            except (asyncio.TimeoutError, TimeoutError, RequestTimeout):
                raise timed_out(limits.timeout) from None
        except ClientDisconnect:
            return JSONResponse({}, status_code=400)  # nobody is left to read it
        except ValueError as e:  # a library's check of an option (e.g. the stride)
            raise ApiError(422, "invalid_parameter", str(e)) from None
        finally:
            if not handed:
                if upload is not None:
                    upload.path.unlink(missing_ok=True)
                service.release()
        result["elapsed_s"] = round(time.monotonic() - tic, 3)
        return JSONResponse(result)

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def timed_out(seconds: float) -> ApiError:
    return ApiError(
        504,
        "timeout",
        f"the prediction took longer than this server's limit of {seconds:g} s (--timeout): "
        "send a shorter video, or ask without timeline=true",
    )


__all__ = ["create_app"]
