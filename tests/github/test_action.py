"""The GitHub Action end to end: recorded event payloads through `python -m issue_summarizer action`'s
entry point, with the environment GitHub sets, against the loopback stub of the API.

Each test asserts the exact API calls made: method, path and body. The shipped model decides the
verdicts; the titles and bodies here are written for the tests.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from issue_summarizer.cli.main import main
from issue_summarizer.github import action
from issue_summarizer.github.sticky_comment import MARKER, CommentState, code_span
from tests.github_stub import ACTIONS_BOT, running_fake_github

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "model"
REPOSITORY = "octo/action"
BODY = (
    "When I run the training script on a GPU, memory keeps growing every epoch until the process is "
    "killed with CUDA out of memory. The data loader seems to leak memory after the first epoch."
)
GOOD_TITLE = "Memory leak in the data loader when training on GPU"
COMMENTS = f"/repos/{REPOSITORY}/issues/7/comments?per_page=100"
POST_COMMENT = f"/repos/{REPOSITORY}/issues/7/comments"
ISSUE = f"/repos/{REPOSITORY}/issues/7"

pytestmark = pytest.mark.skipif(not (MODEL / "model.keras").is_file(), reason="needs the shipped model")


@pytest.fixture(scope="module")
def github():
    with running_fake_github() as server:
        yield server


_LOADED: dict = {}
_REAL_LOAD = action.load_check


def _cached_load(model: Path):
    if model not in _LOADED:
        _LOADED[model] = _REAL_LOAD(model)
    return _LOADED[model]


@pytest.fixture(autouse=True)
def clean(github, monkeypatch):
    github.reset()
    # One model load for the whole module: the entry point loads the model through this function.
    monkeypatch.setattr(action, "load_check", _cached_load)


def payload(
    title: str,
    body: str = BODY,
    event: str = "opened",
    sender: dict | None = None,
    changes: dict | None = None,
    pull_request: bool = False,
    labels: tuple[str, ...] = (),
    author: str = "someone",
) -> dict:
    issue = {
        "number": 7,
        "title": title,
        "body": body,
        "state": "open",
        "user": {"login": author, "type": "User"},
        "labels": [{"name": label} for label in labels],
    }
    if pull_request:
        issue["pull_request"] = {"url": f"https://api.github.com/repos/{REPOSITORY}/pulls/7"}
    data = {
        "action": event,
        "issue": issue,
        "repository": {"full_name": REPOSITORY, "name": "action", "owner": {"login": "octo"}},
        "sender": sender or {"login": author, "type": "User"},
    }
    if changes is not None:
        data["changes"] = changes
    return data


def bot_issue() -> dict:
    """An issue a bot opened (a dependency dashboard), edited by a person."""
    event = payload("Dependency Dashboard", event="edited", changes={"body": {"from": ""}})
    event["issue"]["user"] = {"login": "renovate[bot]", "type": "Bot"}
    return event


def run_action(github, tmp_path, monkeypatch, event: dict | str, name: str = "issues", **inputs: str):
    """Run the entry point as the image does; return (exit status, outputs, log)."""
    event_path = tmp_path / "event.json"
    event_path.write_text(event if isinstance(event, str) else json.dumps(event), encoding="utf-8")
    output_path = tmp_path / "output.txt"
    output_path.write_text("", encoding="utf-8")
    environment = {
        "GITHUB_EVENT_NAME": name,
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_API_URL": github.api_url,
        "GITHUB_TOKEN": "test-token",
        "GITHUB_OUTPUT": str(output_path),
        "GITHUB_REPOSITORY": REPOSITORY,
        "ISSUE_SUMMARIZER_MODEL": str(MODEL),
    }
    environment |= {f"INPUT_{key.upper().replace('_', '-')}": value for key, value in inputs.items()}
    for key in list(os.environ):
        if key.startswith("INPUT_"):
            monkeypatch.delenv(key)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    status = main(["action"])
    return status, read_outputs(output_path.read_text(encoding="utf-8"))


def read_outputs(text: str) -> dict[str, str]:
    outputs = {}
    for match in re.finditer(r"^(\w+)<<(\S+)\n(.*?)\n\2$", text, flags=re.MULTILINE | re.DOTALL):
        outputs[match.group(1)] = match.group(3)
    return outputs


def seed_comment(github, state: CommentState, text: str = "earlier") -> int:
    comment = {"id": 555, "body": f"{state.to_marker()}\n{text}", "user": ACTIONS_BOT}
    github.comments[("action", 7)] = [comment]
    return comment["id"]


def test_opened_with_a_vague_title_comments_once(github, tmp_path, monkeypatch, capsys):
    status, outputs = run_action(github, tmp_path, monkeypatch, payload("Bug report"), min_confidence="0")
    assert status == 0
    assert outputs["verdict"] == "vague" and outputs["suggested_title"] and float(outputs["confidence"]) >= 0
    writes = github.writes()
    assert [(method, path) for method, path, _ in writes] == [("POST", POST_COMMENT)]
    body = writes[0][2]["body"]
    assert body.startswith(MARKER) and "template's default" in body
    assert code_span(outputs["suggested_title"]) in body
    # The read that looked for an earlier comment, then the one write.
    assert [item.path for item in github.requests if item.method == "GET"] == [COMMENTS]
    assert github.requests[0].headers["authorization"] == "Bearer test-token"
    assert "#7: vague" in capsys.readouterr().out

    # The same event again updates nothing: the comment already says it, and is never duplicated.
    github.requests.clear()
    status, _ = run_action(github, tmp_path, monkeypatch, payload("Bug report"), min_confidence="0")
    assert status == 0 and github.writes() == [] and len(github.comments[("action", 7)]) == 1


def test_opened_with_a_fine_title_makes_no_write(github, tmp_path, monkeypatch):
    status, outputs = run_action(github, tmp_path, monkeypatch, payload(GOOD_TITLE))
    assert status == 0 and outputs["verdict"] == "fine" and outputs["suggested_title"] == ""
    assert github.writes() == []


def test_low_confidence_comments_without_a_suggestion(github, tmp_path, monkeypatch):
    status, outputs = run_action(github, tmp_path, monkeypatch, payload("help"), min_confidence="1")
    assert status == 0 and outputs["verdict"] == "vague" and outputs["suggested_title"] == ""
    [(method, path, body)] = github.writes()
    assert (method, path) == ("POST", POST_COMMENT) and "Suggested title" not in body["body"]


def test_author_fixing_the_title_updates_the_comment(github, tmp_path, monkeypatch):
    comment = seed_comment(github, CommentState(verdict="vague", suggested_title="memory leak"))
    event = payload(GOOD_TITLE, event="edited", changes={"title": {"from": "Bug report"}})
    status, outputs = run_action(github, tmp_path, monkeypatch, event)
    assert status == 0 and outputs["verdict"] == "fine"
    [(method, path, body)] = github.writes()
    assert (method, path) == ("PATCH", f"/repos/{REPOSITORY}/issues/comments/{comment}")
    assert "now says what the issue is about" in body["body"]
    state = CommentState.from_comment(body["body"])
    assert state.verdict == "fine" and state.human_edited


def test_edit_mode_changes_the_title_of_a_new_issue_and_says_so(github, tmp_path, monkeypatch):
    github.issues[("action", 7)] = {"number": 7, "title": "Bug report", "state": "open"}
    status, outputs = run_action(github, tmp_path, monkeypatch, payload("Bug report"), mode="edit", min_confidence="0")
    assert status == 0
    # It looked at the issue as it is now before changing its title.
    assert ISSUE in [item.path for item in github.requests if item.method == "GET"]
    writes = github.writes()
    assert [(method, path) for method, path, _ in writes] == [("PATCH", ISSUE), ("POST", POST_COMMENT)]
    assert writes[0][2] == {"title": outputs["suggested_title"]}
    state = CommentState.from_comment(writes[1][2]["body"])
    assert state.edited_from == "Bug report" and state.edited_to == outputs["suggested_title"]
    assert "changed the title from `Bug report`" in writes[1][2]["body"]


def test_edit_mode_leaves_a_title_the_author_changed_since_the_event(github, tmp_path, monkeypatch):
    # The author fixed the title while the run for "opened" was starting: that run does nothing,
    # and the run for the author's edit judges the new title.
    github.issues[("action", 7)] = {"number": 7, "title": GOOD_TITLE, "state": "open"}
    status, _ = run_action(github, tmp_path, monkeypatch, payload("Bug report"), mode="edit", min_confidence="0")
    assert status == 0 and github.writes() == []
    assert github.issues[("action", 7)]["title"] == GOOD_TITLE


def test_the_check_s_own_title_edit_is_not_taken_for_a_person_s(github, tmp_path, monkeypatch):
    # Made with a token that shows as a person, the check's edit comes back as an "edited" event.
    state = CommentState(verdict="vague", suggested_title="memory leak", edited_from="Bug report")
    state.edited_to = "memory leak in training script"
    seed_comment(github, state)
    event = payload(state.edited_to, event="edited", changes={"title": {"from": "Bug report"}})
    status, _ = run_action(github, tmp_path, monkeypatch, event, mode="edit", min_confidence="0")
    assert status == 0
    for _, _, sent in github.writes():
        assert not CommentState.from_comment(sent["body"]).human_edited


def test_another_bot_quoting_the_marker_is_not_the_check_s_comment(github, tmp_path, monkeypatch):
    quoted = f"Thanks for the report! You wrote:\n> {CommentState(human_edited=True).to_marker()}"
    github.comments[("action", 7)] = [{"id": 777, "body": quoted, "user": ACTIONS_BOT}]
    status, _ = run_action(github, tmp_path, monkeypatch, payload("Bug report"), min_confidence="0")
    assert status == 0
    assert [(method, path) for method, path, _ in github.writes()] == [("POST", POST_COMMENT)]


def test_a_person_editing_after_the_action_edited_wins(github, tmp_path, monkeypatch):
    earlier = CommentState(verdict="vague", suggested_title="memory leak", edited_from="Bug report")
    earlier.edited_to = "memory leak in training script"
    comment = seed_comment(github, earlier)
    # The person puts a vague title back; the check must neither change it nor nag about it.
    event = payload("bug", event="edited", changes={"title": {"from": earlier.edited_to}})
    status, outputs = run_action(github, tmp_path, monkeypatch, event, mode="edit", min_confidence="0")
    assert status == 0 and outputs["verdict"] == "vague"
    [(method, path, body)] = github.writes()
    assert (method, path) == ("PATCH", f"/repos/{REPOSITORY}/issues/comments/{comment}")
    assert "edited by hand" in body["body"]
    assert CommentState.from_comment(body["body"]).human_edited

    # A later body edit does not bring the check back to the title.
    github.requests.clear()
    event = payload("bug", event="edited", changes={"body": {"from": "old"}})
    github.comments[("action", 7)][0]["body"] = body["body"]
    status, _ = run_action(github, tmp_path, monkeypatch, event, mode="edit", min_confidence="0")
    assert status == 0 and github.writes() == []


@pytest.mark.parametrize(
    ("event", "name"),
    [
        (payload("Bug report", sender={"login": "renovate[bot]", "type": "Bot"}), "issues"),
        (payload("Bug report", pull_request=True), "issues"),
        (payload("Bug report"), "pull_request"),
        (payload("Bug report", event="closed"), "issues"),
        (payload("Bug report", labels=("no-title-check",)), "issues"),
        (payload("Bug report", author="maintainer"), "issues"),
        (payload("Bug report", event="edited", changes={"labels": {}}), "issues"),
        (bot_issue(), "issues"),
    ],
    ids=[
        "bot",
        "pull-request-in-issues",
        "pull-request-event",
        "closed",
        "skip-label",
        "exempt-user",
        "no-change",
        "bot-author",
    ],
)
def test_events_left_alone_make_no_call(github, tmp_path, monkeypatch, event, name):
    status, outputs = run_action(
        github, tmp_path, monkeypatch, event, name=name, skip_label="no-title-check", exempt_users="@Maintainer, other"
    )
    assert status == 0 and outputs["verdict"] == "skipped"
    assert github.requests == []


def test_mentions_links_and_html_from_the_body_are_not_rendered(github, tmp_path, monkeypatch):
    body = (
        "@octocat @org/team please look. ![x](https://evil.example/p.png) <img src=x onerror=alert(1)> "
        "[click](https://evil.example) https://evil.example/a <b>bold</b> #12 "
        "The parser crashes with IndexError when the input file @octocat sent is empty."
    )
    title = "@octocat <b>help</b> ![x](https://evil.example/p.png)"
    status, _ = run_action(github, tmp_path, monkeypatch, payload(title, body), mode="edit", min_confidence="0")
    assert status == 0
    for _, _, sent in github.writes():
        text = sent.get("body") if "body" in sent else None
        if text is None:
            continue
        outside = re.sub(r"(`+).*?\1", "", text.split("-->", 1)[1], flags=re.DOTALL)
        for forbidden in ("@", "http", "<img", "<b>", "](", "#12"):
            assert forbidden not in outside, (forbidden, text)
        assert len(text) < 1200


def test_dry_run_makes_no_api_call_and_writes_outputs(github, tmp_path, monkeypatch):
    status, outputs = run_action(
        github, tmp_path, monkeypatch, payload("Bug report"), mode="dry-run", min_confidence="0"
    )
    assert status == 0 and outputs["verdict"] == "vague" and outputs["suggested_title"]
    assert github.requests == []


def test_malformed_payload_is_one_warning_and_no_call(github, tmp_path, monkeypatch, capsys):
    for event in ("{not json", json.dumps({"action": "opened"}), json.dumps([1, 2])):
        status, outputs = run_action(github, tmp_path, monkeypatch, event)
        assert status == 0 and outputs["verdict"] == "skipped"
        lines = capsys.readouterr().out.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("::warning::") and "event payload" in lines[0]
    assert github.requests == []


@pytest.mark.parametrize(
    ("inputs", "message"),
    [({"mode": "rewrite"}, "input mode"), ({"min_confidence": "high"}, "min-confidence")],
)
def test_misconfiguration_fails_the_job_with_one_line(github, tmp_path, monkeypatch, capsys, inputs, message):
    status, _ = run_action(github, tmp_path, monkeypatch, payload("Bug report"), **inputs)
    lines = capsys.readouterr().out.strip().splitlines()
    assert status == 1 and len(lines) == 1 and lines[0].startswith("::error::") and message in lines[0]
    assert github.requests == []


def test_rate_limit_is_waited_out_as_github_asks(github, tmp_path, monkeypatch):
    # Retry-After of 1 second: the real entry point waits it out (a second of the test's time).
    github.queued[("POST", POST_COMMENT)] = [
        (429, {"Retry-After": "1", "Content-Type": "application/json"}, b'{"message": "secondary rate limit"}')
    ]
    status, _ = run_action(github, tmp_path, monkeypatch, payload("Bug report"), min_confidence="0")
    assert status == 0
    assert [(method, path) for method, path, _ in github.writes()] == [("POST", POST_COMMENT)] * 2
    assert len(github.comments[("action", 7)]) == 1


def test_a_token_without_write_permission_fails_the_job(github, tmp_path, monkeypatch, capsys):
    github.queued[("POST", POST_COMMENT)] = [
        (403, {"Content-Type": "application/json"}, b'{"message": "Resource not accessible by integration"}')
    ]
    status, _ = run_action(github, tmp_path, monkeypatch, payload("Bug report"), min_confidence="0")
    lines = capsys.readouterr().out.strip().splitlines()
    assert status == 1 and lines[-1].startswith("::error::") and "issues: write" in lines[-1]
