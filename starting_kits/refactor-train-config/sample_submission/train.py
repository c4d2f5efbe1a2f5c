"""The starting point, unchanged: run the original train.py of the data folder exactly as it is.

    python3 train.py --config config.yaml --data-dir DATA_DIR --output-dir OUTPUT_DIR

The original ignores --config and --output-dir: it reads DATA_DIR/train.csv and valid.csv and prints its
loss. Replace this file with your refactored train.py.
"""
import argparse
import os
import runpy

parser = argparse.ArgumentParser()
parser.add_argument("--config")
parser.add_argument("--data-dir", required=True)
parser.add_argument("--output-dir")
args = parser.parse_args()
os.environ["DATA_DIR"] = args.data_dir  # where the original looks for its data
runpy.run_path(os.path.join(args.data_dir, "train.py"), run_name="__main__")
