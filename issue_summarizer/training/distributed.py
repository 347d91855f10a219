"""Multi-worker training with `tf.distribute.MultiWorkerMirroredStrategy`, driven by `TF_CONFIG`.

`TF_CONFIG` is the variable that Kubeflow's TFJob, Vertex AI and other launchers set on every
worker: the cluster's addresses and this worker's place in it, for example

    {"cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]}, "task": {"type": "worker", "index": 0}}

When it is set, `train` runs the same command on every worker. Each worker prepares the same
arrays from the same data (the split and vocabularies are seeded, so they agree), the strategy
gives each worker its share of every global batch and averages the gradients, and the chief
(worker 0, or the task of type "chief") alone writes checkpoints and the model directory.

Scaling: each worker keeps the configuration's batch size, so the global batch is
`batch_size × workers`, and the learning rate is multiplied by √workers. The square-root rule
suits adaptive optimisers such as Nadam (Malladi et al., 2022); the linear rule of Goyal et
al. (2017) is for SGD and overshoots with Adam-type updates at this model's rate.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

from issue_summarizer.config import SummarizerConfig


@dataclass(frozen=True)
class Cluster:
    workers: int
    index: int
    is_chief: bool


def cluster_from_environment(environment: dict[str, str] | None = None) -> Cluster | None:
    """This worker's place in the `TF_CONFIG` cluster, or None when training on one machine."""
    text = (environment if environment is not None else os.environ).get("TF_CONFIG", "").strip()
    if not text:
        return None
    try:
        spec = json.loads(text)
        cluster, task = spec["cluster"], spec["task"]
        kind, index = task["type"], int(task["index"])
        workers = len(cluster.get("worker", [])) + len(cluster.get("chief", []))
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"TF_CONFIG is not a valid cluster description: {error}") from None
    if kind not in ("worker", "chief"):
        raise ValueError(f"TF_CONFIG task type {kind!r}: train runs on 'chief' and 'worker' tasks")
    if workers < 1:
        raise ValueError("TF_CONFIG names no workers")
    is_chief = kind == "chief" or ("chief" not in cluster and index == 0)
    return Cluster(workers, index, is_chief)


def scaled_config(config: SummarizerConfig, workers: int) -> SummarizerConfig:
    """The configuration a `workers`-worker run trains with: the global batch grows with the
    workers, and the learning rate with the square root of their number."""
    if workers == 1:
        return config
    return config.updated(
        batch_size=config.batch_size * workers, learning_rate=config.learning_rate * math.sqrt(workers)
    )


def multi_worker_strategy():
    """The strategy for this cluster. It must exist before any other TensorFlow operation."""
    import tensorflow as tf

    return tf.distribute.MultiWorkerMirroredStrategy()
