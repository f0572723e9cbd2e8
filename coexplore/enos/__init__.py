"""ENOS: energy-aware per-layer operator x computing-mode search (Nasrin et al., arXiv:2104.05217)."""
