"""Similar issues: a map of held-out issues by what the encoder makes of them, and nearest neighbours."""

import pandas as pd
import streamlit as st

from issue_summarizer.app import data_sources
from issue_summarizer.app import state as app_state
from issue_summarizer.app.cache_warming import map_caption, map_identity, map_sample
from issue_summarizer.app.charts import points_outside_view, similarity_map_chart
from issue_summarizer.app.text_display import escape_markdown
from issue_summarizer.data.input_checks import InputError, check_body
from issue_summarizer.scale.similarity import (
    MAP_ROWS,
    SparseIndex,
    check_map_size,
    cluster_names,
    repository_groups,
)

NEIGHBOURS = 10
TOOLTIP_TITLE_CHARS = 120

st.title("Similar issues")
st.markdown(
    f"Each dot is a held-out issue, placed by the model's embedding (trained to place an issue near its own title "
    f"when the model has one, else the encoder's final state), projected to 2-D with UMAP. Up to {MAP_ROWS:,} issues "
    "are drawn. Paste an issue to find its nearest neighbours and see where it lands. The search is hybrid: how "
    "close each issue is in meaning (cosine of the embeddings) and in words (TF-IDF of the bodies) are added up, "
    "the same search as `python -m issue_summarizer similar`. Scroll to zoom, drag to pan, double-click to reset."
)

summarizer = app_state.summarizer_or_explain()
if summarizer is None:
    st.stop()
issue_map = None
with app_state.friendly_errors("preparing the issues to map"):
    source = st.segmented_control(
        "Issues",
        ["Test split", "Uploaded file", "Embeddings file"],
        default="Test split",
        key="similar_source",
        required=True,
    )
    if source == "Embeddings file":
        path = app_state.usable_data_path()
        if path is None or not path.lower().endswith(".parquet"):
            st.info(
                "Choose a vectors file as the data file in the sidebar: `python -m issue_summarizer embed --model "
                "model --input ISSUES --output vectors.parquet` writes one for any number of issues. The map draws "
                f"a sample of {MAP_ROWS:,}; the search covers every issue in the file.",
                icon=":material/folder_open:",
            )
            st.stop()
        identity = f"{app_state.model_identity()}|{data_sources.file_identity(path)}"
        # The word index saved beside the vectors is part of what is searched, so a new one rebuilds the map.
        beside = SparseIndex.beside(path)
        if beside.is_file():
            identity += f"|{data_sources.file_identity(str(beside))}"
        with st.status(f"Indexing `{app_state.show_path(path)}`…", expanded=True) as status:
            st.write("Reading the vectors, building the neighbour index and fitting the map on a sample…")
            issue_map = app_state.file_map(identity, path)
            count = len(issue_map.everything)
            status.update(
                label=f"Map of {len(issue_map.frame):,} of {count:,} issues from `{app_state.show_path(path)}`",
                state="complete",
                expanded=False,
            )
    else:
        if source == "Test split":
            issues = app_state.held_out_issues()
            if issues is None:
                app_state.explain_missing_data("The map")
                st.stop()
            frame, identity, label = issues.frame, issues.identity, issues.label
            source_name = None
        else:
            uploaded = st.file_uploader(
                "Issues file (CSV, JSONL or parquet with a `body` column)",
                type=data_sources.UPLOAD_TYPES,
                key="similar_upload",
            )
            if uploaded is None:
                st.info("Upload a file of issues to map them.", icon=":material/folder_open:")
                st.stop()
            loaded, identity = app_state.read_uploaded_file(uploaded, require_title=False)
            frame, label = loaded.frame, f"upload `{uploaded.name}`"
            source_name = uploaded.name
            if "title" not in frame.columns:
                frame = frame.assign(title="")
        sample = map_sample(frame)
        # Refused before the bodies are embedded, which would take a while for nothing.
        check_map_size(len(sample), source_name)
        identity = map_identity(app_state.model_directory(), identity, len(sample))
        if source == "Test split" and not app_state.embeddings_cached(identity):
            # Said before the first map of the test split, which takes half a minute on a 2-core server.
            st.caption(map_caption(len(sample)))

        with st.status(f"Mapping {len(sample):,} issues from {label}…", expanded=True) as status:
            st.write(f"Embedding {len(sample):,} bodies with the encoder…")
            vectors = app_state.embeddings(identity, sample["body"].tolist(), persist=source == "Test split")
            st.write(
                "Fitting the UMAP projection. In a fresh process UMAP first compiles its numba code, which takes "
                "20 to 60 seconds; later maps reuse it and take a few seconds."
            )
            issue_map = app_state.similarity_map(identity, sample, vectors)
            status.update(label=f"Map of {len(sample):,} issues from {label}", state="complete", expanded=False)

if issue_map is None:
    st.stop()  # The failure was shown above.

with app_state.friendly_errors("drawing the map"):
    map_column, query_column = st.columns([3, 2], gap="large")
    with query_column:
        colour_by = st.segmented_control(
            "Colour by", ["Repository", "Topic cluster"], default="Repository", key="similar_colour", required=True
        )
        cluster_count = st.slider(
            "Clusters",
            2,
            20,
            8,
            key="similar_clusters",
            disabled=colour_by != "Topic cluster",
            help="KMeans on the embeddings; each cluster is named by the title words frequent in it and rare in "
            "the others (class-based TF-IDF). Words every cluster uses, such as 'error', name none.",
        )
        query = st.text_area(
            "Find issues like this one",
            key="similar_query",
            height=200,
            placeholder="Paste an issue body, then press Ctrl+Enter.",
        )

    points = issue_map.frame.drop(columns="body").copy()
    points["title"] = points["title"].str.slice(0, TOOLTIP_TITLE_CHARS)
    if colour_by == "Repository":
        points["group"] = repository_groups(points["repo"])
        colour_title = "repository (top 10)"
    else:
        labels = app_state.clusters(identity, cluster_count, issue_map.embeddings)
        names = cluster_names(issue_map.frame["title"].tolist(), labels)
        points["group"] = [names[label] for label in labels]
        colour_title = "cluster"

    neighbours = None
    query_point = None
    if query.strip():
        try:
            checked = check_body(query)
        except InputError as error:
            query_column.error(str(error), icon=":material/block:")
        else:
            for warning in checked.warnings:
                query_column.warning(warning, icon=":material/warning:")
            vector = summarizer.embed([checked.text])[0]
            neighbours = issue_map.neighbours(vector, NEIGHBOURS, text=checked.text)
            x, y = issue_map.place(vector)
            query_point = pd.DataFrame({"x": [x], "y": [y], "label": ["your issue"]})
            title, _ = summarizer.summarize([checked.text])[0]
            query_column.markdown(
                f"The model would title it **{escape_markdown(title) or '(empty)'}**; it is the black ◆ on the map."
            )

    with map_column:
        st.altair_chart(similarity_map_chart(points, "group", colour_title, query_point), width="stretch")
        outside = points_outside_view(points)
        if outside:
            st.caption(f"{outside} issues lie far from the rest, outside this view; scroll to zoom out and see them.")

    if neighbours is not None:
        st.subheader(f"The {len(neighbours)} most similar issues", anchor=False)
        columns = {
            "title": st.column_config.TextColumn("title", width="large"),
            "repo": st.column_config.TextColumn("repository"),
        }
        if "meaning_rank" in neighbours.columns:
            st.caption(
                "**Match** says how far an issue stands above the typical one, in standard deviations: the word "
                "search's and the meaning search's scores, each measured against all the searched issues, added "
                "(meaning at half weight). About 0 is an unrelated issue; 5 or more shares rare words or much of its "
                "meaning with the pasted one. The ranks say where each search alone placed the issue (words: empty "
                "when it shares no word with the pasted issue)."
            )
            shown = ["similarity", "meaning_rank", "words_rank", "title", "repo"]
            columns |= {
                "similarity": st.column_config.NumberColumn("match", format="%.1f"),
                "meaning_rank": st.column_config.NumberColumn("rank by meaning", format="%d"),
                "words_rank": st.column_config.NumberColumn("rank by words", format="%d"),
            }
            neighbours = neighbours.assign(
                meaning_rank=neighbours["meaning_rank"].where(neighbours["meaning_rank"] > 0),
                words_rank=neighbours["words_rank"].where(neighbours["words_rank"] > 0),
            )
        else:
            st.caption(
                "Searched by meaning only (no word index for these issues). **Closeness** is the cosine similarity "
                "rescaled so that 0 is as close as the typical mapped issue and 1 is the same text; the raw cosine "
                "of the encoder's vectors is high for almost any pair of issues, so it is shown beside it only."
            )
            shown = ["similarity", "cosine", "title", "repo"]
            columns |= {
                "similarity": st.column_config.ProgressColumn("closeness", min_value=0.0, max_value=1.0, format="%.2f"),
                "cosine": st.column_config.NumberColumn("cosine", format="%.3f"),
            }
        st.dataframe(neighbours[shown], hide_index=True, width="stretch", column_config=columns)
