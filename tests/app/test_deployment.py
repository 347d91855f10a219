from pathlib import Path

import pytest

from issue_summarizer.app.deployment import (
    DataAccessError,
    Deployment,
    default_cache_directory,
    is_shared,
)
from issue_summarizer.atomic_files import write_atomically


@pytest.fixture
def served(tmp_path: Path) -> Deployment:
    """A shared-mode deployment whose data directory holds two files, a subfolder, and links in and out."""
    data = tmp_path / "data"
    (data / "more").mkdir(parents=True)
    (data / "issues.jsonl.gz").write_bytes(b"")
    (data / "more" / "extra.csv").write_text("title,body\n")
    (data / "notes.txt").write_text("not a data file")
    secret = tmp_path / "private.csv"
    secret.write_text("title,body\nsecret,secret\n")
    (data / "escape.csv").symlink_to(secret)
    (data / "alias.csv").symlink_to(data / "more" / "extra.csv")
    return Deployment(shared=True, data_directory=data.resolve(), cache_directory=tmp_path / "cache")


def test_shared_mode_is_one_setting():
    assert not is_shared({})
    assert not is_shared({"ISSUE_SUMMARIZER_SHARED": "0"})
    assert is_shared({"ISSUE_SUMMARIZER_SHARED": "1"}) and is_shared({"ISSUE_SUMMARIZER_SHARED": " True "})
    settings = Deployment.from_environment({"ISSUE_SUMMARIZER_SHARED": "yes", "ISSUE_SUMMARIZER_DATA_DIR": "/srv/d"})
    assert settings.shared and settings.data_directory == Path("/srv/d").resolve()


def test_shared_mode_reads_files_inside_the_data_directory(served):
    assert served.resolve_data_path("issues.jsonl.gz") == served.data_directory / "issues.jsonl.gz"
    assert served.resolve_data_path(" more/extra.csv ") == served.data_directory / "more" / "extra.csv"
    assert served.resolve_data_path(str(served.data_directory / "issues.jsonl.gz")).name == "issues.jsonl.gz"
    # A link that stays inside the directory is fine.
    assert served.resolve_data_path("alias.csv") == served.data_directory / "more" / "extra.csv"


@pytest.mark.parametrize(
    ("requested", "message"),
    [
        ("../private.csv", "'..' is not allowed"),
        ("more/../../private.csv", "'..' is not allowed"),
        ("more/../issues.jsonl.gz", "'..' is not allowed"),
        ("/etc/passwd", "only files in the demo's data directory"),
        ("~/.ssh/id_rsa", "home directories are not readable"),
        ("escape.csv", "escape.csv: links to a file outside the data directory"),
        ("missing.csv", "missing.csv: no such data file"),
        ("more", "more: no such data file"),
    ],
)
def test_shared_mode_refuses_paths_that_leave_the_data_directory(served, requested, message):
    with pytest.raises(DataAccessError, match=message) as refusal:
        served.resolve_data_path(requested)
    assert str(served.data_directory) not in str(refusal.value)


def test_an_absolute_path_through_a_link_that_leaves_is_refused(served):
    with pytest.raises(DataAccessError, match="links to a file outside"):
        served.resolve_data_path(str(served.data_directory / "escape.csv"))


def test_shared_mode_without_a_data_directory_offers_uploads_only(tmp_path):
    settings = Deployment(shared=True, data_directory=None, cache_directory=tmp_path)
    assert settings.data_files() == []
    with pytest.raises(DataAccessError, match="upload a file instead"):
        settings.resolve_data_path("issues.jsonl.gz")


def test_local_mode_takes_any_path(tmp_path):
    settings = Deployment(shared=False, data_directory=None, cache_directory=tmp_path)
    assert settings.resolve_data_path("../anything.csv") == Path("../anything.csv")
    assert settings.show_path("/srv/data/issues.jsonl.gz") == "/srv/data/issues.jsonl.gz"
    assert settings.redact("/srv/model: missing", [Path("/srv/model")]) == "/srv/model: missing"


def test_only_data_files_that_stay_inside_are_offered(served):
    assert served.data_files() == ["alias.csv", "issues.jsonl.gz", "more/extra.csv"]


def test_the_file_list_stops_at_its_cap_and_does_not_follow_folder_links(tmp_path, monkeypatch):
    import issue_summarizer.app.deployment as deployment

    data = tmp_path / "data"
    for folder in ("a", "b"):
        (data / folder).mkdir(parents=True)
        for index in range(3):
            (data / folder / f"{index}.csv").write_text("title,body\n")
    (data / "loop").symlink_to(data, target_is_directory=True)
    monkeypatch.setattr(deployment, "MAX_LISTED_FILES", 4)
    settings = Deployment(shared=True, data_directory=data.resolve(), cache_directory=tmp_path / "cache")
    assert settings.data_files() == ["a/0.csv", "a/1.csv", "a/2.csv", "b/0.csv"]


def test_shared_mode_shows_no_server_paths(served, tmp_path):
    assert served.show_path(served.data_directory / "more" / "extra.csv") == "more/extra.csv"
    assert served.show_path(tmp_path / "model") == "model"
    model = tmp_path / "models" / "model"
    message = f"{model}: not a complete model directory; missing {model / 'model.keras'} (also in {tmp_path})"
    redacted = served.redact(message, [model, tmp_path])
    assert redacted == f"model: not a complete model directory; missing model/model.keras (also in {tmp_path.name})"


def test_a_root_home_directory_does_not_stop_the_redaction(served):
    # Containers often run with HOME=/; the root has no name to shorten to, so it is left alone.
    message = "/srv/secret/upload-1234.csv: not a table"
    assert served.redact(message, [Path("/")]) == "upload-1234.csv: not a table"


def test_the_cache_defaults_to_the_platforms_user_cache_directory():
    assert default_cache_directory({"HOME": "/home/a"}, "linux") == Path("/home/a/.cache/issue-summarizer")
    assert default_cache_directory({"HOME": "/h", "XDG_CACHE_HOME": "/c"}, "linux") == Path("/c/issue-summarizer")
    assert default_cache_directory({"HOME": "/h"}, "darwin") == Path("/h/Library/Caches/issue-summarizer")
    windows = default_cache_directory({"HOME": "C:/u", "LOCALAPPDATA": "C:/u/AppData/Local"}, "win32")
    assert windows == Path("C:/u/AppData/Local/issue-summarizer/Cache")
    assert Deployment.from_environment({"ISSUE_SUMMARIZER_CACHE": "/tmp/c"}).cache_directory == Path("/tmp/c")


def test_write_atomically_leaves_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "sub" / "file.txt"
    write_atomically(path, lambda temporary: temporary.write_text("first"))

    def fail(temporary: Path) -> None:
        temporary.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(path, fail)
    assert path.read_text() == "first" and [item.name for item in path.parent.iterdir()] == ["file.txt"]


def test_write_atomically_leaves_a_file_others_can_read(tmp_path):
    path = write_atomically(tmp_path / "metrics.json", lambda temporary: temporary.write_text("{}"))
    assert path.stat().st_mode & 0o777 == 0o644
