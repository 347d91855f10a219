import pandas as pd

from issue_summarizer.app import charts


def layer_marks(chart) -> list[str]:
    spec = chart.to_dict()
    return [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"] for layer in spec["layer"]]


def test_training_curves():
    history = pd.DataFrame(
        {"epoch": [1, 2, 1, 2], "series": ["training"] * 2 + ["validation"] * 2, "loss": [3, 2, 3, 3]}
    )
    assert layer_marks(charts.training_curves_chart(history)) == ["line", "point"]


def test_length_charts_mark_the_pad_length():
    frame = pd.DataFrame({"length": [1, 2, 3], "documents": [5, 3, 1]})
    assert layer_marks(charts.length_histogram_chart(frame, 2, "body")) == ["bar", "rule"]
    assert charts.length_histogram_chart(frame, None, "body").to_dict()["mark"]["type"] == "bar"
    curve = pd.DataFrame({"length": [1, 2, 3], "coverage": [0.5, 0.9, 1.0]})
    assert layer_marks(charts.coverage_chart(curve, 2, "title")) == ["area", "rule"]


def test_length_charts_count_in_whole_numbers_and_keep_their_axis_titles_short():
    frame = pd.DataFrame({"length": [1, 2, 3, 1500], "documents": [5, 3, 1, 2]})
    bars = charts.length_histogram_chart(frame, 2, "body").to_dict()["layer"][0]["encoding"]
    # Counts and lengths are integers: no "2.0" ticks, thousands separated, bins a whole token wide.
    assert bars["y"]["axis"]["format"] == ",d" and bars["y"]["axis"]["tickMinStep"] == 1
    assert bars["x"]["axis"]["format"] == ",d" and bars["x"]["bin"]["minstep"] == 1
    curve = pd.DataFrame({"length": [1, 2, 3], "coverage": [0.5, 0.9, 1.0]})
    coverage = charts.coverage_chart(curve, 2, "title", 3).to_dict()["layer"][0]["encoding"]
    # The y-axis is as tall as the chart; the old title, "documents not truncated", was cut off.
    assert coverage["y"]["title"] == "not truncated" and coverage["x"]["axis"]["format"] == ",d"


def test_similarity_map_puts_other_last_in_grey_and_adds_the_query():
    points = pd.DataFrame(
        {
            "x": [0, 1, 2],
            "y": [0, 1, 2],
            "title": ["a", "b", "c"],
            "repo": ["r", "s", "t"],
            "group": ["r", "other", "s"],
        }
    )
    spec = charts.similarity_map_chart(points, "group", "repository").to_dict()
    scale = spec["encoding"]["color"]["scale"]
    assert scale["domain"][-1] == "other" and scale["range"][-1] == "#c7c7c7"
    query = pd.DataFrame({"x": [0.5], "y": [0.5], "label": ["your issue"]})
    assert layer_marks(charts.similarity_map_chart(points, "group", "repository", query)) == ["circle", "point"]


def test_the_map_view_leaves_far_outliers_out():
    # 95 points in [0, 94] and a distant group of 5: the view skips the gap.
    values = pd.Series([float(value) for value in range(95)] + [10_000.0 + value for value in range(5)])
    low, high = charts.core_domain(values)
    assert -10 < low < 0 and 94 < high < 110
    points = pd.DataFrame({"x": values, "y": values})
    assert charts.points_outside_view(points) == 5


def test_attention_frame_and_heatmap():
    import numpy as np

    from issue_summarizer.app.charts import attention_frame, attention_heatmap_chart

    weights = np.array([[0.7, 0.3], [0.1, 0.9], [0.5, 0.5]])  # The last row is the end marker's step.
    frame = attention_frame(["foo_bar()", "fails"], ["foo_bar()", "fails"], weights, [True, False])
    assert len(frame) == 4 and frame["weight"].tolist() == [0.7, 0.3, 0.1, 0.9]
    assert frame["title word"].iloc[0].endswith("★") and not frame["title word"].iloc[2].endswith("★")
    spec = attention_heatmap_chart(frame).to_dict()
    encoding = spec["encoding"]
    assert spec["mark"]["type"] == "rect" and encoding["color"]["field"] == "weight"
    assert encoding["x"]["field"] == "body token" and encoding["y"]["field"] == "title word"
    assert encoding["y"]["sort"] == ["1. foo_bar() ★", "2. fails"]
    # Every body token is labelled, rotated, without its position prefix.
    axis = encoding["x"]["axis"]
    assert axis["labelOverlap"] is False and axis["labelAngle"] != 0 and "slice" in axis["labelExpr"]
    # Copied title words are labelled in another colour and in bold.
    y_axis = encoding["y"]["axis"]
    assert (
        "★" in y_axis["labelColor"]["condition"]["test"] and y_axis["labelFontWeight"]["condition"]["value"] == "bold"
    )
    titles = {item.get("title", item["field"]) for item in encoding["tooltip"]}
    assert {"title word", "body token", "attention"} <= titles


def test_attention_frame_draws_at_most_the_first_tokens_in_order():
    import numpy as np

    from issue_summarizer.app.charts import ATTENTION_TOKENS, attention_frame, attention_heatmap_chart

    tokens = [f"t{index}" for index in range(120)]
    tokens[5] = tokens[6] = "the"  # Repeated tokens stay separate columns.
    weights = np.full((3, 120), 1 / 120)
    frame = attention_frame(tokens, ["a", "b"], weights, [False, False])
    assert frame["body position"].max() == ATTENTION_TOKENS - 1 == 69
    assert frame["body token"].nunique() == ATTENTION_TOKENS and not frame["copied"].any()
    order = attention_heatmap_chart(frame).to_dict()["encoding"]["x"]["sort"]
    assert order[:3] == ["1 t0", "2 t1", "3 t2"] and order[9:11] == ["10 t9", "11 t10"]
    assert order[5:7] == ["6 the", "7 the"]
    assert attention_frame(tokens, [], np.zeros((1, 120)), []).empty


def test_a_long_body_window_is_drawn_from_where_the_model_looked_most():
    import numpy as np

    from issue_summarizer.app.charts import attention_frame, busiest_window

    tokens = [f"t{index}" for index in range(250)]
    weights = np.zeros((3, 250))
    weights[:, 180] = 1.0
    start = busiest_window(weights[:2])
    assert start <= 180 < start + 70
    frame = attention_frame(tokens, ["a", "b"], weights, [False, False], start=start)
    assert frame["body position"].min() == start and frame["body position"].max() == start + 69
    assert frame.loc[frame["body position"] == 180, "token"].unique().tolist() == ["t180"]
    assert busiest_window(np.ones((2, 30))) == 0
