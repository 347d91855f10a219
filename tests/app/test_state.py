"""`app_state` helpers, run inside tiny Streamlit scripts."""

from streamlit.testing.v1 import AppTest

from issue_summarizer.app.text_display import escape_markdown


def test_friendly_errors_turn_failures_into_messages():
    def script():
        import streamlit as st

        from issue_summarizer.app.state import friendly_errors
        from issue_summarizer.data.loading import DataLoadError

        with friendly_errors("reading"):
            raise DataLoadError("data.csv: the file is empty")
        with friendly_errors("adding"):
            raise ZeroDivisionError("division by zero")
        # Messages quote uploads (their column names): shown as text, never rendered as markdown.
        with friendly_errors("loading"):
            raise DataLoadError("up.csv: no body column; the file has columns ['![x](http://example.com/t.png)']")
        st.write("still running")

    app = AppTest.from_function(script).run()
    assert not app.exception
    assert [error.value for error in app.error] == [
        escape_markdown("data.csv: the file is empty"),
        escape_markdown("Something went wrong while adding: ZeroDivisionError: division by zero"),
        escape_markdown("up.csv: no body column; the file has columns ['![x](http://example.com/t.png)']"),
    ]
    # The image syntax arrives escaped, so the browser shows it as text and fetches nothing.
    assert r"\!\[x\]\(http" in app.error[2].value
    assert app.markdown[0].value == "still running"


def test_progress_bar_follows_counts():
    def script():
        from issue_summarizer.app.state import ProgressBar

        bar = ProgressBar(4, "{done} of {total}")
        bar(1)
        bar(2)
        finished = ProgressBar(2, "{done} of {total}", "Scoring…")
        finished(2)

    app = AppTest.from_function(script).run()
    assert not app.exception
    assert [bar.proto.text for bar in app.get("progress")] == ["3 of 4", "Scoring…"]


def test_data_path_follows_the_environment_and_the_sidebar(monkeypatch, tmp_path):
    def script():
        import streamlit as st

        from issue_summarizer.app import state as app_state

        app_state.render_sidebar()
        st.write(f"data={app_state.data_path()!r} usable={app_state.usable_data_path()!r}")

    monkeypatch.setenv("ISSUE_SUMMARIZER_MODEL", str(tmp_path / "no_model"))
    monkeypatch.setenv("ISSUE_SUMMARIZER_DATA", "")
    app = AppTest.from_function(script).run()
    assert app.main.markdown[-1].value == "data='' usable=None"
    assert "No usable model" in app.sidebar.markdown[1].value
    existing = tmp_path / "issues.csv"
    existing.write_text("title,body\na,b\n")
    app.text_input(key="data_path").set_value(str(existing)).run()
    assert app.main.markdown[-1].value == f"data='{existing}' usable='{existing}'"
    # The text box shows only the start of a long path; the caption below it names the whole file.
    caption = app.sidebar.caption[-1].value
    assert caption == app_state_caption(existing) and escape_markdown(str(existing)) in caption
    app.text_input(key="data_path").set_value(str(tmp_path / "missing.csv")).run()
    assert "No such file" in app.sidebar.warning[0].value


def app_state_caption(path) -> str:
    from issue_summarizer.app.state import data_file_caption

    return data_file_caption(str(path), "0.0 kB")


def test_paths_recorded_by_commands_are_named_as_the_sidebar_names_the_data_file(monkeypatch, tmp_path):
    from issue_summarizer.app import data_sources
    from issue_summarizer.app import state as app_state

    monkeypatch.delenv("ISSUE_SUMMARIZER_SHARED", raising=False)
    # `train` ran from the repository root and recorded the corpus relative to it.
    recorded = "../shared/data/github_issues.jsonl.gz"
    assert app_state.show_recorded_path(recorded) == str(data_sources.REPOSITORY_ROOT.parent / recorded[3:])
    assert app_state.show_recorded_path(recorded) == app_state.show_path(data_sources.DEFAULT_DATA_PATH)
    assert app_state.show_recorded_path(tmp_path / "x.csv") == str(tmp_path / "x.csv")
    # A shared server names the file without its location, on the page as in the sidebar.
    monkeypatch.setenv("ISSUE_SUMMARIZER_SHARED", "1")
    monkeypatch.setenv("ISSUE_SUMMARIZER_DATA_DIR", str(tmp_path))
    assert app_state.show_recorded_path(tmp_path / "data" / "x.csv") == "data/x.csv"


def test_a_shared_server_does_not_lend_its_github_token_to_visitors(monkeypatch):
    from issue_summarizer.app import state as app_state

    monkeypatch.setenv("GITHUB_TOKEN", "ghp_operator")
    monkeypatch.setenv("GITHUB_API_URL", "https://ghe.example.com/api/v3")
    monkeypatch.delenv("ISSUE_SUMMARIZER_SHARED", raising=False)
    assert app_state.github_settings().token == "ghp_operator"
    assert app_state.github_settings().token_allowed
    monkeypatch.setenv("ISSUE_SUMMARIZER_SHARED", "1")
    settings = app_state.github_settings()
    assert settings.token is None and settings.api_url == "https://ghe.example.com/api/v3"
    # So that GitHub's messages do not tell a visitor to set a token the server will not use.
    assert not settings.token_allowed


def test_a_map_of_too_few_issues_is_shown_as_a_plain_message():
    def script():
        from issue_summarizer.app.state import friendly_errors
        from issue_summarizer.scale.similarity import check_map_size

        with friendly_errors("preparing the issues to map"):
            check_map_size(3, "few.csv")

    app = AppTest.from_function(script).run()
    assert not app.exception
    assert [error.value for error in app.error] == [
        escape_markdown(
            "few.csv: a map needs at least 10 issues with a readable body, and there are 3. "
            "Add more issues and try again."
        )
    ]


def test_title_lengths_count_only_rows_that_have_a_title():
    import pandas as pd

    from issue_summarizer.app import state as app_state
    from tests.conftest import REPO_ROOT

    bodies = ["The parser crashes with a segmentation fault on start."] * 4
    frame = pd.DataFrame({"body": bodies, "title": ["", "Parser crash on start", "  ", ""]})
    histograms = app_state._frame_histograms(str(REPO_ROOT / "model"), frame, sample=100)
    assert histograms["body"].total == 4
    assert histograms["title"].total == 1 and 0 not in histograms["title"].counts
    untitled = app_state._frame_histograms(str(REPO_ROOT / "model"), frame.assign(title=""), sample=100)
    assert set(untitled) == {"body"}  # The Lengths page then says the data has no titles.
    assert set(app_state._frame_histograms(str(REPO_ROOT / "model"), frame[["body"]], sample=100)) == {"body"}
