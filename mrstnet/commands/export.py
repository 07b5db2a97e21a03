"""`mrstnet export`: a checkpoint to ONNX (opset 17) or TorchScript."""

from __future__ import annotations

ORDER = 33


def register(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export a checkpoint to ONNX or TorchScript",
        description="Export the eval-mode model (reference tubes: plain ops, same "
        "outputs). ONNX: opset 17, dynamic batch, frames, height and width "
        "axes. Input 'video' float (N, 3, L, H, W), "
        "normalised as mrstnet.data.normalize; output 'logits'.",
    )
    p.add_argument("--checkpoint", required=True, metavar="CKPT")
    p.add_argument("--format", required=True, choices=("onnx", "torchscript"))
    p.add_argument("--out", required=True, metavar="FILE")
    p.add_argument("--frames", type=int, help="example clip length (default: the checkpoint's)")
    p.add_argument("--size", type=int, help="crop size (default: the checkpoint's)")
    p.set_defaults(func=run)


def run(args) -> int:
    from mrstnet.deploy.export import export
    from mrstnet.engine.checkpoint import build_model_from_checkpoint, clip_spec_of, load_checkpoint
    from mrstnet.extras import require

    if args.format == "onnx":  # a missing extra fails before the checkpoint is read
        require("onnx", "onnx", "ONNX export")
    ckpt = load_checkpoint(args.checkpoint)
    model = build_model_from_checkpoint(ckpt)
    spec = clip_spec_of(ckpt) if "data" in ckpt else None  # else the model's default input
    info = export(
        model,
        args.out,
        args.format,
        frames=args.frames or (spec and spec.frames),
        size=args.size or (spec and spec.crop_size),
    )
    extra = ""
    if "opset" in info:
        extra = f", opset {info['opset']}, dynamic axes {info['dynamic_axes']}"
    print(f"wrote {info['path']} ({info['format']}, example input {info['input']}{extra})")
    return 0
