"""Training samples/s of the seed and attention configurations, in one run, on real data.

    python bench/training_speed.py [--data ../shared/data/github_issues.jsonl.gz] [--rows 12000] [--batches 30]

Each configuration is prepared from the same rows and trained for `--batches` batches after
a warm-up batch, with float32 from NumPy arrays, float32 from a `tf.data` pipeline (shuffle,
batch, prefetch) and Keras' `mixed_bfloat16` policy (this CPU has AVX512_BF16).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from issue_summarizer.config import CONFIGURATIONS  # noqa: E402
from issue_summarizer.data_loading import load_issues  # noqa: E402
from issue_summarizer.prepare import prepare  # noqa: E402
from issue_summarizer.training import split_inputs  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "github_issues.jsonl.gz"


def measure(config, arrays, batches: int, mode: str) -> float:
    import keras
    import tensorflow as tf

    from issue_summarizer.model import build_training_model

    keras.mixed_precision.set_global_policy("mixed_bfloat16" if mode == "bf16" else "float32")
    keras.utils.set_random_seed(0)
    model = build_training_model(config)
    inputs, targets, weights = split_inputs(arrays, "train", config)
    count = config.batch_size * (batches + 1)
    inputs, targets, weights = [array[:count] for array in inputs], targets[:count], weights[:count]
    if mode == "tf.data":
        data = (
            tf.data.Dataset.from_tensor_slices((tuple(inputs), targets, weights))
            .shuffle(count, seed=0)
            .batch(config.batch_size)
            .prefetch(tf.data.AUTOTUNE)
        )
        model.fit(data.take(1), verbose=0)
        started = time.perf_counter()
        model.fit(data.skip(1), verbose=0)
    else:
        warm = config.batch_size
        model.fit([array[:warm] for array in inputs], targets[:warm], sample_weight=weights[:warm], verbose=0)
        started = time.perf_counter()
        model.fit(
            [array[warm:] for array in inputs],
            targets[warm:],
            sample_weight=weights[warm:],
            batch_size=config.batch_size,
            verbose=0,
        )
    seconds = time.perf_counter() - started
    keras.mixed_precision.set_global_policy("float32")
    return config.batch_size * batches / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rows", type=int, default=12_000)
    parser.add_argument("--batches", type=int, default=30)
    args = parser.parse_args()
    loaded = load_issues(args.data, limit=args.rows)
    print(f"{'configuration':<12} {'mode':<8} {'batch':>5} {'samples/s':>10}")
    for name in ("seed", "attention"):
        config = CONFIGURATIONS[name].updated(max_rows_per_train_repository=None)
        arrays = prepare(loaded, config, show_progress=False).arrays
        for mode in ("float32", "tf.data", "bf16"):
            rate = measure(config, arrays, args.batches, mode)
            print(f"{name:<12} {mode:<8} {config.batch_size:>5} {rate:10.1f}", flush=True)


if __name__ == "__main__":
    main()
