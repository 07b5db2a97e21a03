"""Dynamic batching: one thread owns the model and scores clips from many requests at once.

Requests do not call the model. Each request's thread hands its clips, uint8
(n, 3, L, S, S), to the `Batcher` and waits; the batcher's single worker thread takes
the clips waiting, oldest first, up to `max_batch` of them (a request's clips may be split
across two model calls, and one call may hold clips of several requests), calls
`Predictor.probs` on their concatenation and hands each request its rows of the
(N, num_classes) probabilities. When fewer than `max_batch` clips wait, it waits for
more at most `max_wait_ms` after the oldest of them arrived, so a lone request is
delayed by at most that. `max_batch=1` turns batching off (a model call per clip).

`QueuedPredictor` is what `predict_files` and `timeline` are given in the server: the
checkpoint's `Predictor` (classes, clip spec, `top`) whose `probs` goes through the
batcher, so the server runs the very code of `mrstnet predict` and `mrstnet timeline`.
A request past its deadline stops waiting (`RequestTimeout`) and its clips still queued
are dropped.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout  # not TimeoutError on 3.10

import torch
from torch import Tensor

from mrstnet.engine.inference import Predictor


class RequestTimeout(TimeoutError):
    """The request's deadline passed while its clips waited for the model."""


class _Job:
    def __init__(self, clips: Tensor, deadline: float):
        self.clips = clips
        self.deadline = deadline
        self.arrival = time.monotonic()
        self.next = 0  # first clip not yet taken into a batch
        self.done = 0  # clips scored
        self.out: Tensor | None = None
        self.future: Future = Future()

    @property
    def waiting(self) -> int:
        return len(self.clips) - self.next


class Batcher:
    """The model's one worker thread and the clips waiting for it (see the module docstring)."""

    def __init__(self, predictor: Predictor, *, max_batch: int = 16, max_wait_ms: float = 5.0):
        self.predictor = predictor
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self._jobs: deque[_Job] = deque()
        self._waiting = 0  # clips in _jobs not yet taken
        self._cond = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        self.failure: BaseException | None = None  # why the worker died, if it did
        self.batches = 0
        self.clips = 0

    # -- the requests' side --------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="model", daemon=True)
        self._thread.start()

    @property
    def ready(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop

    @property
    def waiting_clips(self) -> int:
        return self._waiting

    def score(self, clips: Tensor, deadline: float) -> Tensor:
        """(n, num_classes) probabilities of `clips` (n, 3, L, S, S), scored in the batches
        of the worker; RequestTimeout past `deadline` (time.monotonic())."""
        if len(clips) == 0:
            return torch.zeros(0, self.predictor.num_classes)
        job = _Job(clips, deadline)
        with self._cond:
            if not self.ready:
                raise RuntimeError("the model worker is not running")
            self._jobs.append(job)
            self._waiting += len(clips)
            self._cond.notify()
        try:
            return job.future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            job.deadline = 0.0  # the worker drops what is left of it
            raise RequestTimeout("the request ran out of time waiting for the model") from None

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)
        for job in self._jobs:
            if not job.future.done():
                job.future.set_exception(RuntimeError("the server is stopping"))
        self._jobs.clear()

    # -- the worker ----------------------------------------------------------------------
    def _drop_expired(self, now: float) -> None:
        for job in [j for j in self._jobs if j.deadline < now]:
            self._jobs.remove(job)
            self._waiting -= job.waiting
            if not job.future.done():
                job.future.set_exception(RequestTimeout("the request ran out of time"))

    def _take(self) -> list[tuple[_Job, int, int]] | None:
        """Pieces (job, first, end) of at most max_batch clips, after waiting for company
        at most max_wait after the oldest clip arrived; None when stopping."""
        with self._cond:
            while True:
                if self._stop:
                    return None
                self._drop_expired(time.monotonic())
                if not self._jobs:
                    self._cond.wait()
                    continue
                left = self._jobs[0].arrival + self.max_wait - time.monotonic()
                if self._waiting >= self.max_batch or left <= 0:
                    break
                self._cond.wait(left)
            pieces, n = [], 0
            while self._jobs and n < self.max_batch:
                job = self._jobs[0]
                k = min(job.waiting, self.max_batch - n)
                pieces.append((job, job.next, job.next + k))
                job.next += k
                n += k
                if job.waiting == 0:
                    self._jobs.popleft()
            self._waiting -= n
            return pieces

    def _run(self) -> None:
        try:
            while (pieces := self._take()) is not None:
                batch = torch.cat([job.clips[a:b] for job, a, b in pieces])
                try:
                    p = self.predictor.probs(batch)
                except Exception as e:  # this batch's requests fail, the worker goes on
                    for job, _, _ in pieces:
                        if not job.future.done():
                            job.future.set_exception(e)
                    continue
                self.batches += 1
                self.clips += len(batch)
                start = 0
                for job, a, b in pieces:
                    if job.out is None:
                        job.out = torch.empty(len(job.clips), p.shape[1], dtype=p.dtype)
                    job.out[a:b] = p[start : start + b - a]
                    start += b - a
                    job.done += b - a
                    if job.done == len(job.clips) and not job.future.done():
                        job.future.set_result(job.out)
        except BaseException as e:  # a bug: /healthz says not ready, requests get 503
            self.failure = e
            raise


class QueuedPredictor:
    """The `Predictor` interface that predict_files, timeline and summarize read (spec,
    classes, checkpoint, top, probs), with `probs` through the batcher, for one request.

    `working`, if given, is the semaphore a request thread holds while it decodes: it is
    let go while the thread waits for the model, so that waiting threads do not keep
    others from decoding (and so from joining the batch)."""

    def __init__(
        self,
        predictor: Predictor,
        batcher: Batcher,
        deadline: float,
        working: threading.Semaphore | None = None,
    ):
        self._predictor, self._batcher, self.deadline = predictor, batcher, deadline
        self._working = working
        self.spec = predictor.spec
        self.classes = predictor.classes
        self.checkpoint = predictor.checkpoint
        self.device = predictor.device

    @property
    def num_classes(self) -> int:
        return self._predictor.num_classes

    def probs(self, clips: Tensor) -> Tensor:
        if self._working is None:
            return self._batcher.score(clips, self.deadline)
        self._working.release()
        try:
            return self._batcher.score(clips, self.deadline)
        finally:
            self._working.acquire()

    def top(self, p: Tensor, k: int = 5) -> list[dict]:
        return self._predictor.top(p, k)


__all__ = ["Batcher", "QueuedPredictor", "RequestTimeout"]
