"""Compute-in-memory (CIM) macros: description, cost model, and hybrid digital + CIM designs."""

from coexplore.cim.cost import ENERGY_COMPONENTS, CimLayerCost, cim_layer_costs, cim_tiles
from coexplore.cim.macro import CIM_OPERATORS, CimMacro, CimMacroError, load_cim_macro
from coexplore.cim.technology import CimTechnology, CimTechnologyError, load_cim_technology

__all__ = [
    "CIM_OPERATORS",
    "ENERGY_COMPONENTS",
    "CimLayerCost",
    "CimMacro",
    "CimMacroError",
    "CimTechnology",
    "CimTechnologyError",
    "cim_layer_costs",
    "cim_tiles",
    "load_cim_macro",
    "load_cim_technology",
]
