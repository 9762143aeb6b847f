"""atdata 0.7's pluggable logger: configure_logging, get_logger, log_operation."""

from __future__ import annotations

import logging

import pytest

import atdata


class Recorder:
    def __init__(self):
        self.lines = []

    def _log(self, level):
        return lambda msg, *args, **kw: self.lines.append((level, msg % args))

    def __getattr__(self, level):
        if level in ("debug", "info", "warning", "error"):
            return self._log(level)
        raise AttributeError(level)


@pytest.fixture
def recorder():
    rec = Recorder()
    before = atdata.get_logger()
    atdata.configure_logging(rec)
    yield rec
    atdata.configure_logging(before)


def test_default_is_the_stdlib_atdata_logger():
    assert atdata.get_logger() is logging.getLogger("atdata")


def test_log_operation_reports_start_end_and_failure(recorder):
    with atdata.log_operation("copy", shards=3):
        pass
    assert recorder.lines[0] == ("info", "copy started (shards=3)")
    assert recorder.lines[1][0] == "info" and recorder.lines[1][1].startswith("copy finished in ")
    with pytest.raises(RuntimeError):
        with atdata.log_operation("verify"):
            raise RuntimeError("boom")
    assert recorder.lines[-1][0] == "error" and "verify failed after" in recorder.lines[-1][1]


def test_a_logger_without_the_methods_is_refused():
    with pytest.raises(TypeError, match="no debug, info, warning, error"):
        atdata.configure_logging(object())


def test_index_writes_are_reported(recorder, tmp_path):
    from conftest import TextSample

    index = atdata.Index(path=str(tmp_path / "i.db"), data_store=atdata.LocalDiskStore(root=str(tmp_path / "d")))
    index.write_samples([TextSample(text="a", language="en", word_count=1)], name="docs")
    assert recorder.lines[0] == ("info", "write_samples started (name=docs)")
    assert recorder.lines[1][1].startswith("write_samples finished in ")


def test_nothing_is_printed_unless_the_application_configures_logging(tmp_path):
    from conftest import run_py

    code = (
        "import atdata\n"
        "try:\n"
        "    with atdata.log_operation('write_samples'):\n"
        "        raise ValueError('x')\n"
        "except ValueError:\n"
        "    pass\n"
    )
    p = run_py(code)
    assert p.returncode == 0 and p.stderr == "", p.stderr
