"""An allow-list unpickler for data files (CIFAR-10's python batches).

``pickle.load`` runs whatever callable a file names (``os.system`` included), so a batch file
from an untrusted download could run code on load. This unpickler resolves only the globals that
rebuild plain data: NumPy arrays, dtypes and scalars (and ``_codecs.encode``, which Python 3
protocol-2 pickles use for bytes); dicts, lists, tuples, bytes, str and numbers need no globals.
Anything else is refused before it is called.
"""

from __future__ import annotations

import pickle
from typing import IO, Any

ALLOWED_GLOBALS = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("_codecs", "encode"),
    }
)
"""``(module, name)`` pairs a data pickle may reference."""


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle names a global outside :data:`ALLOWED_GLOBALS`."""


class DataUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only :data:`ALLOWED_GLOBALS`.

    Example:
        >>> import io, pickle
        >>> DataUnpickler(io.BytesIO(pickle.dumps({b"labels": [1, 2]}))).load()
        {b'labels': [1, 2]}
    """

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise RefusedGlobal(f"refused to load {module}.{name}")
        return super().find_class(module, name)


def load_data_pickle(fh: IO[bytes], encoding: str = "ASCII") -> Any:
    """Unpickle ``fh`` with :class:`DataUnpickler` (``encoding`` as for ``pickle.load``)."""
    return DataUnpickler(fh, encoding=encoding).load()
