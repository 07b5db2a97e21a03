"""The clip dataset on real files: sample shapes, and what happens with unreadable videos in
training (skip, log once, count, bounded), in test (None, dropped by collate) and in workers."""

import logging

import pytest
import torch
from torch.utils.data import DataLoader

from mrstnet.data import (
    ClipSpec,
    TooManyBadVideosError,
    VideoClipDataset,
    VideoRecord,
    build_dataset,
    collate,
    load_clips,
)
from mrstnet.data.video import VideoDecodeError

BAD_KINDS = ["missing", "empty", "audio_only", "random_bytes"]
SPEC = ClipSpec(frames=8, short_side=20, crop_size=16)


def _good(root, n=2):
    return [VideoRecord(p, 0) for p in sorted(root.glob("*/*.avi"))[:n]]


def test_build_dataset_train_and_test_items(synthetic_root):
    train = build_dataset("ucf101", synthetic_root, SPEC, subset="train", train=True)
    item = train[0]
    assert item["video"].shape == (3, 8, 16, 16) and item["video"].dtype == torch.uint8
    assert train.classes == ["MoveLeft", "MoveRight", "MoveUp", "MoveDown"]
    views = SPEC.replace(num_clips=2, crops=3)
    test = build_dataset("ucf101", synthetic_root, views, subset="test", train=False)
    assert len(test) == len(test.videos) * 6
    assert [test[i]["clip_index"] for i in range(6)] == list(range(6))
    assert test[7]["video_index"] == 1
    clips = load_clips(test.videos[0].path, views)
    assert torch.equal(clips[5], test[5]["video"])  # predict sees what test sees


def test_training_skips_bad_videos_logs_each_once_and_counts(synthetic_root, bad_videos, caplog):
    bad = [VideoRecord(bad_videos[k], 0) for k in BAD_KINDS]
    ds = VideoClipDataset(_good(synthetic_root) + bad, ["a"], SPEC, train=True)
    torch.manual_seed(0)
    with caplog.at_level(logging.WARNING, logger="mrstnet.data"):
        for _ in range(3):
            for i in range(len(ds)):
                assert ds[i]["video"].shape == (3, 8, 16, 16)  # a good video was drawn instead
    assert set(ds.bad) == {str(bad_videos[k]) for k in BAD_KINDS}
    for k in BAD_KINDS:
        assert sum(str(bad_videos[k]) in r.getMessage() for r in caplog.records) == 1


def test_training_stops_after_consecutive_failures(bad_videos):
    bad = [VideoRecord(bad_videos[k], 0) for k in BAD_KINDS]
    ds = VideoClipDataset(bad, ["a"], SPEC, train=True, max_consecutive_failures=5)
    with pytest.raises(TooManyBadVideosError, match="5 unreadable videos in a row"):
        ds[0]
    strict = VideoClipDataset(bad, ["a"], SPEC, train=True, skip_bad=False)
    with pytest.raises(VideoDecodeError, match="empty"):
        strict[1]


def test_test_mode_returns_none_and_collate_drops_it(synthetic_root, bad_videos):
    records = _good(synthetic_root, 1) + [VideoRecord(bad_videos["random_bytes"], 0)]
    ds = VideoClipDataset(records, ["a"], SPEC.replace(num_clips=2), train=False)
    items = [ds[i] for i in range(len(ds))]
    assert items[2] is None and items[3] is None
    batch = collate(items)
    assert batch["video"].shape == (2, 3, 8, 16, 16)
    assert batch["video_index"].tolist() == [0, 0]
    assert collate([None, None]) is None


def test_dataloader_with_a_worker_survives_a_bad_file(synthetic_root, bad_videos):
    records = _good(synthetic_root, 3) + [VideoRecord(bad_videos["truncated"], 0)]
    records.insert(1, VideoRecord(bad_videos["empty"], 0))
    for train in (True, False):
        ds = VideoClipDataset(records, ["a"], SPEC, train=train)
        loader = DataLoader(ds, batch_size=2, num_workers=1, collate_fn=collate)
        batches = [b for b in loader if b is not None]
        sizes = [len(b["label"]) for b in batches]
        # Training replaces the bad item; test drops it (the truncated file's frames still decode).
        assert sum(sizes) == (5 if train else 4)
        # the worker's skips reach the main process with the batches (training only)
        skipped = [int(b["skipped"]) for b in batches if "skipped" in b]
        assert (sum(skipped) >= 1) if train else not skipped
