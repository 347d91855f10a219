"""The app's support, step 9: Streamlit state and caches, charts, text display, deployment
settings, data sources, examples and `warm-cache`. The pages in `app_pages/` only describe the UI."""
