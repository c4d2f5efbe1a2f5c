"""Train the trace network on the public training data and save its weights (then zip them with the kit).

    python3 train.py --data-dir PUBLIC_DATA [--config configs/default.yaml] [--out weights/default.pt]
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ecg_kit.config import load_config
from ecg_kit.network import save
from ecg_kit.pipeline import pick_device
from ecg_kit.training import train_network

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--config", type=Path, default=HERE / "configs" / "default.yaml")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    config = load_config(args.config)
    model = train_network(config, args.data_dir, pick_device(config.device))
    out = args.out or HERE / "weights" / f"{config.name}.pt"
    save(model, out, {"config": config.name, "data": str(args.data_dir)})
    print(f"saved {out} ({out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
