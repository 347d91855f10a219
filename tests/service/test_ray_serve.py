"""`serve --engine ray`: the FastAPI application on Ray Serve, one replica of the shipped model."""

import socket
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

MODEL = Path(__file__).resolve().parents[2] / "model"
BODY = (
    "**Describe the bug**\nThe installer crashes with a segmentation fault on windows when the "
    "download folder has a space in its name.\n\n```\ntraceback: installer_error at line 42\n```"
)
OTHER = "The parser is very slow on large inputs: a 20 MB YAML file takes ten minutes to load on linux."


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def served():
    if not (MODEL / "model.keras").is_file():
        pytest.skip("the shipped model (model/model.keras) is not in this checkout")
    ray = pytest.importorskip("ray")
    serve = pytest.importorskip("ray.serve")
    from issue_summarizer.service.batching import BatchingSettings
    from issue_summarizer.service.ray_serve import build_deployment

    port = free_port()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        serve.start(
            http_options={"host": "127.0.0.1", "port": port},
            logging_config={"log_level": "WARNING", "enable_access_log": False},
        )
        batching = BatchingSettings(max_batch=8, max_wait=0.005, max_queue=64)
        serve.run(build_deployment(MODEL, batching, beam_width=1, replicas=1), name="titles", route_prefix="/")
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()
        ray.shutdown()


def test_one_body_gets_a_title(served):
    import httpx

    response = httpx.post(f"{served}/v1/titles", json={"body": BODY}, timeout=60)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (
        answer["title"].strip()
        and 0 <= answer["confidence"] <= 1
        and set(answer)
        == {
            "title",
            "confidence",
            "problem",
        }
    )


def test_a_list_of_bodies_comes_back_in_order(served):
    import httpx

    single = [httpx.post(f"{served}/v1/titles", json={"body": body}, timeout=60).json() for body in (OTHER, BODY)]
    response = httpx.post(f"{served}/v1/titles", json={"bodies": [OTHER, BODY, ""]}, timeout=60)
    assert response.status_code == 200, response.text
    titles = response.json()["titles"]
    assert [row["title"] for row in titles[:2]] == [row["title"] for row in single]
    assert titles[2]["title"] is None and "empty" in titles[2]["problem"]


def test_health_readiness_metrics_and_errors_are_the_local_servers(served):
    import httpx

    assert httpx.get(f"{served}/healthz", timeout=30).json() == {"status": "ok"}
    assert httpx.get(f"{served}/readyz", timeout=30).json() == {"status": "ready"}
    missing = httpx.post(f"{served}/v1/check", json={"title": "It crashes"}, timeout=30)
    assert missing.status_code == 422 and "body" in missing.json()["error"]
    neither = httpx.post(f"{served}/v1/titles", json={}, timeout=30)
    assert neither.status_code == 422 and "either 'body'" in neither.json()["error"]
    checked = httpx.post(f"{served}/v1/check", json={"title": "Installer crash", "body": BODY}, timeout=60)
    assert checked.status_code == 200 and checked.json()["verdict"]
    metrics = httpx.get(f"{served}/metrics", timeout=30).text
    assert 'issue_summarizer_requests_total{route="/v1/check",status="422"}' in metrics


def test_more_than_a_replica_can_hold_is_refused_with_retry_after(served):
    import httpx

    # The fixture's replica holds 64 items (`max_queue`): 65 in one request are refused at once.
    response = httpx.post(f"{served}/v1/titles", json={"bodies": [OTHER] * 65}, timeout=30)
    assert response.status_code == 503 and int(response.headers["retry-after"]) >= 1
    assert "busy" in response.json()["error"]
