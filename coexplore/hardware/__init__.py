"""Hardware: design points, technology characterization, PE and memory cost models."""

from coexplore.hardware.characterization import (
    USER_QUANTITIES,
    Characterization,
    CharacterizationError,
    load_characterization,
)
from coexplore.hardware.design import (
    DATAFLOWS,
    DesignBatch,
    DesignError,
    DesignPoint,
    load_design,
)
from coexplore.hardware.fitting import FitReport, PolyCurve
from coexplore.hardware.pe import PEType, get_pe_type, native_bits, pe_type_names, register_pe_type
from coexplore.hardware.technology import TechError, TechnologyTable

__all__ = [
    "DATAFLOWS",
    "USER_QUANTITIES",
    "Characterization",
    "CharacterizationError",
    "DesignBatch",
    "DesignError",
    "DesignPoint",
    "FitReport",
    "PEType",
    "PolyCurve",
    "TechError",
    "TechnologyTable",
    "get_pe_type",
    "load_characterization",
    "load_design",
    "native_bits",
    "pe_type_names",
    "register_pe_type",
]
