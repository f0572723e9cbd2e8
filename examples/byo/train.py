"""Train the example network briefly on the example data and save its weights (a state_dict).

Run: ``.venv/bin/python examples/byo/train.py [--epochs 8] [--out examples/byo/tinynet.pt]``; then
``coexplore study start studies/byo-digits.yaml`` starts from these weights with no pretraining.
Prints the validation accuracy, which is the study's baseline.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from types import ModuleType

import torch
from torch.nn import functional as F

HERE = Path(__file__).resolve().parent


def _sibling(name: str) -> ModuleType:
    """The module ``name``.py beside this script (the same files the study names)."""
    spec = importlib.util.spec_from_file_location(f"byo_{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def train_checkpoint(out: Path, epochs: int = 8, seed: int = 0) -> float:
    """Train :class:`TinyNet` for ``epochs`` epochs (Adam, batch 32), save its state_dict to ``out``
    and return its accuracy on the validation part of :func:`digits_data`."""
    torch.manual_seed(seed)
    (x, y), val = _sibling("data").digits_data()
    model = _sibling("net").TinyNet(num_classes=10, in_channels=1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(y)).split(32):
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    model.eval()
    vx, vy = val.tensors
    with torch.no_grad():
        accuracy = int((model(vx).argmax(1) == vy).sum()) / len(vy)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out)
    return accuracy


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--out", type=Path, default=HERE / "tinynet.pt")
    args = parser.parse_args()
    acc = train_checkpoint(args.out, args.epochs)
    print(f"saved {args.out}; validation accuracy {acc:.4f}")
