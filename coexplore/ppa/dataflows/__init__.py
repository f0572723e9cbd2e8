"""Dataflows behind one contract (:class:`Dataflow`); adding one is one file + one line here."""

from coexplore.ppa.dataflows._base import ArrayCosts, Dataflow, MappingInputs
from coexplore.ppa.dataflows.output_stationary import OutputStationary
from coexplore.ppa.dataflows.row_stationary import RowStationary
from coexplore.ppa.dataflows.weight_stationary import WeightStationary

DATAFLOW_MODELS: dict[str, Dataflow] = {
    "row_stationary": RowStationary(),
    "weight_stationary": WeightStationary(),
    "output_stationary": OutputStationary(),
}
"""Dataflow name (as in :data:`coexplore.hardware.DATAFLOWS`) -> its model."""

__all__ = ["DATAFLOW_MODELS", "ArrayCosts", "Dataflow", "MappingInputs", "OutputStationary",
           "RowStationary", "WeightStationary"]
