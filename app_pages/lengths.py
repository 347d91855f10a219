"""Lengths: how long bodies and titles are, and what a pad length keeps and wastes."""

from pathlib import Path

import streamlit as st

from issue_summarizer.app import data_sources
from issue_summarizer.app import state as app_state
from issue_summarizer.app.charts import coverage_chart, length_histogram_chart
from issue_summarizer.data.length_report import SAMPLE_ROWS, coverage_frame, display_limit, histogram_frame, pad_report
from issue_summarizer.data.length_stats import DEFAULT_COVERAGE, LengthHistogram, load_length_stats
from issue_summarizer.data.prepare import LENGTH_STATS_FILE
from issue_summarizer.inference.summarizer import ModelDirectoryError

SOURCES = ["Training data", "Data file", "Uploaded file"]


def length_section(histogram: LengthHistogram, what: str, configured: int, note: str) -> None:
    """Histogram, coverage curve and pad-length controls for one kind of text."""
    if histogram.total == 0:
        st.info(f"No {what} lengths to show.")
        return
    limit = max(display_limit(histogram), configured + 1)
    chart_column, control_column = st.columns([3, 2], gap="large")
    with control_column:
        pad_length = st.slider(
            "Pad length",
            1,
            max(limit, 2),
            min(configured, limit),
            key=f"pad_{what}",
            format="%,d",
            help=f"Every {what} is padded or cut to this many tokens.",
        )
        report = pad_report(histogram, pad_length)
        first, second = st.columns(2)
        first.metric("Truncated", f"{report.truncated_share:.1%}", help=f"{what.capitalize()}s longer than this.")
        second.metric("Padded", f"{report.padded_share:.1%}", help=f"{what.capitalize()}s shorter than this.")
        first.metric(
            "Padding cells",
            f"{report.padding_token_share:.1%}",
            help="The share of the padded matrix's cells that hold padding.",
        )
        second.metric("Tokens cut off", f"{report.truncated_token_share:.1%}", help="Of all tokens, the share lost.")
        st.caption(note)
        st.divider()
        coverage = st.slider(
            "Coverage wanted",
            0.50,
            0.99,
            DEFAULT_COVERAGE,
            0.01,
            key=f"coverage_{what}",
            format="%.2f",
            help="The share of documents that should fit without truncation.",
        )
        suggested = histogram.suggest_length(coverage)
        st.metric("Suggested pad length", f"{suggested:,} tokens", help="The green line on the coverage curve.")
    with chart_column:
        frame, longer = histogram_frame(histogram, limit)
        st.altair_chart(length_histogram_chart(frame, pad_length, what), width="stretch")
        st.caption(
            f"{histogram.total:,} {'bodies' if what == 'body' else what + 's'}; "
            f"median {histogram.suggest_length(0.5):,} tokens. "
            + (f"{longer:,} longer than {limit:,} tokens are not drawn." if longer else "")
        )
        st.altair_chart(coverage_chart(coverage_frame(histogram, limit), pad_length, what, suggested), width="stretch")


def histograms_from_source(source: str) -> tuple[dict[str, LengthHistogram], str] | None:
    directory = app_state.model_directory()
    if source == "Training data":
        path = Path(directory) / LENGTH_STATS_FILE
        if not path.is_file():
            st.info(
                f"`{app_state.show_path(path)}` is missing. It is written when a model is trained; choose a data "
                "file or an upload instead.",
                icon=":material/folder_open:",
            )
            return None
        histograms, meta = load_length_stats(path)
        sample = meta.get("body_sample_size")
        return histograms, (
            f"From `{LENGTH_STATS_FILE}`: bodies of a {sample:,}-issue sample and titles of the training split of "
            f"`{app_state.show_recorded_path(meta.get('source', 'the training data'))}`."
            if sample
            else f"From `{LENGTH_STATS_FILE}`."
        )

    sample = st.slider("Rows to sample", 1000, SAMPLE_ROWS, 5000, 1000, key="length_sample", format="%,d")
    if source == "Data file":
        path = app_state.usable_data_path()
        if path is None:
            st.info(
                "Set a data file in the sidebar (or `ISSUE_SUMMARIZER_DATA`) to measure its lengths.",
                icon=":material/folder_open:",
            )
            return None
        label = f"a {sample:,}-row sample of `{app_state.show_path(path)}`"
        uploaded = None
    else:
        uploaded = st.file_uploader(
            "Issues file (CSV, JSONL or parquet)", type=data_sources.UPLOAD_TYPES, key="length_upload"
        )
        if uploaded is None:
            st.info("Upload a file with a `body` column (and optionally `title`).", icon=":material/folder_open:")
            return None
        label = f"up to {sample:,} rows of `{uploaded.name}`"
    if not st.toggle("Count tokens", key=f"count_{source}", help="Cleaning and tokenizing takes a few seconds."):
        st.caption(f"Switch on to clean and tokenize {label} as the model does.")
        return None
    with st.spinner(f"Cleaning and tokenizing {label}…"):
        if uploaded is None:
            identity = data_sources.file_identity(path)
            histograms = app_state.data_file_histograms(str(directory), path, identity, sample)
        else:
            loaded, identity = app_state.read_uploaded_file(uploaded, require_title=False)
            histograms = app_state.upload_histograms(str(directory), identity, sample, loaded.frame)
    return histograms, f"From {label}."


st.title("Lengths")
st.markdown(
    "The model reads a fixed number of body tokens and writes a fixed number of title tokens. "
    "Shorter texts are padded, longer ones cut. Pick a pad length to see what it keeps and what it wastes."
)

with app_state.friendly_errors("measuring lengths"):
    try:
        config = app_state.model_card().config
        body_length, title_length = config.body_length, config.title_length
        body_padding = config.body_padding
    except ModelDirectoryError:
        body_length, title_length, body_padding = 70, 12, "pre"
        st.caption("The model directory has no readable configuration; the seed lengths (70 and 12) are assumed.")
    source = st.segmented_control("Lengths from", SOURCES, default=SOURCES[0], key="length_source", required=True)
    result = histograms_from_source(source)
    if result is None:
        st.stop()
    histograms, description = result
    st.caption(description + " Lengths count cleaned tokens, as the model sees them.")
    body_tab, title_tab = st.tabs(["Bodies", "Titles"])
    with body_tab:
        length_section(
            histograms["body"],
            "body",
            body_length,
            f"The model reads the first {body_length} tokens of each body "
            f"(padded {'before' if body_padding == 'pre' else 'after'} the text, cut after).",
        )
    with title_tab:
        if "title" in histograms:
            length_section(
                histograms["title"],
                "title",
                title_length - 2,
                f"The model's titles have {title_length} positions: {title_length - 2} words plus the start and "
                "end markers.",
            )
        else:
            st.info("This data has no titles.", icon="ℹ️")
