"""coexplore: joint search of DNN-accelerator hardware and per-layer quantization."""

__version__ = "0.1.0"
