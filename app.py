"""Issue Summarizer: the Streamlit app's entry point and router.

    streamlit run app.py

The model directory defaults to `model/` beside this file (`ISSUE_SUMMARIZER_MODEL`
overrides it) and the data file to the shared corpus (`ISSUE_SUMMARIZER_DATA` or the
sidebar). Each page lives in `app_pages/`; the logic they share is in `issue_summarizer/`.
The folder is deliberately not called `pages/`: Streamlit runs a `pages/` folder in its old
multipage mode, without this router, for a session whose first URL is a page's own.
"""

import streamlit as st

from issue_summarizer.app import state as app_state

st.set_page_config(page_title="Issue Summarizer", page_icon=":material/summarize:", layout="wide")

pages = [
    st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("app_pages/summarize.py", title="Summarize", icon=":material/edit_note:"),
    st.Page("app_pages/title_check.py", title="Title check", icon=":material/spellcheck:"),
    st.Page("app_pages/holdout_browser.py", title="Holdout browser", icon=":material/fact_check:"),
    st.Page("app_pages/lengths.py", title="Lengths", icon=":material/straighten:"),
    st.Page("app_pages/similar_issues.py", title="Similar issues", icon=":material/scatter_plot:"),
]
page = st.navigation(pages)
app_state.render_sidebar()
page.run()
