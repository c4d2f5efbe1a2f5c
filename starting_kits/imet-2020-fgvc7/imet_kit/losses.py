"""Asymmetric loss (Ridnik et al., ICCV 2021) for multi-label training with many easy negatives."""
from __future__ import annotations

import torch
from torch import nn


class AsymmetricLoss(nn.Module):
    """Focal terms with separate gammas for positives and negatives; negatives' probabilities are shifted
    down by `clip`, so easy negatives (p < clip) give no loss and no gradient at all."""

    def __init__(self, gamma_neg: float = 4.0, gamma_pos: float = 0.0, clip: float = 0.05, eps: float = 1e-8):
        super().__init__()
        self.gamma_neg, self.gamma_pos, self.clip, self.eps = gamma_neg, gamma_pos, clip, eps

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits, targets = logits.float(), targets.float()  # float32 even under autocast: logs and powers
        p = torch.sigmoid(logits)
        p_neg = (p - self.clip).clamp(min=0) if self.clip > 0 else p
        positive = targets * (1 - p).pow(self.gamma_pos) * torch.log(p.clamp(min=self.eps))
        negative = (1 - targets) * p_neg.pow(self.gamma_neg) * torch.log((1 - p_neg).clamp(min=self.eps))
        return -(positive + negative).mean()
