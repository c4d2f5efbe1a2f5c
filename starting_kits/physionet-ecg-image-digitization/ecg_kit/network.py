"""A U-Net on a timm encoder that maps an ECG image to per-row trace maps: for each of the page's four printed rows,
the probability that a pixel is that row's trace (not grid, text, stain, nor another row's tall complex).

Besides the colours, the network sees each pixel's height on the page (a fourth input channel), which is what tells
the rows apart; a crossing complex then belongs to the row it came from."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import timm
import torch
from torch import nn
from torch.nn import functional as F

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class Up(nn.Module):
    def __init__(self, channels_in: int, channels_skip: int, channels_out: int):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(channels_in + channels_skip, channels_out, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(channels_out), nn.ReLU(inplace=True),
                                  nn.Conv2d(channels_out, channels_out, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(channels_out), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.conv(torch.cat([x, skip], dim=1))


ROWS = 4
IN_CHANNELS = 4  # RGB and the height on the page


class TraceNet(nn.Module):
    """Encoder features at strides 2-32, decoded back to full resolution with skip connections; four outputs: the
    logit that a pixel is the trace of printed row 1, 2, 3 or 4 (the rhythm strip)."""

    def __init__(self, encoder: str = "mobilenetv3_small_050", width: int = 16):
        super().__init__()
        self.encoder_name = encoder
        self.encoder = timm.create_model(encoder, features_only=True, pretrained=False, in_chans=IN_CHANNELS)
        channels = self.encoder.feature_info.channels()
        self.stem = nn.Sequential(nn.Conv2d(IN_CHANNELS, width // 2, 3, padding=1, bias=False), nn.BatchNorm2d(width // 2),
                                  nn.ReLU(inplace=True))  # full-resolution detail for 1-pixel lines
        ups, current = [], channels[-1]
        for skip in reversed(channels[:-1]):
            ups.append(Up(current, skip, width))
            current = width
        self.ups = nn.ModuleList(ups)
        self.final = Up(width, width // 2, width // 2)
        self.head = nn.Conv2d(width // 2, ROWS, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.encoder(x)
        y = features[-1]
        for up, skip in zip(self.ups, reversed(features[:-1])):
            y = up(y, skip)
        return self.head(self.final(y, self.stem(x)))


def to_tensor(image: np.ndarray, top: int = 0, page_height: int | None = None) -> torch.Tensor:
    """Normalised RGB and the rows' heights on the page (−1 at the top, +1 at the bottom) as a 4-channel tensor."""
    x = torch.from_numpy(image.astype(np.float32) / 255.0).permute(2, 0, 1)
    x = (x - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]
    page_height = page_height or image.shape[0]
    heights = (torch.arange(top, top + image.shape[0], dtype=torch.float32) / max(1, page_height - 1)) * 2 - 1
    return torch.cat([x, heights[None, :, None].expand(1, image.shape[0], image.shape[1])], dim=0)


@torch.no_grad()
def predict_map(model: TraceNet, image: np.ndarray, device: torch.device, tile: int = 1024) -> np.ndarray:
    """Per-row trace probabilities (4 × H × W) for a whole image, in overlapping tiles so memory stays bounded."""
    model.eval()
    height, width = image.shape[:2]
    out = np.zeros((ROWS, height, width), dtype=np.float32)
    step = tile - 64
    for top in range(0, max(1, height - 64), step):
        for left in range(0, max(1, width - 64), step):
            crop = image[top:top + tile, left:left + tile]
            h, w = crop.shape[:2]
            pad_h, pad_w = (-h) % 32, (-w) % 32
            x = F.pad(to_tensor(crop, top, height)[None], (0, pad_w, 0, pad_h), mode="replicate").to(device)
            probabilities = torch.sigmoid(model(x))[0, :, :h, :w].float().cpu().numpy()
            out[:, top:top + h, left:left + w] = np.maximum(out[:, top:top + h, left:left + w], probabilities)
    return out


def save(model: TraceNet, path: Path, meta: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}  # half: small file
    torch.save({"encoder": model.encoder_name, "state": state, "meta": meta}, path)


def load(path: Path, device: torch.device) -> TraceNet:
    saved = torch.load(path, map_location="cpu", weights_only=False)
    model = TraceNet(saved["encoder"])
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in saved["state"].items()})
    return model.to(device).eval()
