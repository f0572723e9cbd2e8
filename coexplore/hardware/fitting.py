"""Least-squares polynomial fits of characterization points, with their fit error (as QUIDAM does).

A :class:`PolyCurve` turns a handful of measured points (synthesis results, CACTI runs, published
figures) into a smooth function the vectorized PPA model can evaluate on arrays; the fit reports
R^2 and the maximum relative error at the points so a user sees how well the curve holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FitReport:
    """How well a fitted curve reproduces its points.

    ``r2`` is the coefficient of determination (1.0 for an exact fit; defined as 1.0 when the
    points are constant and reproduced), ``max_rel_error`` the largest ``|fit - y| / |y|``.
    """

    quantity: str
    degree: int
    n_points: int
    r2: float
    max_rel_error: float

    def line(self) -> str:
        """One human-readable line, e.g. for the CLI."""
        return (
            f"{self.quantity}: degree {self.degree} over {self.n_points} points, "
            f"R^2 = {self.r2:.4f}, max relative error = {100 * self.max_rel_error:.2f}%"
        )


@dataclass(frozen=True)
class PolyCurve:
    """y = poly(x) (or, with ``log``, log y = poly(log x)), fitted by least squares.

    Coefficients are in increasing powers of the (possibly log-transformed) x.

    Example:
        >>> c = PolyCurve.fit([1, 2, 3], [1, 4, 9], degree=2)
        >>> round(float(c(4.0)), 6)
        16.0
    """

    coef: tuple[float, ...]
    log: bool = False
    report: FitReport | None = None

    @classmethod
    def fit(
        cls,
        x: np.ndarray | list[float],
        y: np.ndarray | list[float],
        degree: int | None = None,
        *,
        log: bool = False,
        quantity: str = "curve",
    ) -> PolyCurve:
        """Fit a polynomial of ``degree`` through the points by least squares.

        Without a ``degree``, 2 (lowered to ``len(points) - 1`` for fewer than 3 points); a
        ``degree`` the points cannot support is an error rather than quietly lowered.

        Args:
            x: abscissae (bits, product bits, bytes...), shape ``n``.
            y: measured values, shape ``n``.
            degree: polynomial degree (QUIDAM uses low-degree polynomials per quantity); default 2.
            log: fit ``log y`` against ``log x`` (power laws such as SRAM energy vs size).
            quantity: name used in the fit report.
        """
        xa = np.asarray(x, dtype=np.float64)
        ya = np.asarray(y, dtype=np.float64)
        if xa.shape != ya.shape or xa.ndim != 1 or xa.size == 0:
            raise ValueError(f"{quantity}: x and y must be equal-length non-empty lists")
        if not (np.all(np.isfinite(xa)) and np.all(np.isfinite(ya))):
            raise ValueError(f"{quantity}: x and y must be finite numbers (NaN or infinity given)")
        if np.any(ya < 0):
            raise ValueError(f"{quantity}: y must not be negative (energies, areas and powers are >= 0)")
        if log and (np.any(xa <= 0) or np.any(ya <= 0)):
            raise ValueError(f"{quantity}: a log fit needs positive x and y")
        if degree is None:
            degree = min(2, xa.size - 1)
        if degree < 0 or degree > len(np.unique(xa)) - 1:
            raise ValueError(f"{quantity}: degree {degree} needs at least {degree + 1} points with distinct x; "
                             f"got {xa.size}: lower the degree or add points")
        deg = int(degree)
        u, v = (np.log(xa), np.log(ya)) if log else (xa, ya)
        # Least squares on a Vandermonde matrix in increasing powers.
        vander = np.vander(u, deg + 1, increasing=True)
        coef, *_ = np.linalg.lstsq(vander, v, rcond=None)
        curve = cls(tuple(float(c) for c in coef), log)
        pred = curve(xa)
        ss_res = float(np.sum((pred - ya) ** 2))
        ss_tot = float(np.sum((ya - ya.mean()) ** 2))
        r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res < 1e-24 else 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.abs(pred - ya) / np.abs(ya)
        rel = np.where(ya == 0, np.abs(pred - ya), rel)
        report = FitReport(quantity, deg, int(xa.size), r2, float(np.max(rel)))
        return cls(curve.coef, log, report)

    def __call__(self, x: np.ndarray | float) -> np.ndarray:
        """Evaluate the curve elementwise on an array of x."""
        xa = np.asarray(x, dtype=np.float64)
        u = np.log(xa) if self.log else xa
        out = np.zeros_like(u) + self.coef[-1]
        for c in reversed(self.coef[:-1]):  # Horner
            out = out * u + c
        return np.exp(out) if self.log else out
