"""Holdout browser: the model's titles for issues it never saw, next to the real ones."""

import numpy as np
import streamlit as st

from issue_summarizer.app import data_sources
from issue_summarizer.app import state as app_state
from issue_summarizer.app.cache_warming import evaluate_test_split, evaluation_caption
from issue_summarizer.app.text_display import escape_markdown
from issue_summarizer.evaluation.holdout import (
    SORT_ORDERS,
    body_is_cut,
    clicked_row,
    filter_predictions,
    has_repositories,
    prepare_predictions,
    random_row,
    repository_choices,
    selected_positions,
    sort_predictions,
    summary_metrics,
    upload_evaluation_rows,
)
from issue_summarizer.evaluation.metrics import PREDICTIONS_BODY_CHARS, evaluate_frame
from issue_summarizer.evaluation.model_card import decoding_description
from issue_summarizer.inference.confidence import confidence_level, describe_confidence

UPLOAD_ROWS = 2000  # Uploads are cut to this many rows so an evaluation takes seconds, not minutes.
ROW_KEY = "holdout_row:{identity}"  # One chosen row per source, so switching sources never shows a stale row.
TABLE_KEY = "holdout_table"
# The table positions the page last highlighted and the rows it last drew, in order: a selection
# that differs from the highlighted one is the visitor's click, on the table as it was drawn.
SELECTION_KEY = "holdout_last_selection"
DRAWN_ROWS_KEY = "holdout_drawn_rows"
TABLE_COLUMNS = ["repo", "rougeL", "lead_rougeL", "title", "predicted_title", "confidence", "opening", "score"]
CONFIDENCE_HELP = (
    "The calibrated chance that the model's title is close to the real one (ROUGE-L of at least 0.3, about a "
    "third of its words in order), fitted on the model's validation issues with `calibrate`."
)


def has_confidence(row) -> bool:
    """Whether a predictions row has a calibrated confidence (older predictions and uncalibrated models have none)."""
    return "confidence" in row and row["confidence"] is not None and not np.isnan(row["confidence"])


def progress_bar(rows) -> app_state.ProgressBar:
    return app_state.ProgressBar(
        len(rows), "Summarized {done:,} of {total:,} issues", "Scoring the titles against the real ones…"
    )


def evaluate(rows, label: str, identity: str) -> app_state.HoldoutIssues:
    """Summarize and score `rows` with a progress bar."""
    bar = progress_bar(rows)
    metrics, table = evaluate_frame(app_state.current_summarizer(), rows, progress=bar)
    bar.clear()
    return app_state.HoldoutIssues(prepare_predictions(table), label, identity, evaluated=True, metrics=metrics)


def from_test_split() -> app_state.HoldoutIssues | None:
    """Saved or cached predictions, or an offer to evaluate the data file's test split."""
    path = app_state.usable_data_path()
    issues = app_state.evaluated_issues(path)
    if issues is not None:
        return issues
    if path is None:
        app_state.explain_missing_data("The holdout browser")
        return None
    identity = data_sources.file_identity(path)
    rows = app_state.load_test_split(path, identity, str(app_state.model_directory()))
    shown = app_state.show_path(path)
    st.info(
        f"There are no saved predictions for this model yet. The test split of `{shown}` "
        f"has **{len(rows):,} issues** from {rows['repo'].nunique():,} repositories the model never saw.",
        icon=":material/science:",
    )
    # Said before the click: on a 2-core server the evaluation runs for minutes.
    st.caption(evaluation_caption(len(rows)))
    if st.button(f"Evaluate the model on {len(rows):,} test issues", type="primary", key="evaluate_test_split"):
        # The same computation as `warm-cache`, so that both store the same results.
        bar = progress_bar(rows)
        table, metrics = evaluate_test_split(app_state.current_summarizer(), rows, shown, progress=bar)
        bar.clear()
        issues = app_state.HoldoutIssues(table, f"test split of `{shown}`", identity, evaluated=True, metrics=metrics)
        # The results go to the app's cache, never into the model directory: its metrics.json
        # describes the owner's evaluation and changes only through `evaluate` and `train`.
        if app_state.store_evaluation(path, issues):
            st.toast("Saved the predictions in the app's cache; every session can now browse them.")
        else:
            st.toast("The cache directory is read-only, so the predictions are kept for this session only.")
        st.rerun()
    return None


def from_upload() -> app_state.HoldoutIssues | None:
    uploaded = st.file_uploader(
        "Issues with their real titles (CSV, JSONL or parquet with `title` and `body` columns)",
        type=data_sources.UPLOAD_TYPES,
        key="holdout_upload",
    )
    if uploaded is None:
        st.info("Upload a file of issues with titles to see how the model does on them.", icon=":material/folder_open:")
        return None
    loaded, identity = app_state.read_uploaded_file(uploaded, require_title=True)
    for problem in loaded.problems:
        st.caption(escape_markdown(problem))
    key = f"holdout_upload:{identity}"
    if key not in st.session_state:
        rows = upload_evaluation_rows(loaded, UPLOAD_ROWS)
        if len(loaded.frame) > UPLOAD_ROWS:
            st.warning(f"The file has {len(loaded.frame):,} rows; the first {UPLOAD_ROWS:,} usable ones are evaluated.")
        st.session_state[key] = evaluate(rows, f"upload `{uploaded.name}`", identity)
    return st.session_state[key]


def show_metrics(issues: app_state.HoldoutIssues, with_repositories: bool) -> None:
    summary = summary_metrics(issues.frame)
    columns = st.columns(5)
    columns[0].metric("Issues", f"{summary['rows']:,}")
    columns[1].metric("Repositories", f"{summary['repositories']:,}" if with_repositories else "–")
    columns[2].metric(
        "Model ROUGE-L",
        f"{summary['model_rougeL']:.3f}",
        f"{summary['model_rougeL'] - summary['lead_rougeL']:+.3f} vs lead",
    )
    columns[3].metric("Lead ROUGE-L", f"{summary['lead_rougeL']:.3f}", help="The first 12 words of the cleaned body.")
    columns[4].metric("Model beats lead", f"{summary['model_wins']:.0%}", help="Share of issues with a higher ROUGE-L.")
    model = (issues.metrics or {}).get("model")
    if model:
        st.caption(
            f"From {issues.label}, titles by {decoding_description(issues.metrics)}: "
            f"ROUGE-1 {model['rouge1']:.3f}, ROUGE-2 {model['rouge2']:.3f}, "
            f"ROUGE-L {model['rougeL']:.3f}, BLEU {model['bleu']:.2f} over {model['rows']:,} issues."
        )
    else:
        st.caption(f"From {issues.label}.")
    if not with_repositories:
        st.caption("The file has no repository column, so the issues are not shown or filtered by repository.")


def show_detail(row, with_repositories: bool) -> None:
    with st.container(border=True, key="holdout_detail"):
        if with_repositories:
            st.text(row["repo"])
        scores = st.columns(3)
        scores[0].metric("Model ROUGE-L", f"{row['rougeL']:.3f}")
        scores[1].metric("Lead ROUGE-L", f"{row['lead_rougeL']:.3f}")
        if has_confidence(row):
            scores[2].metric(
                "Confidence",
                f"{confidence_level(row['confidence'])} ({row['confidence']:.0%})",
                help=CONFIDENCE_HELP,
            )
        else:
            scores[2].metric("Model score", f"{row['score']:.2f}", help="Mean log-probability per word.")
        titles = st.columns(3)
        titles[0].markdown("###### Actual title")
        titles[0].text(row["title"])
        titles[1].markdown("###### Model's title")
        titles[1].text(row["predicted_title"] or "(empty)")
        titles[1].caption(describe_confidence(row["confidence"] if has_confidence(row) else None))
        titles[2].markdown("###### First 12 words")
        titles[2].text(row["opening"])
        st.markdown("###### Body")
        with st.container(height=280):
            st.text(row["body"])
        if body_is_cut(row["body"]):
            st.caption(
                f"The body is cut at {PREDICTIONS_BODY_CHARS:,} characters in the predictions, which keep "
                "only the start of each body."
            )


st.title("Holdout browser")
st.markdown(
    "The model's titles for issues from repositories it never saw during training, next to the real titles "
    "and to the simplest baseline, the body's first 12 words."
)

issues = None
with app_state.friendly_errors("preparing the held-out issues"):
    source = st.segmented_control(
        "Issues", ["Test split", "Uploaded file"], default="Test split", key="holdout_source", required=True
    )
    issues = from_test_split() if source == "Test split" else from_upload()
if issues is None:
    # Either nothing to show yet (the visitor was told what to do) or an error was shown.
    st.stop()

with app_state.friendly_errors("showing the predictions"):
    table = issues.frame.assign(opening=app_state.body_openings(issues.identity, issues.frame["body"].tolist()))
    row_key = ROW_KEY.format(identity=issues.identity)
    with_repositories = has_repositories(table)
    show_metrics(issues, with_repositories)

    filters = iter(st.columns([2, 3, 3, 2] if with_repositories else [2, 6, 2]))
    rouge_range = next(filters).slider("ROUGE-L", 0.0, 1.0, (0.0, 1.0), 0.05, key="holdout_rouge")
    repositories = []
    if with_repositories:
        # No "Select all": choosing every repository is what the empty filter already means.
        repositories = next(filters).multiselect(
            "Repositories",
            repository_choices(table),
            key="holdout_repositories",
            placeholder="All repositories",
            select_all=False,
            help="Leave empty to see every repository, or choose the ones to see.",
        )
    search = next(filters).text_input("Search titles and bodies", key="holdout_search", placeholder="e.g. memory leak")
    order = next(filters).selectbox(
        "Order",
        list(SORT_ORDERS),
        key="holdout_order",
        help="Shuffled, the first rows are a fair sample of the issues; the other orders sort by score.",
    )
    shown = sort_predictions(filter_predictions(table, rouge_range, repositories, search), order)

    # A selection that differs from the one the page drew is the visitor's click in the table.
    state = st.session_state.get(TABLE_KEY)
    selected = list(state["selection"]["rows"]) if state is not None else []
    if selected != st.session_state.get(SELECTION_KEY, []):
        st.session_state[row_key] = clicked_row(st.session_state.get(DRAWN_ROWS_KEY), selected)

    if shown.empty:
        st.info(
            f"None of the {len(table):,} issues match these filters. Widen the ROUGE-L range, change the search "
            "or choose other repositories.",
            icon=":material/filter_alt_off:",
        )
        # The table is not drawn, so its selection goes too: it would count rows of a table no longer shown.
        st.session_state.pop(TABLE_KEY, None)
        st.session_state[SELECTION_KEY] = []
        st.session_state[DRAWN_ROWS_KEY] = []
        st.stop()

    caption_column, button_column = st.columns([4, 1], vertical_alignment="center")
    caption_column.caption(f"{len(shown):,} of {len(table):,} issues match. Select a row to read it in full.")
    if button_column.button("Random example", icon=":material/casino:", width="stretch", key="holdout_random"):
        st.session_state[row_key] = random_row(shown.index, st.session_state.get(row_key), np.random.default_rng())

    # The table highlights the row the detail panel shows, whichever way it was chosen, and none
    # when the filters hide it.
    chosen = st.session_state.get(row_key)
    highlighted = selected_positions(shown.index, chosen)
    if highlighted != selected:
        st.session_state[TABLE_KEY] = {"selection": {"rows": highlighted, "columns": [], "cells": []}}
    st.session_state[SELECTION_KEY] = highlighted
    st.session_state[DRAWN_ROWS_KEY] = shown.index.tolist()

    columns = [column for column in TABLE_COLUMNS if (with_repositories or column != "repo") and column in shown]
    st.dataframe(
        shown[columns],
        hide_index=True,
        width="stretch",
        # Up to ten rows, then it scrolls: a short result leaves no empty rows below it.
        height="auto",
        on_select="rerun",
        selection_mode="single-row",
        key=TABLE_KEY,
        column_config={
            "repo": st.column_config.TextColumn("repository"),
            "title": st.column_config.TextColumn("actual title", width="medium"),
            "predicted_title": st.column_config.TextColumn("model's title", width="medium"),
            "opening": st.column_config.TextColumn(
                "first 12 words",
                help="The body's first 12 words as written. The lead baseline scores them cleaned and tokenized.",
            ),
            "rougeL": st.column_config.ProgressColumn("ROUGE-L", min_value=0.0, max_value=1.0, format="%.2f"),
            "lead_rougeL": st.column_config.NumberColumn("lead ROUGE-L", format="%.2f"),
            "confidence": st.column_config.ProgressColumn(
                "confidence", min_value=0.0, max_value=1.0, format="%.2f", help=CONFIDENCE_HELP
            ),
            "score": st.column_config.NumberColumn("model score", format="%.2f", help="Mean log-probability per word."),
        },
    )
    if highlighted:
        show_detail(table.loc[chosen], with_repositories)
