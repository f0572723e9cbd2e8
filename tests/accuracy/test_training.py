"""Training helpers: distillation loss, BatchNorm re-estimation."""

from __future__ import annotations

import torch
from torch import nn

from coexplore.accuracy.training import distillation_loss, reestimate_batchnorm


def test_distillation_loss_is_zero_when_the_student_matches_the_teacher() -> None:
    t = torch.randn(8, 10)
    assert float(distillation_loss(t.clone(), t, 2.0)) < 1e-6
    assert float(distillation_loss(torch.randn(8, 10), t, 2.0)) > 0


def test_batchnorm_reestimation_sets_running_stats_to_the_datas_statistics() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 3, 3, bias=False), nn.BatchNorm2d(3))
    bn = net[1]
    bn.running_mean.fill_(5.0)  # stale statistics, as after quantizing the weights
    net.eval()
    x = torch.randn(300, 1, 8, 8)
    reestimate_batchnorm(net, x, batch_size=100)
    with torch.no_grad():
        features = net[0](x)
    expected = features.mean(dim=(0, 2, 3))
    assert torch.allclose(bn.running_mean, expected, atol=1e-5)
    assert bn.momentum == 0.1 and not net.training
