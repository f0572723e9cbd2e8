"""PE models behind one contract (:class:`PEModel`); adding a PE type is one file + one line here.

Source keys in the docstrings ([H14], [LNN17], [NG45], [WH11]) are defined, with full references,
in the header of ``coexplore/data/tech_45nm.yaml``.
"""

from coexplore.hardware.pe._base import PEModel
from coexplore.hardware.pe.binary import BinaryPE
from coexplore.hardware.pe.int_mac import IntMAC
from coexplore.hardware.pe.lightpe1 import LightPE1
from coexplore.hardware.pe.lightpe2 import LightPE2

PE_MODELS: dict[str, PEModel] = {
    "int16": IntMAC(),
    "int8": IntMAC(),
    "int4": IntMAC(),
    "lightpe1": LightPE1(),
    "lightpe2": LightPE2(),
    "binary": BinaryPE(),
}
"""PE type name (as in :data:`coexplore.hardware.PE_TYPES`) -> its model."""

__all__ = ["PE_MODELS", "BinaryPE", "IntMAC", "LightPE1", "LightPE2", "PEModel"]
