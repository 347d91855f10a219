"""Where the app runs: on its owner's laptop (local mode) or on a demo server for visitors (shared mode).

Local mode is the default and trusts whoever uses the app: the sidebar takes any data file
path and pages show where files live. Shared mode (`ISSUE_SUMMARIZER_SHARED=1`) is for a
server that strangers reach through a browser:

* Visitors pick data only from files inside one allowed directory
  (`ISSUE_SUMMARIZER_DATA_DIR`), or upload their own. Every path is resolved and checked:
  `..`, absolute paths outside the directory and symlinks that lead out of it are refused.
* No page shows an absolute server path: messages name files relative to the directory they
  live in (`model/`, `github_issues.jsonl.gz`).

In both modes the app never writes into the model directory. What it computes for visitors
(predictions of an evaluation, embeddings) goes to a cache directory
(`ISSUE_SUMMARIZER_CACHE`, by default the platform's user cache directory), written to a
temporary file and renamed into place, so two sessions never leave a torn file.

Nothing here imports Streamlit, so each rule is a plain function the tests call directly.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from issue_summarizer.data.loading import SUFFIXES, DataLoadError

SHARED_ENVIRONMENT_VARIABLE = "ISSUE_SUMMARIZER_SHARED"
DATA_DIRECTORY_ENVIRONMENT_VARIABLE = "ISSUE_SUMMARIZER_DATA_DIR"
CACHE_ENVIRONMENT_VARIABLE = "ISSUE_SUMMARIZER_CACHE"
APPLICATION_NAME = "issue-summarizer"
_TRUE = {"1", "true", "yes", "on"}
# Listing a data directory stops here, so a huge directory cannot stall the sidebar.
MAX_LISTED_FILES = 200
_ABSOLUTE_PATH = re.compile(r"(^|[\s'\"`(=])(/[^\s'\"`:),]+)")


class DataAccessError(DataLoadError):
    """A visitor asked for a file they may not read. The message says why without naming server paths."""


def is_shared(environment: Mapping[str, str] | None = None) -> bool:
    environment = os.environ if environment is None else environment
    return environment.get(SHARED_ENVIRONMENT_VARIABLE, "").strip().lower() in _TRUE


def default_cache_directory(environment: Mapping[str, str] | None = None, platform: str = sys.platform) -> Path:
    """The platform's user cache directory for this app, as `platformdirs.user_cache_dir` would choose it."""
    environment = os.environ if environment is None else environment
    home = Path(environment.get("HOME") or Path.home())
    if platform == "win32":
        base = Path(environment.get("LOCALAPPDATA") or home / "AppData" / "Local")
        return base / APPLICATION_NAME / "Cache"
    if platform == "darwin":
        return home / "Library" / "Caches" / APPLICATION_NAME
    base = environment.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else home / ".cache") / APPLICATION_NAME


@dataclass(frozen=True)
class Deployment:
    """The app's deployment settings, read once from the environment."""

    shared: bool
    data_directory: Path | None  # Resolved; in shared mode the only place data files may come from.
    cache_directory: Path

    @classmethod
    def from_environment(cls, environment: Mapping[str, str] | None = None) -> Deployment:
        environment = os.environ if environment is None else environment
        data_directory = environment.get(DATA_DIRECTORY_ENVIRONMENT_VARIABLE, "").strip()
        cache_directory = environment.get(CACHE_ENVIRONMENT_VARIABLE, "").strip()
        return cls(
            shared=is_shared(environment),
            data_directory=Path(data_directory).expanduser().resolve() if data_directory else None,
            cache_directory=(
                Path(cache_directory).expanduser() if cache_directory else default_cache_directory(environment)
            ),
        )

    def resolve_data_path(self, text: str) -> Path:
        """The file a visitor's data path names, or `DataAccessError` when shared mode forbids it.

        Local mode takes any path, as a command line would. Shared mode reads a path relative
        to the data directory and refuses everything that leaves it: `..`, absolute paths
        elsewhere, and symlinks whose target lies outside.
        """
        text = text.strip()
        if not self.shared:
            return Path(text).expanduser()
        if self.data_directory is None:
            raise DataAccessError(
                "This demo server offers no data files (no data directory is configured); upload a file instead."
            )
        requested = Path(text)
        if ".." in requested.parts:
            raise DataAccessError(f"{text}: '..' is not allowed here; choose one of the offered data files.")
        if text.startswith("~"):
            raise DataAccessError(f"{text}: home directories are not readable here; choose one of the offered files.")
        candidate = requested if requested.is_absolute() else self.data_directory / requested
        resolved = candidate.resolve()
        if not resolved.is_relative_to(self.data_directory):
            if requested.is_absolute() and not candidate.is_relative_to(self.data_directory):
                raise DataAccessError(f"{requested.name}: only files in the demo's data directory can be read.")
            raise DataAccessError(f"{self.relative_name(candidate)}: links to a file outside the data directory.")
        if not resolved.is_file():
            raise DataAccessError(f"{self.relative_name(candidate)}: no such data file in the data directory.")
        return resolved

    def relative_name(self, path: Path) -> str:
        """`path` relative to the data directory when it is inside, else its bare name."""
        if self.data_directory is not None and path.is_relative_to(self.data_directory):
            return path.relative_to(self.data_directory).as_posix()
        return path.name

    def data_files(self) -> list[str]:
        """The data files a shared-mode visitor may choose, relative to the data directory.

        Only files whose real location is inside the directory are offered, so a symlink that
        points out of it is never listed.
        """
        if self.data_directory is None or not self.data_directory.is_dir():
            return []
        names = []
        # The walk stops at the cap, so a huge directory costs no more than the files it lists;
        # linked folders are not entered, which also keeps a link loop from running forever.
        for root, folders, files in os.walk(self.data_directory):
            folders.sort()
            for name in sorted(files):
                path = Path(root, name)
                if name.lower().endswith(SUFFIXES) and path.is_file():
                    if path.resolve().is_relative_to(self.data_directory):
                        names.append(path.relative_to(self.data_directory).as_posix())
                        if len(names) >= MAX_LISTED_FILES:
                            return names
        return names

    def show_path(self, path: str | Path) -> str:
        """How a page names a file: as given in local mode, without its server location in shared mode."""
        if not self.shared:
            return str(path)
        return self.relative_name(Path(path).expanduser().resolve()) + ("/" if Path(path).is_dir() else "")

    def redact(self, text: str, paths: list[Path]) -> str:
        """`text` with each of `paths` (and anything under them) written without its server location.

        Error messages from the library name the files they are about. On a shared server
        those names are shortened to the part a visitor already knows.
        """
        if not self.shared:
            return text
        forms = {str(Path(path).expanduser()) for path in paths}
        forms |= {str(Path(path).expanduser().resolve()) for path in paths}
        # A root directory (a container's HOME=/, say) has no name: replacing it would delete every
        # slash and hide the absolute paths from the rule below.
        forms = {form for form in forms if Path(form).name}
        # Longest first, so that a directory's name does not replace part of a longer path inside it.
        for form in sorted(forms, key=len, reverse=True):
            text = text.replace(form, Path(form).name)
        # Any other absolute path (a temporary upload, a library file) keeps only its last part.
        return _ABSOLUTE_PATH.sub(lambda match: match.group(1) + Path(match.group(2)).name, text)
