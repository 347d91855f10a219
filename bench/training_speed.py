"""Training samples/s of the seed and attention configurations, in one run, on real data.

    python bench/training_speed.py [--data ../shared/data/github_issues.jsonl.gz] [--rows 12000] [--batches 30]

Each configuration is prepared from the same rows and trained for one timed pass of
`--batches` batches, after an untimed pass over the same rows that traces every batch shape
(as in a real run, where tracing happens once), in these setups:

* `numpy`: float32, batches sliced from NumPy arrays by `model.fit` (the first training path, the baseline);
* `tf.data`: float32 through `training.training_dataset` (shuffle, batch, prefetch), what `train` uses now;
* `bf16`: the same pipeline under Keras' `mixed_bfloat16` policy (native only on CPUs with
  AVX512_BF16 or AMX; elsewhere bfloat16 is emulated);
* `bucketed`: float32 through `training.bucketed_dataset` (`length_buckets=5`): batches of
  bodies of similar length, each cut to its bucket's length, so the encoder skips padding;
* `tf.data`, `bf16` and `bucketed` again with batches of 256.

It also reports how much of the body input is padding, which bounds what bucketing can save
in the encoder.
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
from issue_summarizer.data.loading import load_issues  # noqa: E402
from issue_summarizer.data.prepare import prepare  # noqa: E402
from issue_summarizer.training.trainer import bucketed_dataset, split_inputs, training_dataset  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "github_issues.jsonl.gz"
LENGTH_BUCKETS = 5
# (name, input pipeline, precision, batch size)
SETUPS = (
    ("numpy", "numpy", "float32", 128),
    ("tf.data", "tf.data", "float32", 128),
    ("bf16", "tf.data", "mixed_bfloat16", 128),
    ("bucketed", "bucketed", "float32", 128),
    ("tf.data", "tf.data", "float32", 256),
    ("bf16", "tf.data", "mixed_bfloat16", 256),
    ("bucketed", "bucketed", "float32", 256),
)


def measure(config, arrays, batches: int, pipeline: str) -> float:
    """Samples per second over one pass of `batches` training batches, after an untimed pass
    over the same rows, which traces every batch shape."""
    import keras

    from issue_summarizer.models.building import build_training_model
    from issue_summarizer.models.layers import precision_policy

    keras.utils.set_random_seed(0)
    inputs, targets, weights = split_inputs(arrays, "train", config)
    count = config.batch_size * batches
    if len(targets) < count:
        raise ValueError(f"{len(targets)} training rows are fewer than {count}; pass more --rows")
    rows = [array[:count] for array in inputs], targets[:count], weights[:count]
    if pipeline == "bucketed":
        config = config.updated(length_buckets=LENGTH_BUCKETS)

    def one_pass(model, seed: int) -> None:
        if pipeline == "bucketed":
            model.fit(bucketed_dataset(*rows, config, shuffle_seed=seed), verbose=0)
        elif pipeline == "tf.data":
            model.fit(training_dataset(*rows, config.batch_size, shuffle_seed=seed), shuffle=False, verbose=0)
        else:
            model.fit(*rows[:2], sample_weight=rows[2], batch_size=config.batch_size, verbose=0)

    with precision_policy(config.precision):
        model = build_training_model(config)
        one_pass(model, seed=0)
        started = time.perf_counter()
        one_pass(model, seed=1)
        seconds = time.perf_counter() - started
    return count / seconds


def cpu_description() -> str:
    """The CPU's model name and whether it computes bfloat16 natively (Linux only)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "CPU unknown"
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []))
    native = ", ".join(sorted(flags & {"avx512_bf16", "amx_bf16"}))
    return f"{name}, {os.cpu_count()} cores, bfloat16 {f'native ({native})' if native else 'emulated'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rows", type=int, default=12_000)
    parser.add_argument("--batches", type=int, default=30)
    args = parser.parse_args()
    loaded = load_issues(args.data, limit=args.rows)
    print(cpu_description())
    print(f"{'configuration':<12} {'setup':<8} {'batch':>5} {'samples/s':>10} {'vs numpy':>9}")
    for name in ("seed", "attention"):
        config = CONFIGURATIONS[name].updated(max_rows_per_train_repository=None)
        arrays = prepare(loaded, config, show_progress=False).arrays
        baseline = None
        for label, pipeline, precision, batch_size in SETUPS:
            setup = config.updated(precision=precision, batch_size=batch_size)
            rate = measure(setup, arrays, args.batches, pipeline)
            baseline = baseline or rate
            print(f"{name:<12} {label:<8} {batch_size:>5} {rate:10.1f} {rate / baseline:8.2f}x", flush=True)
    bodies = arrays["train_bodies"]
    padding = float((bodies == 0).mean())
    full = float((bodies[:, 0] != 0).mean())
    print(
        f"body padding: {padding:.1%} of encoder positions; {full:.1%} of bodies fill all {bodies.shape[1]} tokens, "
        f"so length bucketing could skip at most {padding:.1%} of encoder steps"
    )


if __name__ == "__main__":
    main()
