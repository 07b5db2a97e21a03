"""What the server owns while it runs, and what one prediction request does.

`Service.start()` makes the server's temporary folder (mode 0700, the only place uploads
are written), starts the model's worker thread (`Batcher`) and the request threads that
decode uploads; `stop()` ends them and removes the folder with anything left in it.

A request (`run_predict`) runs in a thread of its own (one per admitted request); at most
`workers` of them decode at once (a semaphore let go while a thread waits for the model).
It is the code of the commands: the upload
is checked by opening it with PyAV (`probe`), then `predict_files` (as `mrstnet predict`:
`clips` uniformly spaced clips, the mean of their softmax probabilities, the top k) and,
with `timeline`, `timeline` + `summarize` (as `mrstnet timeline`: sliding windows,
smoothed, merged into segments), all given a `QueuedPredictor` so that their model calls
are batched with other requests'. The request's file and admission slot are given back
whatever happens.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from mrstnet.engine.inference import Predictor

from .batcher import Batcher, QueuedPredictor, RequestTimeout
from .limits import MIB, ApiError, Limits, Slots
from .upload import Upload, probe, unreadable

WINDOW_TOP = 3  # classes per timeline window, as `mrstnet timeline` writes by default


@dataclass(frozen=True)
class PredictOptions:
    top: int = 5
    clips: int = 10
    crops: int = 1
    timeline: bool = False
    stride: float | None = None
    smooth: int = 3
    threshold: float = 0.5


def describe_model(predictor: Predictor) -> dict:
    """`GET /v1/model`: architecture, classes, clip geometry, parameters, checkpoint."""
    from mrstnet.engine.checkpoint import build_model_from_checkpoint, load_checkpoint

    ckpt = load_checkpoint(predictor.checkpoint)
    model = build_model_from_checkpoint(ckpt)  # as trained: BN not folded, for the count
    return {
        "arch": ckpt["model"]["arch"],
        "config": ckpt["model"],
        "classes": list(predictor.classes),
        "num_classes": predictor.num_classes,
        "clip": predictor.spec.to_dict(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "checkpoint": predictor.checkpoint,
        "source": ckpt.get("source"),
        "device": str(predictor.device),
    }


class Service:
    def __init__(self, predictor: Predictor, limits: Limits):
        self.predictor = predictor
        self.limits = limits
        self.slots = Slots(limits.queue)
        self.batcher = Batcher(
            predictor, max_batch=limits.max_batch, max_wait_ms=limits.max_wait_ms
        )
        self.model = describe_model(predictor)
        self.model["limits"] = {  # what a client may send, so that it can check first
            "max_upload_mb": round(limits.max_upload_bytes / MIB, 3),
            "max_seconds": limits.max_seconds,
            "timeout": limits.timeout,
            "max_clips": limits.max_clips,
        }
        self.working = threading.BoundedSemaphore(limits.workers)  # threads decoding now
        self.temp_dir: Path | None = None
        self.pool: ThreadPoolExecutor | None = None
        self.started = 0.0

    def start(self) -> None:
        self.temp_dir = Path(tempfile.mkdtemp(prefix="mrstnet-serve-"))
        # a thread per admitted request: most of them wait for the model, and a batch can
        # only hold the clips of requests that have a thread; `working` bounds the decoding
        self.pool = ThreadPoolExecutor(self.limits.queue, thread_name_prefix="request")
        self.batcher.start()
        self.started = time.monotonic()

    def stop(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
        self.batcher.stop()  # waiting requests fail at once, so the pool's threads end
        if self.pool is not None:
            self.pool.shutdown(wait=True)
        if self.temp_dir is not None:
            shutil.rmtree(self.temp_dir, ignore_errors=True)

    # -- admission ----------------------------------------------------------------------
    def admit(self) -> None:
        """Take a slot for a request, or 503 (busy, Retry-After) when all are taken."""
        if not self.batcher.ready:
            raise ApiError(503, "not_ready", "the model is not running; see the server log",
                           {"Retry-After": "10"})  # fmt: skip
        if not self.slots.try_take():
            wait = self.slots.retry_after(self.limits.workers)
            raise ApiError(
                503,
                "busy",
                f"the server is busy ({self.limits.queue} requests in progress, --queue): "
                f"try again in {wait} s",
                {"Retry-After": str(wait)},
            )

    def release(self, seconds: float | None = None) -> None:
        self.slots.give_back(seconds)

    def health(self) -> dict:
        ready = self.batcher.ready
        return {
            "status": "ok" if ready else "unavailable",
            "ready": ready,
            "model_loaded": True,
            "model": self.model["arch"],
            "queue": {
                "requests": self.slots.used,
                "limit": self.limits.queue,
                "clips_waiting": self.batcher.waiting_clips,
            },
            "batches": self.batcher.batches,
            "clips_scored": self.batcher.clips,
            "uptime_s": round(time.monotonic() - self.started, 1),
        }

    # -- one request (in a request thread) -----------------------------------------------
    def run_predict(self, upload: Upload, opts: PredictOptions, deadline: float) -> dict:
        """The request's answer; owns `upload` (removed) and its slot (given back)."""
        tic = time.monotonic()
        try:
            if not self.working.acquire(timeout=max(0.0, deadline - time.monotonic())):
                raise RequestTimeout("the request ran out of time waiting for a thread")
            try:
                return self._predict(upload, opts, deadline)
            finally:
                self.working.release()
        finally:
            upload.path.unlink(missing_ok=True)
            self.release(time.monotonic() - tic)

    def _predict(self, upload: Upload, opts: PredictOptions, deadline: float) -> dict:
        from mrstnet.data.video import VideoDecodeError
        from mrstnet.engine.batch import predict_files
        from mrstnet.engine.timeline import summarize, timeline

        info = probe(upload, self.limits)
        queued = QueuedPredictor(self.predictor, self.batcher, deadline, self.working)
        views = opts.clips * opts.crops
        (row,) = predict_files(
            queued, [upload.path], clips=opts.clips, crops=opts.crops, top=opts.top,
            batch_size=views, workers=0,
        )  # fmt: skip
        if "error" in row:  # the header read, the frames did not decode (truncated file)
            raise unreadable(upload, row["error"])
        result = {
            "video": upload.filename,
            "duration": round(info.duration, 3),
            "fps": round(info.fps, 3),
            "frames": info.num_frames,
            "width": info.width,
            "height": info.height,
            "clips": opts.clips,
            "crops": opts.crops,
            "top": row["top"],
        }
        if opts.timeline:
            try:
                run = timeline(queued, str(upload.path), stride=opts.stride)
            except VideoDecodeError as e:
                raise unreadable(upload, e.reason) from None
            summary, _ = summarize(
                run, queued, upload.filename, smooth=opts.smooth, threshold=opts.threshold,
                top=min(WINDOW_TOP, opts.top),
            )  # fmt: skip
            for key in ("video", "checkpoint"):  # said once, above and in /v1/model
                summary.pop(key, None)
            if "error" in summary:
                summary["error"] = summary["error"].replace(str(upload.path), upload.filename)
            result["timeline"] = summary
        return result


__all__ = ["PredictOptions", "Service", "describe_model"]
