"""Hardware: design points, technology characterization, PE and memory cost models."""

from coexplore.hardware.characterization import (
    USER_QUANTITIES,
    Characterization,
    CharacterizationError,
    load_characterization,
)
from coexplore.hardware.design import (
    DATAFLOWS,
    NATIVE_BITS,
    PE_TYPES,
    DesignBatch,
    DesignError,
    DesignPoint,
    load_design,
)
from coexplore.hardware.fitting import FitReport, PolyCurve
from coexplore.hardware.technology import TechError, TechnologyTable

__all__ = [
    "DATAFLOWS", "NATIVE_BITS", "PE_TYPES", "USER_QUANTITIES", "Characterization",
    "CharacterizationError", "DesignBatch", "DesignError", "DesignPoint", "FitReport", "PolyCurve",
    "TechError", "TechnologyTable", "load_characterization", "load_design",
]
