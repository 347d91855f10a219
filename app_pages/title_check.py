"""Title check: is an issue's title vague or off topic? For one issue, or every open issue of a repository.

Test hooks: the verdict on one issue is inside the container keyed `title_verdict`, its suggested
title in the `<h3>` of the container keyed `suggested_title`; a repository's triage is inside the
container keyed `triage_result`, its table of flagged titles keyed `triage_table`.
"""

import streamlit as st

from issue_summarizer.app import state as app_state
from issue_summarizer.app import title_triage
from issue_summarizer.app.text_display import escape_markdown
from issue_summarizer.github.client import GitHubError, fetch_issue_by_url
from issue_summarizer.github.listing import DEFAULT_LIMIT, EXAMPLE_REPOSITORY
from issue_summarizer.inference.confidence import calibration_problem, describe_confidence, load_calibration
from issue_summarizer.inference.title_check import CheckSettings

URL_KEY = "check_url"
TITLE_KEY = "check_title"
BODY_KEY = "check_body"
FETCH_ERROR_KEY = "check_fetch_error"
CHECK_NOW_KEY = "check_now"
RESULT_KEY = "check_result"
REPOSITORY_KEY = "triage_repository"
TRIAGE_KEY = "kept_triage"
TRIAGE_ERROR_KEY = "triage_error"
VERDICT_ICONS = {"fine": ":material/check_circle:", "vague": ":material/help:", "off_topic": ":material/shuffle:"}
# A suggestion can copy a body token of any length; long words wrap rather than widen the page.
WRAP_SUGGESTION = "<style>.st-key-suggested_title h3 { overflow-wrap: anywhere; }</style>"
CONFIDENCE_HELP = (
    "The chance that the suggested title is close to the title the issue should have: on held-out issues, "
    "titles given this confidence shared about a third of the real title's words or more, in order, that often."
)


def tokenless() -> bool:
    return not app_state.github_settings().token_allowed


def fetch_to_check() -> None:
    """Fetch the issue whose URL was pasted into the title and body fields, and check it at once."""
    st.session_state.pop(FETCH_ERROR_KEY, None)
    try:
        issue = fetch_issue_by_url(st.session_state.get(URL_KEY, ""), app_state.github_settings())
    except GitHubError as error:
        if error.title is None:
            st.session_state[FETCH_ERROR_KEY] = str(error)
            return
        # An issue without a body still has a title to judge, on its own.
        st.session_state[TITLE_KEY], st.session_state[BODY_KEY] = error.title, ""
    else:
        st.session_state[TITLE_KEY], st.session_state[BODY_KEY] = issue.title, issue.body
    st.session_state[CHECK_NOW_KEY] = True


def clear_fetch_error() -> None:
    st.session_state.pop(FETCH_ERROR_KEY, None)


st.title("Title check")
st.markdown(
    "Is an issue's title **vague** (a template's default such as \"Bug report\", or only words such as "
    '"error" or "help") or **off topic** (it names something the body never mentions)? Check one issue, '
    "or every open issue of a repository, and get a better title where the model is confident of one."
)
st.html(WRAP_SUGGESTION)

summarizer = app_state.summarizer_or_explain()
if summarizer is None:
    st.stop()
calibration = load_calibration(summarizer.directory)
missing_calibration = calibration_problem(summarizer.directory)
missing_calibration = None if missing_calibration is None else app_state.redact(missing_calibration)
settings = CheckSettings()

one_issue, repository_tab = st.tabs(["One issue", "Triage a repository"])


def show_verdict(result: dict) -> None:
    verdict = result["verdict"]
    with st.container(key="title_verdict", border=True):
        words = title_triage.verdict_in_words(verdict.verdict)
        sentence = f"{words}: {title_triage.VERDICT_MEANINGS[verdict.verdict]}"
        icon = VERDICT_ICONS[verdict.verdict]
        (st.success if verdict.verdict == "fine" else st.warning)(sentence, icon=icon)
        if verdict.reasons:
            st.markdown("\n".join(f"- {escape_markdown(reason)}" for reason in verdict.reasons))
        if verdict.suggested_title:
            with st.container(key="suggested_title"):
                st.caption("Suggested title")
                st.subheader(escape_markdown(verdict.suggested_title), anchor=False)
            st.markdown(escape_markdown(describe_confidence(verdict.confidence)), help=CONFIDENCE_HELP)
        else:
            reason = title_triage.no_suggestion_reason(verdict, missing_calibration, settings)
            if reason:
                st.info(escape_markdown(reason), icon=":material/info:")
        if result["title"] != st.session_state.get(TITLE_KEY) or result["body"] != st.session_state.get(BODY_KEY):
            st.caption("The title or body has changed since this check.")


with one_issue, app_state.friendly_errors("checking the title"):
    url_column, button_column = st.columns([4, 1], vertical_alignment="bottom")
    url_column.text_input(
        "GitHub issue URL",
        key=URL_KEY,
        placeholder="https://github.com/owner/repo/issues/123",
        help="The issue's title and body fill the fields below. "
        + (
            "This demo server fetches public issues only, without a token."
            if tokenless()
            else "Set GITHUB_TOKEN on the server for private repositories and a higher rate limit."
        ),
        on_change=clear_fetch_error,
    )
    button_column.button("Fetch and check", key="check_fetch", on_click=fetch_to_check, width="stretch")
    if FETCH_ERROR_KEY in st.session_state:
        # The message may quote the issue's title, which a stranger wrote.
        st.error(escape_markdown(st.session_state[FETCH_ERROR_KEY]), icon=":material/link_off:")
    title = st.text_input("Issue title", key=TITLE_KEY, placeholder="Bug report")
    body = st.text_area("Issue body", key=BODY_KEY, height=220, placeholder="Describe the bug…")
    check = st.button("Check title", type="primary", icon=":material/spellcheck:", key="check_run")
    if check or st.session_state.pop(CHECK_NOW_KEY, False):
        if not title.strip():
            st.session_state.pop(RESULT_KEY, None)
            st.error("Type the issue's title to check it.", icon=":material/block:")
        else:
            verdict = title_triage.check_one(summarizer, title, body, calibration, settings)
            st.session_state[RESULT_KEY] = {"title": title, "body": body, "verdict": verdict}
    if st.session_state.get(RESULT_KEY):
        show_verdict(st.session_state[RESULT_KEY])


def show_triage(triage: title_triage.Triage) -> None:
    with st.container(key="triage_result"):
        listing = triage.listing
        st.markdown(escape_markdown(triage.summary()))
        if listing.stopped:
            st.warning(escape_markdown(listing.stopped), icon=":material/timer:")
        elif listing.more:
            st.caption(f"Only the newest {triage.limit:,} open issues were checked.")
        if triage.flagged:
            st.dataframe(
                triage.flagged_table(),
                key="triage_table",
                hide_index=True,
                width="stretch",
                column_config={
                    "issue": st.column_config.NumberColumn("issue", format="%d", width="small"),
                    "title": st.column_config.TextColumn("title", width="medium"),
                    "verdict": st.column_config.TextColumn("verdict", width="small"),
                    "reasons": st.column_config.TextColumn("reasons", width="medium"),
                    "suggested title": st.column_config.TextColumn("suggested title", width="medium"),
                    "confidence": st.column_config.ProgressColumn(
                        "confidence",
                        min_value=0.0,
                        max_value=1.0,
                        format="percent",
                        help=CONFIDENCE_HELP,
                        width="small",
                    ),
                    # Plain text, not a link: a stranger's repository chooses what it says.
                    "link": st.column_config.TextColumn("link", width="medium"),
                },
            )
            st.caption(
                "Click a column's heading to sort by it. A title is suggested only where the model's confidence "
                f"is at least {settings.min_confidence:.0%}."
            )
            if calibration is None:
                st.caption(escape_markdown(f"No suggested titles: {describe_confidence(None)}"))
        elif listing.issues:
            st.success("No vague or off-topic title among them.", icon=":material/check_circle:")
        if listing.issues:
            st.download_button(
                f"Download CSV of all {len(listing.issues):,} checked issues",
                triage.csv_bytes(),
                file_name=triage.file_name(),
                mime="text/csv",
                icon=":material/download:",
                key="triage_download",
            )


with repository_tab, app_state.friendly_errors("triaging the repository"):
    st.markdown(
        f"Lists the newest {DEFAULT_LIMIT:,} open issues of a public repository (pull requests are left out), "
        "checks their titles and shows the vague and off-topic ones with a suggested title."
    )
    repository_column, run_column = st.columns([4, 1], vertical_alignment="bottom")
    repository = repository_column.text_input(
        "Repository",
        key=REPOSITORY_KEY,
        placeholder=EXAMPLE_REPOSITORY,
        help=(
            "owner/repo, or the repository's URL. "
            + (
                "This demo server fetches public issues only, without a token, at GitHub's unauthenticated rate "
                "limit of 60 requests an hour (one request lists 100 issues)."
                if tokenless()
                else "Set GITHUB_TOKEN on the server for private repositories and a higher rate limit."
            )
        ),
    )
    if run_column.button("Triage", type="primary", key="triage_run", width="stretch"):
        st.session_state.pop(TRIAGE_ERROR_KEY, None)
        fetching = app_state.ProgressBar(DEFAULT_LIMIT, "Fetched {done:,} open issues from GitHub")
        bars = [fetching]

        def start_checking(total: int) -> app_state.ProgressBar:
            fetching.clear()
            bars.append(app_state.ProgressBar(total, "Checked {done:,} of {total:,} titles"))
            return bars[-1]

        try:
            triage = title_triage.run_triage(
                summarizer,
                repository,
                app_state.github_settings(),
                calibration,
                app_state.model_identity(),
                fetch_progress=fetching,
                start_checking=start_checking,
                settings=settings,
            )
        except GitHubError as error:
            st.session_state.pop(TRIAGE_KEY, None)
            st.session_state[TRIAGE_ERROR_KEY] = str(error)
        else:
            st.session_state[TRIAGE_KEY] = triage
        finally:
            for bar in bars:
                bar.clear()
    if TRIAGE_ERROR_KEY in st.session_state:
        st.error(escape_markdown(st.session_state[TRIAGE_ERROR_KEY]), icon=":material/link_off:")
    elif st.session_state.get(TRIAGE_KEY) is not None:
        show_triage(st.session_state[TRIAGE_KEY])
