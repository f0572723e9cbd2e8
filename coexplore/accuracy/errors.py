"""The proxy's error: it cannot produce an accuracy, and the message says why."""

from __future__ import annotations


class ProxyError(RuntimeError):
    """The proxy cannot produce an accuracy (divergence, NaN, bad data or model); says why."""
