"""The fine-tune's step budget: more steps for plans further from FP32.

A plan at 8 bits everywhere starts a fine-tune within a fraction of a point of the FP32 model and
has converged after a hundred steps; a 2-bit or binary plan starts 10-60 points below it and is
still climbing. With one budget for both, the brief fine-tune under-rates the low-bit plans by
how far they still had to go, and since that distance differs between plans (binary vs 2-bit vs
2-bit with pinned ends) their order flips against a long fine-tune. Scaling the budget with the
plan's distance from FP32 spends the steps where the ranking needs them.
"""

from __future__ import annotations

from collections.abc import Sequence

FULL_PRECISION_BITS = 8
"""Bits at and above which a layer counts as no distance from FP32 (INT8 QAT is near lossless)."""


def fp32_distance(weight_bits: Sequence[int], act_bits: Sequence[int]) -> float:
    """How far a plan is from FP32, in [0, 1]: the layers' mean bit deficit below 8 bits.

    Per layer, ``(8 - min(bits, 8)) / 7`` for weights and for activations, averaged (so a layer at
    1 bit counts 1, at 4 bits 0.57, at 8 bits 0); the plan's distance is the mean over layers.

    Example:
        >>> fp32_distance([8, 8], [8, 8]), fp32_distance([1, 1], [1, 1])
        (0.0, 1.0)
        >>> round(fp32_distance([8, 2], [8, 2]), 3)
        0.429
    """
    if not weight_bits:
        return 0.0
    top = FULL_PRECISION_BITS

    def deficit(b: int) -> float:
        return (top - min(int(b), top)) / (top - 1)

    per_layer = [(deficit(w) + deficit(a)) / 2 for w, a in zip(weight_bits, act_bits)]
    return sum(per_layer) / len(per_layer)


def finetune_steps(base_steps: int, step_scale: float, distance: float) -> int:
    """``base_steps x (1 + step_scale x distance)``, rounded: the fine-tune budget of one plan.

    Example:
        >>> finetune_steps(120, 2.0, 0.0), finetune_steps(120, 2.0, 1.0)
        (120, 360)
    """
    return int(round(base_steps * (1 + step_scale * distance)))
