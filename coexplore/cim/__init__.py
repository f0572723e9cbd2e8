"""Compute-in-memory (CIM) macros: description, cost model, and hybrid digital + CIM designs."""

from coexplore.cim.choices import (
    CHOICES,
    DEFAULT_CHOICES,
    OperatorChoice,
    lookup_choice,
    resolve_choices,
)
from coexplore.cim.cost import ENERGY_COMPONENTS, CimLayerCost, cim_layer_costs, cim_tiles
from coexplore.cim.hybrid import (
    HybridCost,
    OperatorCostTable,
    digital_layer_costs,
    hybrid_cost,
    operator_cost_table,
    shared_memory,
)
from coexplore.cim.macro import CIM_OPERATORS, CimMacro, CimMacroError, load_cim_macro
from coexplore.cim.technology import CimTechnology, CimTechnologyError, load_cim_technology

__all__ = [
    "CHOICES",
    "CIM_OPERATORS",
    "DEFAULT_CHOICES",
    "ENERGY_COMPONENTS",
    "CimLayerCost",
    "CimMacro",
    "CimMacroError",
    "CimTechnology",
    "CimTechnologyError",
    "HybridCost",
    "OperatorChoice",
    "OperatorCostTable",
    "cim_layer_costs",
    "cim_tiles",
    "digital_layer_costs",
    "hybrid_cost",
    "load_cim_macro",
    "load_cim_technology",
    "lookup_choice",
    "operator_cost_table",
    "resolve_choices",
    "shared_memory",
]
