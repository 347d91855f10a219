"""Import TensorFlow and Keras without the lines their native code prints on start-up.

Those lines ("oneDNN custom operations are on ...", absl's "All log messages before
absl::InitializeLog() ...") would otherwise come before a command's own output or its one
`error:` line. The command line installs this hook before it runs a command, and each Ray Serve
replica before it loads the model. It sits under every step of the package, as it imports none.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Iterator
from types import ModuleType


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    """Send what native code writes to stderr (file descriptor 2) nowhere, for the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


class _QuietLoader(importlib.abc.Loader):
    """Runs another loader's module with native stderr silenced."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def __getattr__(self, name: str):
        # Everything else (resources, source, file names) as the real loader answers it.
        if name == "loader":
            raise AttributeError(name)  # Not set yet (a copy being made): no endless lookup.
        return getattr(self.loader, name)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with _stderr_silenced():
            self.loader.exec_module(module)


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Imports TensorFlow and Keras, when something first imports them, without their start-up lines.

    Their native libraries log through absl before it is initialized ("All log messages before
    absl::InitializeLog() ...", "oneDNN custom operations are on ..."), which TF_CPP_MIN_LOG_LEVEL
    does not reach, so every command that loads the model would print them before its own output
    or its one `error:` line. Only the import is silenced: an import that fails still raises its
    exception, and TensorFlow's later warnings (after TF_CPP_MIN_LOG_LEVEL applies) still show.
    oneDNN itself stays on (TF_ENABLE_ONEDNN_OPTS is left alone), so numbers do not change.
    """

    NAMES = ("tensorflow", "keras")

    def find_spec(self, name: str, path=None, target=None) -> importlib.machinery.ModuleSpec | None:
        if name not in self.NAMES:
            return None
        # Found by the other finders, with this one out of the way.
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _QuietLoader(spec.loader)
        return spec


def quiet_tensorflow_start_up() -> None:
    """Install `_QuietTensorFlowImport` (once); the command line does, before any command runs."""
    if not any(isinstance(finder, _QuietTensorFlowImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowImport())
