"""Video files in, uint8 clips out (SPEC §3, §5): decoding, clip sampling, transforms,
datasets, the synthetic motion set. No models here."""

from mrstnet.data.datasets import (
    READERS,
    SplitFileError,
    TooManyBadVideosError,
    VideoClipDataset,
    VideoRecord,
    build_dataset,
    collate,
    find_annotations,
    load_clips,
    read_folder,
    read_hmdb51,
    read_kinetics,
    read_list,
    read_ucf101,
)
from mrstnet.data.sampling import ClipInfo, clip_indices, random_clip, uniform_clips
from mrstnet.data.synthetic import write_synthetic
from mrstnet.data.transforms import (
    MEAN,
    PRESETS,
    STD,
    EvalTransform,
    TrainTransform,
    eval_transform,
    normalize,
    train_transform,
)
from mrstnet.data.video import VideoDecodeError, VideoInfo, VideoReader, probe, read_frames

__all__ = [
    "MEAN", "PRESETS", "READERS", "STD", "ClipInfo", "EvalTransform", "SplitFileError",
    "TooManyBadVideosError", "TrainTransform", "VideoClipDataset", "VideoDecodeError",
    "VideoInfo", "VideoReader", "VideoRecord", "build_dataset", "clip_indices", "collate",
    "eval_transform", "find_annotations", "load_clips", "normalize", "probe", "random_clip",
    "read_folder", "read_frames", "read_hmdb51", "read_kinetics", "read_list", "read_ucf101",
    "train_transform", "uniform_clips", "write_synthetic",
]
