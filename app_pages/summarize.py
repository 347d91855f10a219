"""Summarize: write a title for one pasted issue, or for every issue in a file.

Test hooks: the generated title is the `<h3>` inside the container keyed `generated_title`
(CSS selector `.st-key-generated_title h3`). Inside it, a container keyed `generation_N`
(`.st-key-generation_N`) numbers the titles of a session, so a browser can tell a new
title from an identical earlier one.
"""

import math
import time

import pandas as pd
import streamlit as st

from issue_summarizer.app import data_sources
from issue_summarizer.app import state as app_state
from issue_summarizer.app.charts import ATTENTION_TOKENS, attention_frame, attention_heatmap_chart, busiest_window
from issue_summarizer.app.examples import EXAMPLE_ISSUES
from issue_summarizer.app.text_display import (
    WRAP_LONG_WORDS,
    escape_markdown,
    no_repeat_label,
    seen_tokens_html,
    seen_tokens_summary,
)
from issue_summarizer.data.input_checks import InputError, check_body, nothing_to_title
from issue_summarizer.evaluation.metrics import title_rouge_l
from issue_summarizer.github.client import GitHubError, fetch_issue_by_url
from issue_summarizer.inference.confidence import (
    confidence_level,
    describe_confidence,
    load_calibration,
    title_features,
)
from issue_summarizer.scale.batch import fetch_bodies, flagged_rows, summarize_frame, untitled_rows

BODY_KEY = "issue_body"
EXAMPLE_KEY = "example_issue"
URL_KEY = "issue_url"
FETCHED_KEY = "fetched_issue"
FETCH_ERROR_KEY = "fetch_error"
GENERATE_NOW_KEY = "generate_now"
RESULT_KEY = "summary_result"
GENERATION_KEY = "generation"
DECODING_KEY = "decoding"
SEARCHES = ["Greedy", "Beam search"]
BEAM_KEY = "beam_width"
ALTERNATIVES_KEY = "alternatives"
MAX_WORDS_KEY = "max_words"
MIN_WORDS_KEY = "min_words"
NO_REPEAT_KEY = "no_repeat"
PENALTY_KEY = "length_penalty"
ATTENTION_KEY = "show_attention"
BATCH_BEAM_KEY = "batch_beam"
# Streamlit deletes a widget's value at the end of every run that does not draw it, which is every run on
# another page. A copy under this prefix, which no widget owns, brings the form back as the visitor left it.
KEPT_PREFIX = "kept:"
BATCH_WIDEST_BEAM = 5
BATCH_ROWS = 5000  # An upload is cut to this many rows, so one visitor cannot hold the model for long.
RESTORATION_NOTE = (
    "The title shown is restored from the model's tokens: a word the body holds is written as the body "
    "wrote it (its case, and the number where the model wrote xxnum; where the body holds it more than once, "
    "the occurrence the model attended to most), tokens are joined as English text (doesn't, f.read()), "
    "leading tags such as [Bug] are removed, and other placeholders are dropped."
)
URL_ROWS = 100  # Issues fetched from GitHub per file: without a token GitHub allows 60 requests an hour.
PREVIEW_ROWS = 200
CONFIDENCE_HELP = (
    "The chance that a title like this is close to the issue's real title: on held-out issues the model never "
    "saw, titles given this confidence shared about a third of the real title's words or more, in order "
    "(ROUGE-L of at least 0.3), that often. It was fitted on the model's validation issues with `calibrate`; "
    "it says how often such titles come close, not whether this one is right."
)


IN_WORDS = "confidence in words"  # The preview's column; the download has the number only.


def confidence_in_words(confidence: float) -> str:
    """A short label for a table cell, such as "High (82%)"; empty without a confidence."""
    if confidence is None or pd.isna(confidence):
        return ""
    return f"{confidence_level(confidence)} ({confidence:.0%})"


def show_confidence(confidence: float | None, problem: str | None) -> None:
    """The title's confidence in words beside it, and why a body gave the model nothing to title."""
    if problem:
        # The problem may quote the body, which a stranger wrote.
        st.warning(
            escape_markdown(f"{problem[0].upper()}{problem[1:]}, so the title is mostly a guess."),
            icon=":material/help:",
        )
    if confidence is None:
        st.caption(describe_confidence(None))
        return
    st.markdown(escape_markdown(describe_confidence(confidence)), help=CONFIDENCE_HELP)


def restore(key: str, default: object = None) -> None:
    """Before a widget is drawn, give it back the value kept when the visitor left the page, else `default`."""
    if key not in st.session_state:
        value = st.session_state.get(KEPT_PREFIX + key, default)
        if value is not None:
            st.session_state[key] = value


def keep(*keys: str) -> None:
    """Copy widgets' values to keys that no widget owns, so that leaving the page does not delete them."""
    for key in keys:
        if key in st.session_state:
            st.session_state[KEPT_PREFIX + key] = st.session_state[key]


def kept_slider(label: str, low: float, high: float, default: float, key: str, **options) -> float:
    """A slider whose value survives leaving the page and a change of its bounds by another control.

    Streamlit takes a slider with new bounds for a new widget and would start it over at its default, so the
    value is clamped into the bounds and set again before every draw.
    """
    restore(key, default)
    st.session_state[key] = min(max(st.session_state[key], low), high)
    value = st.slider(label, low, high, key=key, **options)
    keep(key)
    return value


def widest_beam(tuned: int) -> int:
    """The widest beam the sliders offer: `tune` may choose a width beyond the usual range, which stays reachable."""
    return max(10, tuned)


def clear_fetch_error() -> None:
    """Forget a failed fetch once the visitor moves on (a new URL, an example, a title from the text)."""
    st.session_state.pop(FETCH_ERROR_KEY, None)


def use_example() -> None:
    """Fill the text area with the chosen example (a callback, so it runs before the text area is drawn)."""
    clear_fetch_error()
    choice = st.session_state.get(EXAMPLE_KEY)
    if choice in EXAMPLE_ISSUES:
        st.session_state[BODY_KEY] = EXAMPLE_ISSUES[choice]
        st.session_state.pop(FETCHED_KEY, None)


def fetch_from_url() -> None:
    """Fetch the issue whose URL was pasted, put its body in the text area and ask for a title at once."""
    clear_fetch_error()
    try:
        issue = fetch_issue_by_url(st.session_state.get(URL_KEY, ""), app_state.github_settings())
    except GitHubError as error:
        st.session_state[FETCH_ERROR_KEY] = str(error)
        return
    st.session_state[BODY_KEY] = issue.body
    st.session_state[FETCHED_KEY] = {
        "title": issue.title,
        "body": issue.body,
        "name": f"{issue.reference.repository}#{issue.reference.number}",
        "pull_request": issue.is_pull_request,
    }
    st.session_state[GENERATE_NOW_KEY] = True


st.title("Summarize")
st.markdown("Paste the body of a GitHub issue, or its URL, and let the model write its title.")
st.html(WRAP_LONG_WORDS)

summarizer = app_state.summarizer_or_explain()
if summarizer is None:
    st.stop()
config = summarizer.config

one_issue, many_issues = st.tabs(["One issue", "A file of issues"])


def show_attention(explanation) -> None:
    """The attention heatmap of title words over body tokens, with the copied words named."""
    if explanation.attention is None or not explanation.title_words:
        st.caption("The title is empty, so there is no attention to show.")
        return
    count = len(explanation.body_tokens)
    start = 0
    if count > ATTENTION_TOKENS:
        # A long window does not fit in one picture: the slider moves along it, starting where the
        # model looked most.
        start = st.slider(
            f"Body tokens drawn (the model read {count})",
            0,
            count - ATTENTION_TOKENS,
            busiest_window(explanation.attention[: len(explanation.title_words)]),
            key="attention_start",
            format="from token %d",
        )
    frame = attention_frame(
        explanation.body_tokens, explanation.title_words, explanation.attention, explanation.copied, start=start
    )
    st.altair_chart(attention_heatmap_chart(frame), width="stretch")
    copied = [word for word, was_copied in zip(explanation.title_words, explanation.copied, strict=True) if was_copied]
    st.caption(
        "Each row is a word of the best title as the model wrote it (before restoration); darker cells are the "
        "body tokens the model attended to while writing it. "
        + (
            f"Copied from the body (not in the title vocabulary, starred in red): {escape_markdown(', '.join(copied))}."
            if copied
            else "No title word was copied from outside the title vocabulary."
        )
        + (
            f" Tokens {start + 1} to {start + ATTENTION_TOKENS} of the {count} the model read are drawn."
            if count > ATTENTION_TOKENS
            else ""
        )
    )


@st.fragment
def one_issue_form() -> None:
    """The single-issue form. A fragment: its clicks rerun only this form, not the page and sidebar."""
    with app_state.friendly_errors("writing the title"):
        text_column, settings_column = st.columns([2, 1], gap="large")
        with settings_column:
            st.markdown("##### Decoding")
            # The controls start at the model's decoding defaults, chosen by ROUGE-L on validation data, and
            # then keep the visitor's choices. Their values are set through their keys, not as defaults.
            tuned_beam = config.beam_width > 1
            tuned_search = "Beam search" if tuned_beam else "Greedy"
            restore(DECODING_KEY, tuned_search)
            if st.session_state[DECODING_KEY] not in SEARCHES:
                st.session_state[DECODING_KEY] = tuned_search  # A value left by an older version of the page.
            # Required: otherwise a click on the selected option clears it and titles come greedily unasked.
            decoding = st.segmented_control(
                "Search", SEARCHES, key=DECODING_KEY, required=True, label_visibility="collapsed"
            )
            keep(DECODING_KEY)
            beam = decoding == "Beam search"
            beam_width = kept_slider(
                "Beam width",
                2,
                widest_beam(config.beam_width),
                config.beam_width if tuned_beam else 5,
                key=BEAM_KEY,
                disabled=not beam,
                help="How many partial titles are kept at each step.",
            )
            alternatives = kept_slider(
                "Alternatives shown",
                1,
                beam_width,
                min(3, beam_width),
                key=ALTERNATIVES_KEY,
                disabled=not beam,
                help="The best titles found.",
            )
            longest = config.title_length - 1
            max_length = kept_slider(
                "Maximum words", 1, longest, longest, key=MAX_WORDS_KEY, help="The end marker counts as one word."
            )
            min_length = kept_slider(
                "Minimum words",
                0,
                max_length,
                min(config.min_title_length, max_length),
                key=MIN_WORDS_KEY,
                help="The title cannot end before this.",
            )
            restore(NO_REPEAT_KEY, config.no_repeat_ngram_size if config.no_repeat_ngram_size <= 3 else 0)
            no_repeat = st.selectbox(
                "Repeated words",
                [0, 1, 2, 3],
                key=NO_REPEAT_KEY,
                format_func=no_repeat_label,
                help="Whether the title may use a word, or a phrase of two or three words, more than once.",
            )
            keep(NO_REPEAT_KEY)
            length_penalty = kept_slider(
                "Length penalty",
                0.0,
                # `tune` may choose a penalty beyond the usual range; the slider keeps it reachable.
                max(2.0, float(config.length_penalty)),
                float(config.length_penalty),
                key=PENALTY_KEY,
                step=0.1,
                disabled=not beam,
                help="Scores are log-probabilities divided by length to this power: 0 favours short titles.",
            )
            st.caption("The defaults are the settings that scored best on validation data.")
        with text_column:
            # Wide enough for the button's label at 1280 px, where [4, 1] cut it to "Fetch an…".
            url_column_, fetch_column = st.columns([3, 1.3], vertical_alignment="bottom")
            for key in (URL_KEY, EXAMPLE_KEY, BODY_KEY):
                restore(key)
            url_column_.text_input(
                "GitHub issue URL",
                key=URL_KEY,
                placeholder="https://github.com/owner/repo/issues/123",
                help="The issue's title and body are fetched through GitHub's API; a pull request's description "
                + (
                    "works too. This demo server fetches public issues only, without a token, at GitHub's "
                    "unauthenticated rate limit of 60 requests an hour."
                    if not app_state.github_settings().token_allowed
                    else "works too. Set GITHUB_TOKEN on the server for private repositories and a higher rate limit."
                ),
                on_change=clear_fetch_error,
            )
            fetch_column.button("Fetch and title", key="fetch_issue", on_click=fetch_from_url, width="stretch")
            if FETCH_ERROR_KEY in st.session_state:
                # The message may quote the issue's title, which a stranger wrote.
                st.error(escape_markdown(st.session_state[FETCH_ERROR_KEY]), icon=":material/link_off:")
            st.selectbox(
                "Start from an example",
                list(EXAMPLE_ISSUES),
                index=None,
                placeholder="Choose an example issue…",
                key=EXAMPLE_KEY,
                on_change=use_example,
            )
            body = st.text_area(
                "Issue body",
                key=BODY_KEY,
                height=300,
                placeholder="Describe the bug…\n\nSteps to reproduce…",
            )
            keep(URL_KEY, EXAMPLE_KEY, BODY_KEY)
            generate = st.button(
                "Generate title",
                type="primary",
                icon=":material/auto_awesome:",
                key="generate",
                on_click=clear_fetch_error,
            )

            if generate or st.session_state.pop(GENERATE_NOW_KEY, False):
                try:
                    checked = check_body(body)
                except InputError as error:
                    st.session_state.pop(RESULT_KEY, None)
                    st.error(escape_markdown(str(error)), icon=":material/block:")
                else:
                    st.session_state[GENERATION_KEY] = st.session_state.get(GENERATION_KEY, 0) + 1
                    started = time.perf_counter()
                    settings = {
                        "beam_width": beam_width if beam else 1,
                        "max_length": max_length,
                        "min_length": min_length,
                        "no_repeat_ngram_size": no_repeat,
                        "length_penalty": length_penalty if beam else 1.0,
                    }
                    # The beam keeps a second title even when one is shown: the confidence reads the margin.
                    titles = summarizer.generate_titles(
                        [checked.text], num_alternatives=max(alternatives, 2) if beam else 1, **settings
                    )[0]
                    results = [(title.text, title.score) for title in titles][: alternatives if beam else 1]
                    problem = nothing_to_title(checked.text)
                    features = title_features(
                        titles[0], titles[1] if len(titles) > 1 else None, summarizer.body_vocabulary.index, problem
                    )
                    calibration = load_calibration(summarizer.directory)
                    fetched = st.session_state.get(FETCHED_KEY)
                    if fetched and fetched["body"] != body:
                        fetched = None  # The visitor has edited the fetched body: its real title no longer applies.

                    st.session_state[RESULT_KEY] = {
                        "body": body,
                        "alternatives": results,
                        "model_tokens": " ".join(titles[0].tokens),
                        "warnings": checked.warnings,
                        "seconds": time.perf_counter() - started,
                        "decoding": f"beam search, width {beam_width}" if beam else "greedy",
                        "known_share": summarizer.known_word_share(checked.text),
                        "generation": st.session_state[GENERATION_KEY],
                        "settings": settings,
                        "text": checked.text,
                        "fetched": fetched,
                        "rougeL": (
                            title_rouge_l(results[0][0], fetched["title"], config.title_cleaning) if fetched else None
                        ),
                        "confidence": None if calibration is None else calibration.confidence(features),
                        "problem": problem,
                    }

            result = st.session_state.get(RESULT_KEY)
            if result:
                for warning in result["warnings"]:
                    st.warning(warning, icon=":material/warning:")
                if result["known_share"] < 0.5:
                    st.warning(
                        f"Only {result['known_share']:.0%} of the words the model read are in its vocabulary, "
                        "so the title is mostly a guess.",
                        icon=":material/warning:",
                    )
                title, score = result["alternatives"][0]
                with (
                    st.container(key="generated_title", border=True),
                    st.container(key=f"generation_{result['generation']}"),
                ):
                    st.caption("Generated title")
                    st.subheader(escape_markdown(title) if title else "(the model wrote an empty title)", anchor=False)
                    st.caption(
                        f"{result['decoding']} · mean log-probability per word {score:.2f} · "
                        f"{result['seconds'] * 1000:,.0f} ms"
                        + (" · the text has changed since" if result["body"] != body else "")
                    )
                    show_confidence(result.get("confidence"), result.get("problem"))
                fetched = result.get("fetched")
                if fetched:
                    with st.container(key="real_title", border=True):
                        kind = "pull request" if fetched["pull_request"] else "issue"
                        st.caption(f"Real title of {kind} {fetched['name']}")
                        st.text(fetched["title"])
                        st.caption(
                            f"ROUGE-L of the generated title against it: {result['rougeL']:.2f} "
                            "(titles compared cleaned and tokenized, as in the test metrics)."
                        )
                if len(result["alternatives"]) > 1:
                    st.markdown("##### Alternatives")
                    table = pd.DataFrame(
                        [
                            {"rank": rank, "title": text, "score": value, "per-word probability": math.exp(value)}
                            for rank, (text, value) in enumerate(result["alternatives"], start=1)
                        ]
                    )
                    st.dataframe(
                        table,
                        hide_index=True,
                        width="stretch",
                        column_config={
                            "score": st.column_config.NumberColumn(format="%.3f", help="Mean log-probability per word"),
                            "per-word probability": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0),
                        },
                    )
        # Below both columns, so the heatmap has the page's width: one labelled column per body token.
        if result:
            if summarizer.uses_attention:
                # Drawn on request: the picture decodes the best title once more and its chart is
                # the slowest thing on the page, so it stays off the path from click to title.
                restore(ATTENTION_KEY)
                shown = st.toggle("Show where the model looked", key=ATTENTION_KEY)
                keep(ATTENTION_KEY)
                if shown:
                    if "explanation" not in result:
                        result["explanation"] = summarizer.explain(result["text"], **result["settings"])
                    show_attention(result["explanation"])
            else:
                st.caption("This model has no attention, so there is no picture of where it looked.")
            with st.expander("What the model saw"):
                tokens = summarizer.inspect(result["body"])
                st.markdown(
                    f"{seen_tokens_summary(tokens)} Bodies are cleaned first: lowercased, numbers become `xxnum`, "
                    "code blocks become `xxcode`, links keep their domain."
                )
                st.html(seen_tokens_html(tokens))
                st.caption(
                    "Grey: read by the model. Orange: not in the vocabulary, read as one 'rare word' id. "
                    f"Struck through: after the first {config.body_length} tokens, never read."
                )
                st.markdown("The model wrote the best title as these tokens:")
                st.code(result["model_tokens"] or "(none)", language=None, wrap_lines=True)
                st.caption(RESTORATION_NOTE)


with one_issue:
    one_issue_form()

with many_issues, app_state.friendly_errors("summarizing the file"):
    st.markdown(
        "Upload a CSV, JSONL (optionally gzipped) or parquet file with a `body` column. Every row comes back "
        "with `predicted_title`, `title_score`, `confidence` (the chance that the title is close to the real one) "
        "and `problem` (why a row got no title, or why its body gave the model nothing to title)."
    )
    uploaded = st.file_uploader("Issues file", type=data_sources.UPLOAD_TYPES, key="batch_upload")
    st.caption(
        f"A file without bodies but with a `url` (or `issue_url`, `html_url`) column of GitHub issue links works "
        f"too: the first {URL_ROWS} issues are fetched from GitHub, one at a time within its rate limit."
    )
    if uploaded is not None:
        data = uploaded.getvalue()
        identity = data_sources.content_identity(data)
        loaded, links = app_state.load_titling_upload(uploaded.name, identity, data)
        rows, columns = loaded.frame, loaded.source_columns
        # The `summarize` command's rule: an upload's own column of a name batch mode writes would lose
        # its cells to ours, so it is refused (shown by `friendly_errors`) before anything is titled.
        from issue_summarizer.data.input_checks import SUMMARIZE_COLUMNS, refuse_columns_written_over

        written = ("github_title", *SUMMARIZE_COLUMNS) if links else SUMMARIZE_COLUMNS
        refuse_columns_written_over(uploaded.name, columns, written, "batch mode", again="upload it again")
        limit = URL_ROWS if links else BATCH_ROWS
        if len(rows) > limit:
            st.warning(
                f"The file has {len(rows):,} rows; the first {limit:,} are "
                + ("fetched and summarized." if links else "summarized."),
                icon=":material/content_cut:",
            )
            rows = rows.iloc[:limit]
        st.caption(escape_markdown(f"{uploaded.name}: {len(rows):,} rows, columns {', '.join(columns)}"))
        # The model's tuned width by default, as the single-issue form and the `summarize` command decode.
        # Wider beams are not offered here: a file of 5,000 rows at width 10 would hold a shared
        # server's model for minutes.
        batch_beam = kept_slider(
            "Beam width",
            1,
            max(BATCH_WIDEST_BEAM, config.beam_width),
            config.beam_width,
            key=BATCH_BEAM_KEY,
            help="It starts at the model's tuned width; 1 is greedy decoding, the fastest.",
        )
        result_key = f"batch:{identity}:{batch_beam}"
        if st.button(
            f"Fetch and summarize {len(rows):,} issues" if links else f"Summarize {len(rows):,} issues",
            type="primary",
            key="summarize_file",
        ):
            extra = ["predicted_title", "title_score", "confidence", "problem"]
            if links:
                bar = app_state.ProgressBar(len(rows), "Fetched {done:,} of {total:,} issues from GitHub")
                rows = fetch_bodies(rows, links, app_state.github_settings(), progress=bar)
                bar.clear()
                extra = ["github_title", *extra]
            bar = app_state.ProgressBar(len(rows), "Summarized {done:,} of {total:,} issues")
            result = summarize_frame(summarizer, rows, beam_width=batch_beam, progress=bar)
            bar.clear()
            kept = [column for column in result.columns if column in columns or column in extra]
            st.session_state[result_key] = result[kept]
        finished = st.session_state.get(result_key)
        if finished is not None:
            failed, flagged = untitled_rows(finished), flagged_rows(finished)
            if failed == len(finished):
                reasons = finished["problem"].value_counts().head(3)
                st.error(
                    "No row could be titled. Most common reasons: "
                    + "; ".join(f"{escape_markdown(reason)} ({count:,} rows)" for reason, count in reasons.items()),
                    icon=":material/block:",
                )
            else:
                st.success(
                    f"Wrote titles for {len(finished) - failed:,} of {len(finished):,} rows"
                    + (f"; {failed:,} rows have a problem and no title" if failed else "")
                    + (f"; {flagged:,} flagged, as their body gives nothing to title" if flagged else "")
                    + ".",
                    icon=":material/check_circle:",
                )
            # The preview says each confidence in words; the download keeps the number, as `summarize` writes it.
            words = [confidence_in_words(value) for value in finished["confidence"]]
            preview = finished.assign(**{IN_WORDS: words})
            shown = ("predicted_title", "github_title", IN_WORDS, "problem", "title_score", "confidence")
            first = [name for name in shown if name in preview]
            preview = preview[first + [column for column in preview.columns if column not in first]]
            st.dataframe(
                preview.head(PREVIEW_ROWS),
                hide_index=True,
                width="stretch",
                column_config={
                    IN_WORDS: st.column_config.TextColumn(help=CONFIDENCE_HELP),
                    "confidence": st.column_config.ProgressColumn(
                        "confidence", min_value=0.0, max_value=1.0, format="%.2f", help=CONFIDENCE_HELP
                    ),
                },
            )
            if finished["confidence"].isna().all():
                st.caption(describe_confidence(None))
            st.download_button(
                "Download CSV",
                finished.to_csv(index=False).encode("utf-8"),
                file_name=f"{uploaded.name.split('.')[0]}_titles.csv",
                mime="text/csv",
                icon=":material/download:",
                key="download_titles",
            )
