"""The sizes every check runs at: the real ones for a GPU, tiny ones for the CPU (CI).

The tiny sizes go through the same code paths in seconds; they measure nothing worth
keeping. No torch here: the runner reads these without importing it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# MRST-T-Net at two tiny stages (as tests/deploy/test_compile.py): stem, two residual blocks
TINY_NET = dict(
    num_classes=4, stem_width=8, widths=(8, 8), out_channels=(16, 16), depths=(1, 1), lstm_hidden=16
)


@dataclass(frozen=True)
class Sizes:
    name: str
    net: dict  # create_model("mrst_t_net", **net): the network of every check ({} = Table 1)
    exact: tuple[int, int, int]  # batch, frames, size: fast vs reference, fp32 and fp64
    bf16: tuple[int, int, int]  # batch, frames, size: the bf16 training step
    bf16_net: dict  # its network's overrides beyond `net`
    infer_equal: tuple[int, int, int]  # batch, frames, size: `optimize` against the model
    clip: tuple[int, int]  # frames, size of the throughput clips
    batches: tuple[int, ...]  # throughput batch sizes
    compiled_batches: tuple[int, ...]  # compiled throughput batch sizes (a compile each)
    warmup: int  # untimed calls before timing (the first compiles, tunes cuDNN)
    iters: int  # timed calls; the median is reported
    ddp: tuple[int, int, int]  # per-process batch, frames, size of the DDP step
    ddp_net: dict  # its network (fp64: kept small)
    compile_backend: str  # torch.compile backend of the compile check
    extra_models: dict = field(default_factory=dict)  # name -> kwargs, timed for Table 2
    # the learning run: the synthetic set, and the recipe over the `demo` preset
    synth: dict = field(default_factory=dict)  # mrstnet synth --classes/--videos-per-class/...
    repeat: int = 1  # times each training video is listed: long epochs, few checkpoints
    train_sets: dict = field(default_factory=dict)  # --set KEY=VALUE for mrstnet train
    loss_ratio: float = 0.75  # the loss must end below this fraction of its first window


GPU = Sizes(
    name="gpu",
    net={},
    exact=(2, 8, 112),
    bf16=(4, 16, 224),
    bf16_net={},
    infer_equal=(2, 16, 224),
    clip=(16, 224),
    batches=(8, 32),
    compiled_batches=(8, 32),
    warmup=3,
    iters=10,
    ddp=(2, 8, 64),
    ddp_net=dict(width_mult=0.25),
    compile_backend="inductor",
    extra_models={"c3d_mrst_t": {}, "c3d": {}},
    synth=dict(classes=10, videos_per_class=30, frames=24, size=128),
    repeat=100,  # 200 training videos x 100 = 625 steps of 32 an epoch
    train_sets=dict(
        frames=16,
        short_side=128,
        crop_size=112,
        batch_size=32,
        lr=1e-3,
        warmup_epochs=0.05,
        epochs=1000,  # stopped by time (--train-seconds), never by the step count
        max_steps=0,
        num_workers=8,
        log_every=10,
    ),
    loss_ratio=0.75,
)

TINY = Sizes(
    name="tiny",
    net=TINY_NET,
    exact=(2, 4, 16),
    bf16=(2, 4, 32),
    # nn.LSTM under CPU bf16 autocast fails in torch's oneDNN path (torch 2.13: "could not
    # create a primitive descriptor for the LSTM forward propagation primitive"); the CUDA
    # check keeps Table 1's LSTM head
    bf16_net=dict(head="avg"),
    infer_equal=(2, 4, 32),
    clip=(4, 32),
    batches=(2, 4),
    compiled_batches=(2,),
    warmup=1,
    iters=3,
    ddp=(2, 4, 16),
    ddp_net=TINY_NET,
    compile_backend="aot_eager",  # dynamo + AOT autograd in seconds; inductor takes minutes here
    extra_models={"c3d_mrst_t": dict(width_mult=0.125, fc_dim=32)},
    synth=dict(classes=4, videos_per_class=6, frames=12, size=32),
    repeat=8,
    train_sets=dict(
        model_args=dict(
            stem_width=8, widths=[8, 8], out_channels=[16, 16], depths=[1, 1], lstm_hidden=16
        ),
        frames=8,
        short_side=32,
        crop_size=32,
        batch_size=8,
        lr=1e-2,
        warmup_epochs=0.1,
        epochs=100,
        max_steps=40,
        num_workers=0,
        log_every=5,
        threads=1,
    ),
    loss_ratio=0.9,
)


def sizes_for(tiny: bool) -> Sizes:
    return TINY if tiny else GPU
