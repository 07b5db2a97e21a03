"""What a server accepts and how much of it at once: limits, admission, and API errors.

Every limit has a default and a `mrstnet serve` flag:

    max_upload_bytes  --max-upload-mb  request body; the upload is cut off there (413)
    max_seconds       --max-seconds    the video's duration, read from its header (413)
    timeout           --timeout        a request from arrival to answer (408 upload, 504)
    queue             --queue          requests in the server at once (503 + Retry-After)
    max_batch         --max-batch      clips per model call, from any requests
    max_wait_ms       --max-wait-ms    how long the oldest waiting clip waits for company
    workers           --workers        requests decoding at once (waiting for the model: not)
    max_clips                          clips (x crops) one request may ask for

Memory is bounded by `queue`: a request holds a slot from before its body is read until
its last clip is scored and its file removed, so at most `queue` uploads (each at most
`max_upload_bytes`, on disk) and their clips are in the server at any time.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

MIB = 2**20


@dataclass(frozen=True)
class Limits:
    max_upload_bytes: int = 100 * MIB
    max_seconds: float = 300.0
    timeout: float = 120.0
    queue: int = 32
    max_batch: int = 16
    max_wait_ms: float = 5.0
    workers: int = 2
    max_clips: int = 32

    def __post_init__(self):
        checks = {
            "--max-upload-mb": self.max_upload_bytes > 0,
            "--max-seconds": self.max_seconds > 0,
            "--timeout": self.timeout > 0,
            "--queue": self.queue >= 1,
            "--max-batch": self.max_batch >= 1,
            "--max-wait-ms": self.max_wait_ms >= 0,
            "--workers": self.workers >= 1,
        }
        bad = [flag for flag, ok in checks.items() if not ok]
        if bad:
            raise ValueError(
                f"{', '.join(bad)} out of range: sizes, times, --queue, --max-batch and "
                "--workers must be positive, --max-wait-ms >= 0"
            )


class ApiError(Exception):
    """An answer other than 200: the HTTP status, a stable `code` for programs, a message a
    person can act on, and extra headers (Retry-After, WWW-Authenticate)."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


class Slots:
    """Admission: at most `limit` requests inside the server (thread-safe: a slot is taken
    on the event loop and given back by the worker thread that finishes the request)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()
        self._service_s = 0.0  # moving average of a request's time inside the server

    def try_take(self) -> bool:
        with self._lock:
            if self.used >= self.limit:
                return False
            self.used += 1
            return True

    def give_back(self, seconds: float | None = None) -> None:
        with self._lock:
            self.used -= 1
            if seconds is not None:
                a = 0.2  # recent requests count most: the load changes
                self._service_s = seconds if not self._service_s else (
                    (1 - a) * self._service_s + a * seconds
                )  # fmt: skip

    def retry_after(self, workers: int) -> int:
        """Seconds until a slot is likely free: the requests inside, served `workers` at a
        time, each taking the recent average (1 to 60 s)."""
        with self._lock:
            wait = self._service_s * self.used / max(1, workers)
        return int(min(60, max(1, math.ceil(wait))))


__all__ = ["MIB", "ApiError", "Limits", "Slots"]
