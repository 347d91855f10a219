"""Overview: the model card, built from the files in the model directory."""

import streamlit as st

from issue_summarizer.app import state as app_state
from issue_summarizer.app.charts import training_curves_chart
from issue_summarizer.app.text_display import NO_WRAP_HEADERS
from issue_summarizer.evaluation.model_card import (
    NOT_APPLICABLE,
    QUALITY_READING_COLUMNS,
    QUALITY_SCORE_COLUMNS,
    configuration_table,
    data_summary,
    decoding_description,
    history_frame,
    layer_table,
    metrics_table,
    quality_display_table,
    split_table,
    vocabulary_table,
    weights_description,
)
from issue_summarizer.inference.summarizer import ModelDirectoryError

COUNT = st.column_config.NumberColumn(format="localized")
ARCHITECTURES = {
    "seed": "A GRU encoder reads the first words of the cleaned body into one vector; a GRU decoder "
    "writes the title from that vector one word at a time, greedily or with beam search.",
    "attention": "A bidirectional GRU encoder reads the first words of the cleaned body; a GRU decoder "
    "writes the title one word at a time, attending to the body words at each step (Luong attention), "
    "and can copy a body word the title vocabulary lacks, such as a function name or an error code.",
    "transformer": "A Transformer encoder reads every position of the cleaned body at once; a Transformer "
    "decoder writes the title one word at a time, attending to the title so far and to the body, and can "
    "copy a body word the title vocabulary lacks through its last cross-attention layer.",
}


def introduction(architecture: str | None) -> None:
    st.markdown(
        "A sequence-to-sequence model that **writes a GitHub issue's title from its body**. "
        + ARCHITECTURES.get(architecture or "seed", ARCHITECTURES["seed"])
        + " It follows Hamel Husain's *How to create data products that are magical using "
        "sequence-to-sequence models*."
    )


st.title("Issue Summarizer")

with app_state.friendly_errors("reading the model directory"):
    try:
        card = app_state.model_card()
    except ModelDirectoryError as error:
        introduction(None)
        app_state.show_missing_model(error)
        st.stop()
    introduction(card.config.architecture)

    metrics = card.metrics or {}
    model_scores = metrics.get("model") or {}
    lead_scores = metrics.get("lead_12") or {}
    provenance = card.provenance or {}
    training = card.training or {}

    # Headline figures first: what a visitor wants to know at a glance.
    columns = st.columns(4)
    if model_scores:
        lead_rouge = lead_scores.get("rougeL")
        delta = f"{model_scores['rougeL'] - lead_rouge:+.3f} vs first 12 words" if lead_rouge is not None else None
        columns[0].metric(
            "Test ROUGE-L", f"{model_scores['rougeL']:.3f}", delta, help=f"Titles by {decoding_description(metrics)}."
        )
        columns[1].metric("Test BLEU", f"{model_scores.get('bleu', 0):.1f}")
    else:
        columns[0].metric("Test ROUGE-L", "—")
        columns[1].metric("Test BLEU", "—")
    columns[2].metric("Training issues", f"{provenance.get('split', {}).get('train', {}).get('rows', 0):,}")
    columns[3].metric("Epochs trained", training.get("epochs_run", "—"))

    # The comparison is split in two tables, scores and how titles read, so that every column fits
    # on the page; static tables wrap the systems' long labels instead of cutting them.
    st.subheader("Test metrics", anchor=False)
    if card.quality:
        st.caption(
            f"{card.quality.get('test_rows', 0):,} test issues from {card.quality.get('test_repositories', 0)} "
            "repositories that no model saw, scored in one run by "
            f"`{card.quality.get('command', 'bench/quality.py')}`. "
            f"A dash ({NOT_APPLICABLE}) marks a measure that does not apply to those titles."
        )
        scores = quality_display_table(card.quality, QUALITY_SCORE_COLUMNS)
        if not scores.empty:
            st.markdown("###### Scores against the real titles")
            st.table(scores.style.set_table_styles(NO_WRAP_HEADERS))
            st.caption(
                "Titles and references are compared cleaned and tokenized. Copy rate: titles with a word outside "
                "the title vocabulary, which only copying from the body can write; empty: titles with no words; "
                "repeats: titles that use one word at least three times."
            )
        # Older comparison files have no surface measures, and then no second table.
        reading = quality_display_table(card.quality, QUALITY_READING_COLUMNS)
        if not reading.empty:
            st.markdown("###### How the titles read")
            st.table(reading.style.set_table_styles(NO_WRAP_HEADERS))
            st.caption(
                "The shares of titles with a placeholder such as xxnum, with tokenizer spacing (does n't), "
                "starting with a tag such as [Bug], cut by the length limit, ending on a function word (crashes "
                "when the), leaving a quote, backtick or bracket unbalanced, and starting with a prefix such as "
                "ios: that the body never names; ROUGE-L against the real titles as written, case-sensitive "
                "(cased) and not (raw)."
            )
    elif metrics:
        st.caption(
            f"On the held-out **{metrics.get('split', 'test')}** repositories "
            f"({decoding_description(metrics)}). Titles and references are compared cleaned and "
            f"tokenized; the baseline is the first 12 words of the cleaned body."
            + (
                " Copy rate: titles with a word outside the title vocabulary, copied from the body."
                if model_scores.get("copy_rate") is not None
                else ""
            )
        )
        st.dataframe(
            metrics_table(metrics),
            hide_index=True,
            width="stretch",
            placeholder=NOT_APPLICABLE,
            column_config={
                name: st.column_config.NumberColumn(name, format="%.3f")
                for name in ("ROUGE-1", "ROUGE-2", "ROUGE-L", "copy rate")
            }
            | {"BLEU": st.column_config.NumberColumn("BLEU", format="%.2f"), "rows": COUNT},
        )
    else:
        st.info(
            "No `metrics.json` in the model directory yet. Score the model with "
            f"`python -m issue_summarizer evaluate --model {app_state.show_path(card.directory)} --data DATA`, "
            "or run the evaluation from the Holdout browser.",
            icon=":material/bar_chart:",
        )

    left, right = st.columns([3, 2], gap="large")
    with left:
        st.subheader("Training curves", anchor=False)
        if card.history:
            st.altair_chart(training_curves_chart(history_frame(card.history)), width="stretch")
            if training:
                st.caption(
                    f"{training.get('epochs_run', '?')} epochs in {training.get('seconds', 0) / 60:.1f} minutes "
                    f"({training.get('samples_per_second', 0):,.0f} issues/s); best validation loss "
                    f"{training.get('best_val_loss', float('nan')):.3f}. Training stops when validation loss stops "
                    + weights_description(card.averaging)
                )
        else:
            st.info(
                "No `history.json` in the model directory, so there are no curves to draw.",
                icon=":material/show_chart:",
            )

    with right:
        st.subheader("Data", anchor=False)
        if provenance:
            st.markdown(
                data_summary(provenance)
                + " The split is **by repository**, so test figures describe projects the model never saw."
            )
            st.dataframe(
                split_table(provenance),
                hide_index=True,
                width="stretch",
                column_config={"rows": COUNT, "repositories": COUNT},
            )
            vocabularies = vocabulary_table(provenance)
            if not vocabularies.empty:
                st.dataframe(
                    vocabularies,
                    hide_index=True,
                    width="stretch",
                    column_config={
                        name: st.column_config.NumberColumn(name, format="percent")
                        for name in ("train coverage", "test coverage")
                    }
                    | {"size": COUNT},
                )
        else:
            st.info("No `provenance.json` in the model directory.", icon=":material/inventory_2:")

        if provenance.get("rows_dropped_in_pipeline"):
            dropped = ", ".join(
                f"{count:,} {reason}" for reason, count in provenance["rows_dropped_in_pipeline"].items()
            )
            st.caption(f"Dropped while preparing: {dropped}.")

    # One above the other, each with the page's width: side by side, half a laptop screen cut off the
    # architecture's parameter counts.
    configuration_column, architecture_column = st.container(), st.container()
    with configuration_column:
        st.subheader("Configuration", anchor=False)
        # A static table wraps the longer explanations instead of cutting them off.
        st.table(configuration_table(card.config).set_index("setting"))
    with architecture_column:
        st.subheader("Architecture", anchor=False)
        try:
            summarizer = app_state.current_summarizer()
        except ModelDirectoryError as error:
            st.warning(
                app_state.shown_error(f"The configuration is readable but the model is not: {error}"),
                icon=":material/warning:",
            )
        else:
            # A static table wraps a long layer name or shape instead of cutting it.
            st.table(layer_table(summarizer.model).set_index("layer").style.format({"parameters": "{:,}"}))
            st.caption(
                "Output shapes are per issue: words stands for the body's or the title's length, the other number "
                f"for the size of each word's vector. {summarizer.model.count_params():,} parameters. "
                "Training uses teacher forcing: the decoder reads "
                "the true title shifted by one word. For inference the encoder and a one-step decoder are cut out "
                "of the same weights."
            )
