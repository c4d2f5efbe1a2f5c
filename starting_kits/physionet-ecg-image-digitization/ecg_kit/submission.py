"""test.csv + digitized leads → submission.parquet (id = {record}_{row}_{lead}, value)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def write_submission(test: pd.DataFrame, signals: dict[str, dict[str, np.ndarray]], path: Path) -> pd.DataFrame:
    ids, values = [], []
    for record, lead, rows in test[["id", "lead", "number_of_rows"]].itertuples(index=False):
        signal = signals.get(str(record), {}).get(lead)
        column = np.zeros(rows) if signal is None else np.resize(np.asarray(signal, dtype=np.float64), rows)
        ids += [f"{record}_{row}_{lead}" for row in range(rows)]
        values.append(np.nan_to_num(column))
    frame = pd.DataFrame({"id": ids, "value": np.concatenate(values)})
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return frame
