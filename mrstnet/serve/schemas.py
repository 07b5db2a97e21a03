"""The JSON the API answers with, as pydantic models: they make the OpenAPI document
(/openapi.json) say what each field is. The routes build plain dicts; FastAPI checks them
against these models."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(description="stable name of the error, for programs (e.g. 'busy')")
    message: str = Field(description="what went wrong and what to do, for people")


class ErrorBody(BaseModel):
    error: ErrorDetail


class Ranked(BaseModel):
    class_: str = Field(alias="class", description="class name")
    index: int = Field(description="class index in the checkpoint's class list")
    prob: float = Field(description="probability, 0 to 1")


class Window(BaseModel):
    index: int
    start: float = Field(description="seconds")
    end: float = Field(description="seconds")
    looped: bool | None = Field(None, description="the video is shorter than one window")
    top: list[Ranked]


class Segment(BaseModel):
    start: float = Field(description="seconds")
    end: float = Field(description="seconds")
    class_: str | None = Field(alias="class", description="null: no class above threshold")
    prob: float = Field(description="mean smoothed probability of the class")
    windows: int


class Span(BaseModel):
    frames: int
    frame_step: int | None = None
    seconds: float | None = None


class Timeline(BaseModel):
    fps: float
    duration: float
    frames: int
    window: Span
    stride: Span
    smooth: int
    threshold: float
    windows: list[Window]
    segments: list[Segment]
    error: str | None = Field(None, description="why decoding stopped early, if it did")


class Prediction(BaseModel):
    video: str = Field(description="the uploaded file's name, as sent")
    duration: float = Field(description="seconds, from the file's header")
    fps: float
    frames: int
    width: int
    height: int
    clips: int
    crops: int
    top: list[Ranked] = Field(description="classes for the whole video, most probable first")
    timeline: Timeline | None = Field(None, description="with timeline=true")
    elapsed_s: float = Field(description="time in the server, upload included")


class ModelInfo(BaseModel):
    arch: str
    config: dict
    classes: list[str]
    num_classes: int
    clip: dict = Field(description="clip geometry (ClipSpec): frames, frame_step, ...")
    parameters: int
    checkpoint: str
    source: str | None = None
    device: str
    limits: dict = Field(description="max_upload_mb, max_seconds, timeout, max_clips")


class Queue(BaseModel):
    requests: int = Field(description="requests inside the server now")
    limit: int = Field(description="--queue: more are answered 503")
    clips_waiting: int = Field(description="clips waiting for the model")


class Health(BaseModel):
    status: str = Field(description="'ok', or 'unavailable' (answered with 503)")
    ready: bool
    model_loaded: bool
    model: str
    queue: Queue
    batches: int = Field(description="model calls so far")
    clips_scored: int
    uptime_s: float
