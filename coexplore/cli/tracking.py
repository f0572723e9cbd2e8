"""Commands for reviewing studies: `coexplore ui`, `study export`, `study report`."""

from __future__ import annotations

import typer


def register(root: typer.Typer, study_app: typer.Typer) -> None:
    """Add the review commands to the root app and the `study` sub-app."""
