"""Altair charts for the app's pages, built from plain frames so they can be tested without Streamlit."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

SERIES_COLOURS = {"training": "#4c78a8", "validation": "#f58518"}
HIGHLIGHT_COLOUR = "#d33f49"
BINS = alt.Bin(maxbins=60, minstep=1)
SUGGESTED_COLOUR = "#2e9e5b"
# The map's groups (repositories or clusters), "other" in grey, and the pasted issue's marker in a
# colour none of them uses: near-black with a white outline reads on light and dark themes alike,
# where the old red marker was easily taken for the red repository.
MAP_PALETTE = (
    "#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d", "#8c6d31",
)  # fmt: skip
OTHER_GROUP_COLOUR = "#c7c7c7"
QUERY_COLOUR = "#111111"


def training_curves_chart(history: pd.DataFrame) -> alt.Chart:
    """Training and validation loss per epoch (rows: epoch, series, loss)."""
    colour = alt.Color(
        "series:N",
        scale=alt.Scale(domain=list(SERIES_COLOURS), range=list(SERIES_COLOURS.values())),
        legend=alt.Legend(title=None, orient="top"),
    )
    base = alt.Chart(history).encode(
        x=alt.X("epoch:O", title="epoch", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("loss:Q", title="cross-entropy loss", scale=alt.Scale(zero=False)),
        color=colour,
        tooltip=["series", "epoch", alt.Tooltip("loss:Q", format=".4f")],
    )
    return (base.mark_line(strokeWidth=2.5) + base.mark_point(size=70, filled=True)).properties(height=300)


def length_histogram_chart(frame: pd.DataFrame, pad_length: int | None, what: str) -> alt.LayerChart | alt.Chart:
    """Documents per token length (rows: length, documents), with the pad length as a rule."""
    bars = (
        alt.Chart(frame)
        .mark_bar(color="#4c78a8", opacity=0.85)
        .encode(
            # Lengths and counts are whole numbers: bins are at least one token wide and ticks have no decimals.
            x=alt.X("length:Q", bin=BINS, title=f"{what} length (tokens)", axis=alt.Axis(format=",d")),
            y=alt.Y("sum(documents):Q", title="documents", axis=alt.Axis(format=",d", tickMinStep=1)),
            tooltip=[
                alt.Tooltip("length:Q", bin=BINS, title="length", format=",d"),
                alt.Tooltip("sum(documents):Q", title="documents", format=",d"),
            ],
        )
    )
    if pad_length is None:
        return bars.properties(height=260)
    rule = (
        alt.Chart(pd.DataFrame({"length": [pad_length], "label": [f"pad length {pad_length}"]}))
        .mark_rule(color=HIGHLIGHT_COLOUR, strokeWidth=2, strokeDash=[6, 3])
        .encode(x="length:Q", tooltip=["label"])
    )
    return (bars + rule).properties(height=260)


def coverage_chart(frame: pd.DataFrame, pad_length: int, what: str, suggested: int | None = None) -> alt.LayerChart:
    """The share of documents no longer than each length (rows: length, coverage).

    A red rule marks `pad_length` and, when given, a green one the `suggested` length.
    """
    curve = (
        alt.Chart(frame)
        .mark_area(
            line={"color": "#4c78a8"},
            color=alt.Gradient(
                gradient="linear",
                stops=[alt.GradientStop(color="white", offset=0), alt.GradientStop(color="#4c78a8", offset=1)],
                x1=1,
                x2=1,
                y1=1,
                y2=0,
            ),
            opacity=0.5,
            interpolate="step-after",
        )
        .encode(
            x=alt.X("length:Q", title=f"pad length ({what} tokens)", axis=alt.Axis(format=",d")),
            # A short title: the axis is as tall as the chart, and a longer one was cut off.
            y=alt.Y("coverage:Q", title="not truncated", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
            tooltip=[
                alt.Tooltip("length:Q", title="pad length", format=",d"),
                alt.Tooltip("coverage:Q", title="not truncated", format=".1%"),
            ],
        )
    )
    rules = pd.DataFrame({"length": [pad_length], "line": [f"pad length {pad_length}"]})
    colours = [HIGHLIGHT_COLOUR]
    if suggested is not None:
        rules.loc[1] = [suggested, f"suggested {suggested}"]
        colours.append(SUGGESTED_COLOUR)
    rule = (
        alt.Chart(rules)
        .mark_rule(strokeWidth=2, strokeDash=[6, 3])
        .encode(
            x="length:Q",
            color=alt.Color("line:N", scale=alt.Scale(range=colours), legend=alt.Legend(title=None, orient="bottom")),
            tooltip=["line"],
        )
    )
    return (curve + rule).properties(height=260)


def core_domain(values: pd.Series, share: float = 0.95) -> list[float]:
    """The shortest range holding `share` of the values, with a small margin.

    UMAP places small groups of unusual issues (bodies that are nothing but a template or a
    log) far from the rest; fitting them in would squeeze the map into a corner, and so would
    a quantile range, which spans the empty gap before such a group. They stay reachable by
    zooming out.
    """
    ordered = np.sort(values.to_numpy(dtype=float))
    if ordered.size == 0:
        return [0.0, 1.0]
    kept = max(int(np.ceil(share * ordered.size)), 1)
    widths = ordered[kept - 1 :] - ordered[: ordered.size - kept + 1]
    start = int(np.argmin(widths))
    low, high = ordered[start], ordered[start + kept - 1]
    margin = (high - low) * 0.05 or 1.0
    return [float(low - margin), float(high + margin)]


def points_outside_view(points: pd.DataFrame) -> int:
    """How many points `similarity_map_chart` leaves outside its initial view."""
    (left, right), (bottom, top) = core_domain(points["x"]), core_domain(points["y"])
    return int((~(points["x"].between(left, right) & points["y"].between(bottom, top))).sum())


def similarity_map_chart(
    points: pd.DataFrame, colour_field: str, colour_title: str, query: pd.DataFrame | None = None
) -> alt.LayerChart | alt.Chart:
    """Issues on the 2-D map (rows: x, y, title, repo and `colour_field`), zoomable, with an optional query star."""
    categories = points[colour_field].value_counts().index.tolist()
    # "other" is drawn in grey, last in the legend, so the named groups stand out.
    if "other" in categories:
        categories = [name for name in categories if name != "other"] + ["other"]
    palette = (list(MAP_PALETTE) * (len(categories) // len(MAP_PALETTE) + 1))[: len(categories)]
    if "other" in categories:
        palette[-1] = OTHER_GROUP_COLOUR
    scatter = (
        alt.Chart(points)
        .mark_circle(size=36, opacity=0.75, clip=True)
        .encode(
            x=alt.X("x:Q", axis=None, scale=alt.Scale(domain=core_domain(points["x"]))),
            y=alt.Y("y:Q", axis=None, scale=alt.Scale(domain=core_domain(points["y"]))),
            color=alt.Color(
                f"{colour_field}:N",
                title=colour_title,
                scale=alt.Scale(domain=categories, range=palette),
                legend=alt.Legend(orient="right", labelLimit=260, symbolLimit=40),
            ),
            tooltip=[alt.Tooltip("title:N", title="title"), alt.Tooltip("repo:N", title="repository")],
        )
        .interactive()
    )
    if query is None or query.empty:
        return scatter.properties(height=560)
    star = (
        alt.Chart(query)
        .mark_point(shape="diamond", size=420, filled=True, color=QUERY_COLOUR, stroke="white", strokeWidth=2)
        .encode(x="x:Q", y="y:Q", tooltip=[alt.Tooltip("label:N", title="")])
    )
    return (scatter + star).properties(height=560)


ATTENTION_TOKENS = 70  # Body tokens drawn at most: more columns than this are too narrow to label.
COPIED_MARK = " ★"
ATTENTION_RANGE = ["#f4f8fc", "#08306b"]  # Near white for no attention, so the peaks stand out.
# The other title words keep a grey that reads on Streamlit's light and dark themes alike.
LABEL_GREY = "#83858c"


def attention_frame(
    body_tokens: list[str],
    title_words: list[str],
    attention: np.ndarray,
    copied: list[bool],
    max_tokens: int = ATTENTION_TOKENS,
    start: int = 0,
) -> pd.DataFrame:
    """Long-form attention weights: one row per (title word, body token) pair.

    The attention matrix has one more row than the title has words (the step that wrote the end
    marker); that row is left out, and only the `max_tokens` body tokens from `start` are kept.
    Title words are numbered and body tokens prefixed with their position, so repeated words stay
    apart; copied title words are starred, so the chart's labels show them.
    """
    rows = []
    for title_position, word in enumerate(title_words):
        label = f"{title_position + 1}. {word}" + (COPIED_MARK if copied[title_position] else "")
        for body_position, token in enumerate(body_tokens[start : start + max_tokens], start=start):
            rows.append(
                {
                    "title word": label,
                    "title position": title_position,
                    "word": word,
                    "body token": f"{body_position + 1} {token}",
                    "body position": body_position,
                    "token": token,
                    "weight": float(attention[title_position, body_position]),
                    "copied": bool(copied[title_position]),
                }
            )
    columns = ["title word", "title position", "word", "body token", "body position", "token", "weight", "copied"]
    return pd.DataFrame(rows, columns=columns)


def busiest_window(attention: np.ndarray, width: int = ATTENTION_TOKENS) -> int:
    """The first body position of the `width` tokens that hold the most attention, for a long body window."""
    columns = np.asarray(attention).sum(axis=0)
    if len(columns) <= width:
        return 0
    sums = np.convolve(columns, np.ones(width), mode="valid")
    return int(sums.argmax())


def attention_heatmap_chart(frame: pd.DataFrame) -> alt.Chart:
    """Title words (rows) × body tokens (columns), coloured by attention weight.

    Every body token is labelled (the labels are rotated and drop their position prefix), and
    copied title words are labelled in bold red with a star.
    """
    title_order = frame.drop_duplicates("title word").sort_values("title position")["title word"].tolist()
    body_order = frame.drop_duplicates("body token").sort_values("body position")["body token"].tolist()
    copied_label = f"indexof(datum.value, '{COPIED_MARK.strip()}') >= 0"
    return (
        alt.Chart(frame)
        .mark_rect(stroke="white", strokeWidth=0.5)
        .encode(
            x=alt.X(
                "body token:N",
                sort=body_order,
                title=f"body tokens the model read (at most {ATTENTION_TOKENS} at a time)",
                axis=alt.Axis(
                    labelAngle=-60,
                    labelAlign="right",
                    labelOverlap=False,
                    labelFontSize=11,
                    labelLimit=110,
                    labelExpr="slice(datum.value, indexof(datum.value, ' ') + 1)",
                    ticks=False,
                ),
            ),
            y=alt.Y(
                "title word:N",
                sort=title_order,
                title=None,
                axis=alt.Axis(
                    labelFontSize=12,
                    labelLimit=220,
                    labelOverlap=False,
                    ticks=False,
                    labelColor=alt.condition(copied_label, alt.value(HIGHLIGHT_COLOUR), alt.value(LABEL_GREY)),
                    labelFontWeight=alt.condition(copied_label, alt.value("bold"), alt.value("normal")),
                ),
            ),
            color=alt.Color(
                "weight:Q",
                scale=alt.Scale(range=ATTENTION_RANGE, domain=[0, 1], type="sqrt"),
                legend=alt.Legend(title="attention", orient="right", gradientLength=120, format=".1f"),
            ),
            tooltip=[
                alt.Tooltip("word:N", title="title word"),
                alt.Tooltip("token:N", title="body token"),
                alt.Tooltip("body position:O", title="body position"),
                alt.Tooltip("weight:Q", title="attention", format=".3f"),
                alt.Tooltip("copied:N", title="copied from the body"),
            ],
        )
        .properties(height=alt.Step(24))
        .configure_view(strokeWidth=0)
    )
