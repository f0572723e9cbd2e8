"""Quantizers and applying a per-layer quantization plan to a torch model."""
