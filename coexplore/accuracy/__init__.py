"""Accuracy proxy: data sets, proxy models, pretrain cache, brief quantization-aware fine-tunes.

Example:
    >>> from coexplore.accuracy import ProxyConfig
    >>> ProxyConfig().model is None  # the data set's default model
    True
"""

from coexplore.accuracy._mobilenetv2 import MobileNetV2
from coexplore.accuracy._resnet import ResNet20
from coexplore.accuracy.cache import ResultCache, stable_hash
from coexplore.accuracy.budget import finetune_steps, fp32_distance
from coexplore.accuracy.config import FIDELITIES, ProxyConfig
from coexplore.accuracy.datasets import (
    DATASETS,
    DatasetError,
    Splits,
    load_cifar10,
    load_dataset,
    load_digits,
)
from coexplore.accuracy.errors import ProxyError
from coexplore.accuracy.folds import Fold, cv_folds
from coexplore.accuracy.evaluator import ProxyEvaluator, ProxyResult, VariantBuilder, torch_settings
from coexplore.accuracy.models import MODELS, DigitsCNN, ModelError, build_model
from coexplore.accuracy.recheck import Recheck, RecheckReport, rank_agreement, recheck

__all__ = [
    "DATASETS",
    "FIDELITIES",
    "MODELS",
    "DatasetError",
    "DigitsCNN",
    "Fold",
    "MobileNetV2",
    "ModelError",
    "ProxyConfig",
    "ProxyError",
    "ProxyEvaluator",
    "ProxyResult",
    "Recheck",
    "RecheckReport",
    "ResNet20",
    "ResultCache",
    "VariantBuilder",
    "Splits",
    "build_model",
    "cv_folds",
    "finetune_steps",
    "fp32_distance",
    "load_cifar10",
    "load_dataset",
    "load_digits",
    "rank_agreement",
    "recheck",
    "stable_hash",
    "torch_settings",
]
