"""A pipeline written for atdata 0.7, unchanged: it runs on atdata 0.7.0b1 and on this package.

It does what 0.7's README and examples show: shards written with webdataset's ``ShardWriter``
from each sample's ``as_wds`` dict, read back with ``Dataset[T](url=...)`` in stacked batches,
exported to pandas and parquet, and viewed as another type through a registered lens.

    python examples/atdata07_program.py OUT_DIR

prints one JSON object summarising what it read; the test (tests/python/test_example_07.py)
runs it under both packages and compares the two.
"""

import json
import os
import sys

import numpy as np
import webdataset as wds
from numpy.typing import NDArray

import atdata


@atdata.packable
class Embedded:
    """A document embedding with its label."""

    embedding: NDArray
    label: str
    score: float


@atdata.packable
class Labelled:
    """The label alone, with the score as a percentage."""

    label: str
    percent: int


@atdata.lens
def labelled(sample: Embedded) -> Labelled:
    return Labelled(label=sample.label, percent=round(sample.score * 100))


def main(out_dir: str) -> dict:
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(7)

    # Write: three shards of at most 40 samples each, as 0.7's examples do.
    pattern = os.path.join(out_dir, "docs-%06d.tar")
    with wds.ShardWriter(pattern, maxcount=40, verbose=0) as sink:
        for i in range(100):
            sample = Embedded(
                embedding=rng.standard_normal(16).astype(np.float32),
                label=f"topic-{i % 3}",
                score=i / 100,
            )
            sink.write(sample.as_wds)

    # Read: typed, in stacked batches.
    ds = atdata.Dataset[Embedded](url=os.path.join(out_dir, "docs-{000000..000002}.tar"))
    seen, total = 0, 0.0
    for batch in ds.ordered(batch_size=16):
        assert batch.embedding.shape[1:] == (16,), batch.embedding.shape
        seen += len(batch.label)
        total += float(batch.embedding.sum())

    # Export: a DataFrame, and a parquet file read back with pandas.
    df = ds.to_pandas()
    parquet = os.path.join(out_dir, "docs.parquet")
    ds.to_parquet(parquet)
    import pandas as pd

    back = pd.read_parquet(parquet)

    # View through the lens.
    views = list(ds.as_type(Labelled).ordered())

    return {
        "samples": seen,
        "embedding_sum": round(total, 3),
        "labels": df["label"].value_counts().sort_index().to_dict(),
        "pandas_columns": sorted(df.columns.tolist()),
        "parquet_rows": len(back),
        "parquet_first_embedding": [round(float(x), 5) for x in back["embedding"][0][:4]],
        "lens_type": type(views[0]).__name__,
        "lens_percent_sum": sum(v.percent for v in views),
    }


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: atdata07_program.py OUT_DIR")
    print(json.dumps(main(sys.argv[1]), sort_keys=True))
