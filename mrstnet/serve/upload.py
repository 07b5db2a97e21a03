"""An uploaded video: streamed to a file of the server's own, cut off at the limit, checked.

`receive_upload` reads a multipart/form-data body as it arrives (python-multipart's
streaming parser), writes the part named `video` to a fresh file in the server's
temporary folder (a name the server makes: nothing the client sends chooses a path) and
stops at `max_upload_bytes` (413). The client's file name is kept only to be echoed back.

Whether the file is a video is decided by opening it with PyAV (`probe`), never by its
name or declared type; the declared type only turns away what is obviously not a video
(text, images, JSON, ...: 415) before any decoding.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .limits import MIB, ApiError, Limits

FIELD = "video"
# Declared types that are never a video. audio/* is not here: browsers call .ogg files
# audio/ogg whatever they hold; PyAV then finds no video stream (415) or a video.
NOT_VIDEO = ("text/", "image/", "font/", "application/json", "application/xml",
             "application/pdf", "application/zip", "application/x-www-form-urlencoded")  # fmt: skip
# After the limit, read (and drop) at most this much more of the body so that the client,
# still sending, can read the 413; past it the connection is simply closed.
DRAIN_BYTES = 64 * MIB
NAME_CHARS = 200


@dataclass
class Upload:
    path: Path  # the server's file, in its temporary folder
    filename: str  # as the client named it (shown back, never used as a path)
    content_type: str
    size: int


def too_large(limits: Limits) -> ApiError:
    mb = limits.max_upload_bytes / MIB
    return ApiError(
        413,
        "upload_too_large",
        f"the upload is larger than this server's limit of {mb:g} MB (--max-upload-mb): "
        "send a shorter or smaller video",
    )


def not_multipart() -> ApiError:
    return ApiError(
        415,
        "not_multipart",
        f"send the video as multipart/form-data in a field named '{FIELD}' "
        f"(e.g. curl -F {FIELD}=@clip.mp4 ...)",
    )


def _clean_name(raw: bytes | None) -> str:
    text = (raw or b"").decode("utf-8", "replace")
    text = text.replace("\\", "/").rsplit("/", 1)[-1]  # a browser may send a full path
    text = "".join(c for c in text if c.isprintable())[:NAME_CHARS]
    return text or "upload"


class _Parts:
    """python-multipart callbacks: the `video` part goes to `out`, other parts are dropped."""

    def __init__(self, out):
        from python_multipart.multipart import parse_options_header

        self._parse_options = parse_options_header
        self.out = out
        self.headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self.in_video = False
        self.found = False
        self.filename: str | None = None
        self.content_type = ""
        self.size = 0

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": self.header_field,
            "on_header_value": self.header_value,
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
        }

    def part_begin(self) -> None:
        self.headers, self.in_video = {}, False

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def header_end(self) -> None:
        self.headers[self._field.lower()] = self._value
        self._field, self._value = b"", b""

    def headers_finished(self) -> None:
        _, options = self._parse_options(self.headers.get(b"content-disposition", b""))
        if options.get(b"name") == FIELD.encode() and not self.found:
            self.in_video = self.found = True
            self.filename = _clean_name(options.get(b"filename"))
            self.content_type = self.headers.get(b"content-type", b"").decode("latin-1")

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self.in_video:
            self.out.write(data[start:end])
            self.size += end - start

    def part_end(self) -> None:
        self.in_video = False


async def _next(chunks, deadline: float, limits: Limits) -> bytes | None:
    left = deadline - time.monotonic()
    try:
        return await asyncio.wait_for(anext(chunks, None), max(0.0, left))
    except (asyncio.TimeoutError, TimeoutError):
        raise ApiError(
            408,
            "upload_timeout",
            f"the upload did not arrive within this server's limit of {limits.timeout:g} s "
            "(--timeout): send a smaller file or use a faster connection",
        ) from None


async def _drain(chunks, deadline: float, limits: Limits) -> None:
    dropped = 0
    while dropped < DRAIN_BYTES and time.monotonic() < deadline:
        try:
            chunk = await _next(chunks, deadline, limits)
        except ApiError:
            return
        if not chunk:
            return
        dropped += len(chunk)


async def receive_upload(request, folder: Path, limits: Limits, deadline: float) -> Upload:
    """Stream the request's `video` part to a new file in `folder` (see the module
    docstring). Raises ApiError (400, 408, 413, 415); the file is removed on any failure."""
    from python_multipart.exceptions import MultipartParseError
    from python_multipart.multipart import MultipartParser, parse_options_header

    kind, options = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data":
        raise not_multipart()
    boundary = options.get(b"boundary")
    if not boundary:
        raise ApiError(400, "bad_request", "the multipart/form-data body has no boundary")
    chunks = request.stream()
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limits.max_upload_bytes:
        if request.headers.get("expect", "").lower() != "100-continue":
            await _drain(chunks, deadline, limits)  # else the client has sent nothing yet
        raise too_large(limits)
    fd, name = tempfile.mkstemp(prefix="upload-", suffix=".video", dir=folder)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            parts = _Parts(out)
            parser = MultipartParser(boundary, parts.callbacks())
            received = 0
            while (chunk := await _next(chunks, deadline, limits)) is not None:
                if not chunk:
                    continue
                received += len(chunk)
                if received > limits.max_upload_bytes:
                    await _drain(chunks, deadline, limits)
                    raise too_large(limits)
                try:
                    parser.write(chunk)
                except MultipartParseError as e:
                    raise ApiError(400, "bad_request", f"malformed multipart body ({e})") from e
        if not parts.found:
            raise ApiError(
                400,
                "bad_request",
                f"no field named '{FIELD}' in the form: send the video as {FIELD}=@FILE",
            )
        declared_type = parts.content_type.split(";")[0].strip().lower()
        if declared_type.startswith(NOT_VIDEO):
            raise ApiError(
                415,
                "not_a_video",
                f"'{parts.filename}' was sent as {declared_type}, which is not a video: "
                "choose a video file (mp4, webm, avi, mkv, mov, ...)",
            )
        if parts.size == 0:
            raise ApiError(400, "empty_upload", f"'{parts.filename}' is empty (0 bytes)")
        return Upload(path, parts.filename or "upload", declared_type, parts.size)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


NO_VIDEO_STREAM = "no video stream in the file"  # mrstnet.data.video's reason


def probe(upload: Upload, limits: Limits):
    """Open the upload with PyAV: its VideoInfo (frames, fps, size), or ApiError 415 (no
    video stream), 400 (unreadable, or cut short: `data check`'s test, which demuxes the
    file and decodes its last frame) or 413 (longer than `max_seconds`). A cut file is
    refused although `mrstnet predict` would score what is left: an upload cut short is
    most likely an interrupted one, and its sender should know."""
    from mrstnet.data.check import check_video
    from mrstnet.data.video import VideoDecodeError

    try:
        info = check_video(upload.path)
    except VideoDecodeError as e:
        if e.reason == NO_VIDEO_STREAM:
            raise ApiError(
                415,
                "no_video_stream",
                f"'{upload.filename}' has no video stream (audio only?): choose a video file",
            ) from None
        raise unreadable(upload, e.reason) from None
    if info.duration > limits.max_seconds:
        raise ApiError(
            413,
            "video_too_long",
            f"'{upload.filename}' lasts {info.duration:.1f} s, more than this server's limit "
            f"of {limits.max_seconds:g} s (--max-seconds): cut it shorter",
        )
    return info


def unreadable(upload: Upload, reason: str) -> ApiError:
    """400 for a file PyAV cannot read; the server's own path never appears in it."""
    reason = reason.replace(str(upload.path), upload.filename)
    return ApiError(
        400,
        "unreadable_video",
        f"'{upload.filename}' is not a video this server can read ({reason}): "
        "check that the file plays and was uploaded whole",
    )


__all__ = ["FIELD", "Upload", "probe", "receive_upload", "unreadable"]
