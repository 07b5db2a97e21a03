"""Using a trained model outside training: export (ONNX, TorchScript), ImageNet inflation,
feature-map pictures and the shipped demo weights. Uses models + engine; nothing here trains."""
