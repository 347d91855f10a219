"""GitHub, step 7: the REST client that fetches an issue's title and body. Batch mode and
the app both use it, so it sits below them both."""
