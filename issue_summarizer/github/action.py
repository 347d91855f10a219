"""The GitHub Action: check an issue's title when it is opened or edited, and say so in one comment.

`python -m issue_summarizer action` runs this inside the action's Docker image. It reads only
what GitHub sets for a job: the event (`GITHUB_EVENT_NAME`, `GITHUB_EVENT_PATH`), the API
(`GITHUB_API_URL`, the token in `INPUT_TOKEN` or `GITHUB_TOKEN`), the action's inputs
(`INPUT_MODE`, `INPUT_MIN-CONFIDENCE`, `INPUT_SKIP-LABEL`, `INPUT_EXEMPT-USERS`) and the file for
its outputs (`GITHUB_OUTPUT`). The tests run it the same way, against a local stub of the API.

What it does, in order:
1. Reads the inputs; a bad one is a misconfiguration, the only failure that fails the job.
2. Ignores what is not a person's new or edited issue: other events, pull requests, events sent
   by a bot (its own title edits included), closed issues, issues with the skip label, exempt
   authors, and edits that touch neither title nor body.
3. Checks the title (`inference.title_check`).
4. In `dry-run` mode, writes the outputs and stops: no API call at all.
5. Otherwise keeps one sticky comment (`sticky_comment`): created when a title is flagged,
   updated in place afterwards, and changed to say so once the title is fine. In `edit` mode,
   on a newly opened issue whose suggestion clears the confidence threshold, it also changes the
   title, and says so. After a person changes the title, it never changes it again.

`plan` decides what to call from the event, the verdict and the existing comment, as a pure
function; `run` does the input and output around it.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from issue_summarizer.github.client import GitHubError, GitHubSettings
from issue_summarizer.github.rest import GitHubConfigurationError, IssueApi
from issue_summarizer.github.sticky_comment import (
    MARKER,
    CommentState,
    edited_comment,
    flagged_comment,
    resolved_comment,
)
from issue_summarizer.inference.title_check import DEFAULT_MIN_CONFIDENCE

MODES = ("comment", "dry-run", "edit")
MODEL_ENVIRONMENT_VARIABLE = "ISSUE_SUMMARIZER_MODEL"
# The model shipped beside the package: /app/model in the image, model/ in a checkout.
DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "model"
SKIPPED = "skipped"


class ActionConfigurationError(ValueError):
    """A mistake in the workflow (an input, a missing variable): the one kind of failure that fails the job."""


class MalformedEvent(ValueError):
    """An event payload without the fields an issue event has."""


@dataclass(frozen=True)
class ActionInputs:
    mode: str = "comment"
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    skip_label: str = ""
    exempt_users: frozenset[str] = frozenset()

    @classmethod
    def from_environment(cls, environment: Mapping[str, str]) -> ActionInputs:
        """The inputs as GitHub passes them: `INPUT_<NAME>`, upper-cased, hyphens kept (also read with underscores)."""

        def read(name: str) -> str:
            for key in (f"INPUT_{name.upper()}", f"INPUT_{name.upper().replace('-', '_')}"):
                if environment.get(key, "").strip():
                    return environment[key].strip()
            return ""

        mode = parse_mode(read("mode"), "input mode")
        min_confidence = parse_min_confidence(read("min-confidence"), "input min-confidence")
        return cls(mode, min_confidence, read("skip-label"), parse_logins(read("exempt-users")))


def parse_mode(text: str, name: str) -> str:
    """A mode as written in an input or variable called `name` (empty: `comment`)."""
    mode = text.strip().lower() or "comment"
    if mode not in MODES:
        raise ActionConfigurationError(f"{name} must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


def parse_min_confidence(text: str, name: str) -> float:
    """A confidence threshold as written in an input or variable called `name` (empty: the default)."""
    try:
        value = float(text) if text.strip() else DEFAULT_MIN_CONFIDENCE
    except ValueError:
        raise ActionConfigurationError(f"{name} must be a number from 0 to 1, not {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise ActionConfigurationError(f"{name} must lie between 0 and 1, got {value}")
    return value


def parse_logins(text: str) -> frozenset[str]:
    """Logins from a comma- or line-separated list, with or without "@", lower-cased (GitHub's are case-blind)."""
    return frozenset(user.strip().lstrip("@").lower() for user in text.replace("\n", ",").split(",") if user.strip())


@dataclass(frozen=True)
class IssueEvent:
    """The parts of an `issues` event the check reads."""

    name: str
    action: str
    repository: str
    number: int
    title: str
    body: str
    author: str
    state: str
    labels: tuple[str, ...]
    sender: str
    sender_is_bot: bool
    is_pull_request: bool
    author_is_bot: bool = False
    title_changed_from: str | None = None
    body_changed: bool = False


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def parse_event(name: str, payload: object) -> IssueEvent:
    """Read an event payload; raise `MalformedEvent` naming what is missing."""
    if not isinstance(payload, dict):
        raise MalformedEvent("the event payload is not a JSON object")
    issue = payload.get("issue") if name == "issues" else payload.get("pull_request") or payload.get("issue")
    if not isinstance(issue, dict):
        raise MalformedEvent(f"the {name!r} event has no issue object")
    number = issue.get("number")
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise MalformedEvent("the event's issue has no number")
    repository = payload.get("repository")
    full_name = repository.get("full_name") if isinstance(repository, dict) else None
    if not isinstance(full_name, str) or full_name.count("/") != 1:
        raise MalformedEvent("the event has no repository full_name")
    sender = payload.get("sender") if isinstance(payload.get("sender"), dict) else {}
    user = issue.get("user") if isinstance(issue.get("user"), dict) else {}
    changes = payload.get("changes") if isinstance(payload.get("changes"), dict) else {}
    title_change = changes.get("title") if isinstance(changes.get("title"), dict) else None
    labels = issue.get("labels") if isinstance(issue.get("labels"), list) else []
    sender_login = _text(sender.get("login"))
    return IssueEvent(
        name=name,
        action=_text(payload.get("action")),
        repository=full_name,
        number=number,
        title=_text(issue.get("title")),
        body=_text(issue.get("body")),
        author=_text(user.get("login")),
        state=_text(issue.get("state")) or "open",
        labels=tuple(_text(label.get("name")) for label in labels if isinstance(label, dict)),
        sender=sender_login,
        sender_is_bot=sender.get("type") == "Bot" or sender_login.endswith("[bot]"),
        is_pull_request=name.startswith("pull_request") or "pull_request" in issue,
        title_changed_from=_text(title_change.get("from")) if title_change is not None else None,
        body_changed=isinstance(changes.get("body"), dict),
        author_is_bot=user.get("type") == "Bot" or _text(user.get("login")).endswith("[bot]"),
    )


def skip_reason(event: IssueEvent, inputs: ActionInputs) -> str | None:
    """Why the check leaves this event alone, or None when it should check the title."""
    if event.name != "issues":
        return f"not an issues event ({event.name})"
    if event.is_pull_request:
        return "a pull request"
    if event.action not in ("opened", "edited"):
        return f"the issue was {event.action or 'changed'}, not opened or edited"
    if event.sender_is_bot:
        return "sent by a bot"
    if event.author_is_bot:
        # A bot's issue (a dependency dashboard, a release checklist) has the title its bot gives it.
        return "opened by a bot"
    if event.state != "open":
        return "the issue is closed"
    if event.action == "edited" and event.title_changed_from is None and not event.body_changed:
        return "the edit changed neither title nor body"
    if inputs.skip_label and inputs.skip_label.lower() in (label.lower() for label in event.labels):
        return f"the issue has the {inputs.skip_label!r} label"
    if event.author.lower() in inputs.exempt_users:
        return "its author is exempt"
    return None


@dataclass(frozen=True)
class Verdict:
    """The check's result for the event's title (from `inference.title_check.TitleVerdict`)."""

    verdict: str
    reasons: list[str]
    suggested_title: str
    confidence: float | None


@dataclass(frozen=True)
class ExistingComment:
    id: int
    body: str
    state: CommentState


@dataclass
class Plan:
    """The API calls to make, in order; `set_title` first so that the comment can say it was done."""

    set_title: str | None = None
    create_comment: str | None = None
    update_comment: tuple[int, str] | None = None
    notes: list[str] = field(default_factory=list)


def plan(event: IssueEvent, inputs: ActionInputs, verdict: Verdict, existing: ExistingComment | None) -> Plan:
    """What to do for an event the check did not skip (see the module's description)."""
    state = CommentState(**vars(existing.state)) if existing else CommentState()
    result = Plan()
    own_edit = event.title_changed_from == state.edited_from and event.title == state.edited_to
    if event.action == "edited" and event.title_changed_from is not None and not own_edit:
        # Bots were skipped, and this is not the check's own edit: a person changed the title,
        # and from now on it is theirs.
        state.human_edited = True
    flagged = verdict.verdict != "fine"
    body: str | None = None
    if state.human_edited and state.edited_to is not None:
        # A person put their own title in place of the check's: the check says no more about it.
        state.verdict, state.suggested_title = verdict.verdict, ""
        body = resolved_comment(state)
    elif flagged:
        state.verdict, state.suggested_title = verdict.verdict, verdict.suggested_title
        may_edit = (
            inputs.mode == "edit"
            and event.action == "opened"
            and verdict.suggested_title
            and not state.human_edited
            and state.edited_to is None
        )
        if may_edit:
            state.edited_from, state.edited_to = event.title, verdict.suggested_title
            result.set_title = verdict.suggested_title
            body = edited_comment(state, verdict.reasons, verdict.confidence)
        else:
            body = flagged_comment(state, verdict.verdict, verdict.reasons, verdict.suggested_title, verdict.confidence)
    elif existing is not None and (
        existing.state.verdict != "fine" or state.human_edited != existing.state.human_edited
    ):
        state.verdict, state.suggested_title = "fine", ""
        body = resolved_comment(state)
    if body is None:
        result.notes.append("the title is fine; no comment needed")
    elif existing is None:
        result.create_comment = body
    elif body != existing.body:
        result.update_comment = (existing.id, body)
    else:
        result.notes.append("the comment already says this")
    return result


def find_sticky_comment(api: IssueApi, number: int) -> ExistingComment | None:
    """The check's own comment: a bot's comment that carries the marker (a person quoting it does not count)."""
    for comment in api.comments(number):
        user = comment.get("user") if isinstance(comment.get("user"), dict) else {}
        body = _text(comment.get("body"))
        # The check's comments start with the marker; another bot quoting an issue that holds
        # the marker somewhere in its text does not make that bot's comment the check's.
        if user.get("type") != "Bot" or not body.startswith(MARKER):
            continue
        state = CommentState.from_comment(body)
        if state is not None and isinstance(comment.get("id"), int):
            return ExistingComment(comment["id"], body, state)
    return None


def apply_check(api: IssueApi, event: IssueEvent, inputs: ActionInputs, verdict: Verdict) -> Plan:
    """Find the sticky comment, plan, and make the planned calls: the core the Action and the
    GitHub App webhook share. Raises `GitHubError` (or `GitHubConfigurationError`) when a call fails."""
    existing = find_sticky_comment(api, event.number)
    actions = plan(event, inputs, verdict, existing)
    if actions.set_title is not None:
        # The event may be minutes old: if its author has changed the title (or closed the
        # issue) meanwhile, the person's version stands, and the newer event is checked on its own.
        current = api.issue(event.number)
        if current.get("title") != event.title or current.get("state", "open") != "open":
            return Plan(notes=["the issue changed since this event; nothing done (the newer event is checked)"])
    if actions.set_title is not None:
        api.set_title(event.number, actions.set_title)
    if actions.create_comment is not None:
        api.create_comment(event.number, actions.create_comment)
    if actions.update_comment is not None:
        api.update_comment(*actions.update_comment)
    return actions


def write_outputs(path: str | None, outputs: Mapping[str, str]) -> None:
    """Append outputs to `GITHUB_OUTPUT` in its multi-line form, so that no value can inject another."""
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:
        for name, value in outputs.items():
            delimiter = f"ghadelimiter_{uuid.uuid4().hex}"
            handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def _outputs(verdict: str, suggestion: str = "", confidence: float | None = None) -> dict[str, str]:
    return {
        "verdict": verdict,
        "suggested_title": suggestion,
        "confidence": "" if confidence is None else f"{confidence:.4f}",
    }


CheckFunction = Callable[[str, str, float], Verdict]


def load_check(model_directory: Path) -> CheckFunction:
    """A function that checks one (title, body) with the model in `model_directory`, loaded once."""
    from issue_summarizer.inference.confidence import load_calibration
    from issue_summarizer.inference.summarizer import Summarizer
    from issue_summarizer.inference.title_check import CheckSettings, check_titles

    summarizer = Summarizer.load(model_directory)
    calibration = load_calibration(model_directory)

    def check(title: str, body: str, min_confidence: float) -> Verdict:
        settings = CheckSettings(min_confidence=min_confidence)
        result = check_titles(summarizer, [title], [body], calibration, settings)[0]
        return Verdict(result.verdict, result.reasons, result.suggested_title, result.confidence)

    return check


def run(
    environment: Mapping[str, str] | None = None,
    log: Callable[[str], None] = print,
    load: Callable[[Path], CheckFunction] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> int:
    """Run the action once; return the process's exit status (1 only for a misconfiguration).

    Every outcome ends with one line in the job log: `::error::` for a misconfiguration,
    `::warning::` for a failure the next event may not meet, and a plain line otherwise. No line
    quotes the issue's text, which could hold workflow commands of its own.
    """
    environment = os.environ if environment is None else environment
    try:
        inputs = ActionInputs.from_environment(environment)
        name = environment.get("GITHUB_EVENT_NAME", "").strip()
        event_path = environment.get("GITHUB_EVENT_PATH", "").strip()
        if not name or not event_path:
            raise ActionConfigurationError("GITHUB_EVENT_NAME and GITHUB_EVENT_PATH must be set (GitHub sets them)")
        token = (environment.get("INPUT_TOKEN") or environment.get("GITHUB_TOKEN") or "").strip()
        if inputs.mode != "dry-run" and not token:
            raise ActionConfigurationError(
                f"mode {inputs.mode} writes to the issue and needs a token: pass `token: ${{{{ github.token }}}}`"
            )
        model = Path(environment.get(MODEL_ENVIRONMENT_VARIABLE) or DEFAULT_MODEL)
        settings = GitHubSettings.from_environment({**environment, "GITHUB_TOKEN": token})
    except (ActionConfigurationError, GitHubError) as error:
        log(f"::error::{error}")
        return 1
    output_path = environment.get("GITHUB_OUTPUT")
    try:
        payload = json.loads(Path(event_path).read_text(encoding="utf-8"))
        event = parse_event(name, payload)
    except (OSError, ValueError) as error:
        # A payload GitHub would never send: say so, and leave the issue alone.
        reason = error.strerror if isinstance(error, OSError) else str(error).split("\n")[0][:200]
        log(f"::warning::title check skipped: cannot read the event payload ({reason})")
        write_outputs(output_path, _outputs(SKIPPED))
        return 0
    reason = skip_reason(event, inputs)
    if reason:
        log(f"title check skipped for #{event.number}: {reason}")
        write_outputs(output_path, _outputs(SKIPPED))
        return 0
    try:
        check = (load or load_check)(model)
    except (OSError, ValueError) as error:
        log(f"::error::cannot load the model at {model}: {str(error).splitlines()[0][:300]}")
        return 1
    verdict = check(event.title, event.body, inputs.min_confidence)
    write_outputs(output_path, _outputs(verdict.verdict, verdict.suggested_title, verdict.confidence))
    summary = f"#{event.number}: {verdict.verdict.replace('_', ' ')}" + (
        f" ({'; '.join(verdict.reasons)})" if verdict.reasons else ""
    )
    if inputs.mode == "dry-run":
        log(f"title check (dry run, nothing written) {summary}")
        return 0
    api = IssueApi(settings, event.repository, **({"sleep": sleep} if sleep else {}))
    try:
        actions = apply_check(api, event, inputs, verdict)
    except GitHubConfigurationError as error:
        log(f"::error::{error}")
        return 1
    except GitHubError as error:
        log(f"::warning::title check could not finish for #{event.number}: {error}")
        return 0
    done = [
        "changed the title" if actions.set_title is not None else "",
        "commented" if actions.create_comment is not None else "",
        "updated its comment" if actions.update_comment is not None else "",
    ]
    log(f"title check {summary}: {', '.join(item for item in done if item) or '; '.join(actions.notes)}")
    return 0


def main() -> None:
    sys.exit(run())
