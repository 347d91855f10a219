import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from issue_summarizer.config import CONFIGURATIONS
from issue_summarizer.training.distributed import Cluster, cluster_from_environment, scaled_config

REPO_ROOT = Path(__file__).resolve().parents[2]


def tf_config(cluster: dict, kind: str, index: int) -> dict[str, str]:
    return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}})}


def test_no_tf_config_means_one_machine():
    assert cluster_from_environment({}) is None
    assert cluster_from_environment({"TF_CONFIG": "  "}) is None


def test_worker_zero_is_the_chief_unless_a_chief_task_exists():
    workers = {"worker": ["a:1", "b:1", "c:1"]}
    assert cluster_from_environment(tf_config(workers, "worker", 0)) == Cluster(3, 0, True)
    assert cluster_from_environment(tf_config(workers, "worker", 2)) == Cluster(3, 2, False)
    with_chief = {"chief": ["c:1"], "worker": ["a:1", "b:1"]}
    assert cluster_from_environment(tf_config(with_chief, "chief", 0)) == Cluster(3, 0, True)
    assert cluster_from_environment(tf_config(with_chief, "worker", 0)) == Cluster(3, 0, False)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not a valid cluster description"),
        (json.dumps({"cluster": {"worker": ["a:1"]}}), "not a valid cluster description"),
        (json.dumps({"cluster": {"ps": ["a:1"]}, "task": {"type": "ps", "index": 0}}), "task type 'ps'"),
        (json.dumps({"cluster": {}, "task": {"type": "worker", "index": 0}}), "names no workers"),
    ],
)
def test_a_bad_tf_config_is_refused_with_its_reason(text, message):
    with pytest.raises(ValueError, match=message):
        cluster_from_environment({"TF_CONFIG": text})


def test_batch_grows_with_the_workers_and_the_rate_with_their_square_root():
    config = CONFIGURATIONS["attention"]
    assert scaled_config(config, 1) == config
    scaled = scaled_config(config, 4)
    assert scaled.batch_size == 4 * config.batch_size
    assert math.isclose(scaled.learning_rate, 2 * config.learning_rate)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_two_workers_on_loopback_train_one_model_that_the_chief_writes(tmp_path):
    """Two `train` processes under TF_CONFIG: both finish, only the chief writes, and its model copies."""
    from issue_summarizer.inference.summarizer import Summarizer
    from tests.conftest import assert_copies_unseen_identifiers, make_copy_rows, write_jsonl_gz

    data = write_jsonl_gz(tmp_path / "copy.jsonl.gz", make_copy_rows())
    cluster = {"worker": [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]}
    command = [sys.executable, "-m", "issue_summarizer", "train", "--data", str(data), "--out", str(tmp_path / "model")]
    command += ["--config", "tiny-attention", "--epochs", "10", "--workers", "1"]
    logs = [tmp_path / f"worker-{index}.log" for index in range(2)]
    log_files = [log.open("w") for log in logs]
    processes = [
        subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env={**os.environ, **tf_config(cluster, "worker", index)},
            stdout=log_files[index],
            stderr=subprocess.STDOUT,
        )
        for index in range(2)
    ]
    try:
        codes = [process.wait(timeout=600) for process in processes]
    finally:
        for process in processes:
            process.kill()
        for log_file in log_files:
            log_file.close()
    assert codes == [0, 0], [log.read_text()[-3000:] for log in logs]
    assert "worker 1: trained 10 epochs; the chief writes the model" in logs[1].read_text()
    summarizer = Summarizer.load(tmp_path / "model")
    assert summarizer.config.batch_size == 2 * CONFIGURATIONS["tiny-attention"].batch_size
    assert_copies_unseen_identifiers(summarizer)
