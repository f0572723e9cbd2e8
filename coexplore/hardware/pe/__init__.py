"""PE models behind one contract (:class:`PEModel`) and the PE-type registry.

Adding a PE type is one model file plus one :func:`register_pe_type` line below. Source keys in
the docstrings ([H14], [LNN17], [NG45], [WH11]) are defined, with full references, in the header of
``coexplore/data/tech_45nm.yaml``.
"""

from coexplore.hardware.pe._base import PEModel
from coexplore.hardware.pe.binary import BinaryPE
from coexplore.hardware.pe.int_mac import IntMAC
from coexplore.hardware.pe.lightpe1 import LightPE1
from coexplore.hardware.pe.lightpe2 import LightPE2
from coexplore.hardware.pe.registry import (
    PE_TYPE_REGISTRY,
    PEType,
    get_pe_type,
    native_bits,
    native_bits_by_code,
    pe_type_names,
    register_pe_type,
)

# LightPE-1 stores a sign + 3-bit exponent, LightPE-2 two such terms (LightNN, Ding et al. 2017);
# both take 8-bit activations as in QUIDAM (Inci et al. 2022).
register_pe_type(PEType("int16", IntMAC(), (16, 16), "uniform", integer=True))
register_pe_type(PEType("int8", IntMAC(), (8, 8), "uniform", integer=True))
register_pe_type(PEType("int4", IntMAC(), (4, 4), "uniform", integer=True))
register_pe_type(PEType("lightpe1", LightPE1(), (4, 8), "pow2", {"terms": 1}))
register_pe_type(PEType("lightpe2", LightPE2(), (8, 8), "pow2", {"terms": 2}))
register_pe_type(PEType("binary", BinaryPE(), (1, 1), "binary"))

__all__ = [
    "PE_TYPE_REGISTRY", "BinaryPE", "IntMAC", "LightPE1", "LightPE2", "PEModel", "PEType", "get_pe_type",
    "native_bits", "native_bits_by_code", "pe_type_names", "register_pe_type",
]
