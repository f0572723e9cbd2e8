"""Hardware: design points, technology characterization, PE and memory cost models."""

from coexplore.hardware.design import (
    DATAFLOWS,
    NATIVE_BITS,
    PE_TYPES,
    DesignBatch,
    DesignError,
    DesignPoint,
    load_design,
)

__all__ = ["DATAFLOWS", "NATIVE_BITS", "PE_TYPES", "DesignBatch", "DesignError", "DesignPoint", "load_design"]
