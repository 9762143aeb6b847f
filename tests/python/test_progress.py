"""Progress: on stderr, only when stderr is a terminal (or forced), never on stdout; forced off a
terminal it is plain lines, never terminal control codes.

Each case runs a small write + read in a subprocess; a pseudo-terminal stands in for the
terminal. ``ATDATA_PROGRESS_DELAY`` sets how long an automatic bar waits before it appears
(default 1 s, so quick calls stay silent); the cases set it to 0 (or to an hour) so they do not
depend on how fast the machine is.
"""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import threading

import pytest

from conftest import REPO, text_samples

# Writes 3000 samples (list and generator), reads them back whole and breaks out of a second
# read after one batch. `PROGRESS` is substituted with None / True / False.
SCRIPT = """
import os, sys, tempfile
sys.path.insert(0, {tests!r})
from conftest import text_samples
import atdata

tmp = tempfile.mkdtemp()
index = atdata.Index(path=os.path.join(tmp, "index.db"),
                     data_store=atdata.LocalDiskStore(root=os.path.join(tmp, "data")))
entry = index.write_samples(text_samples(3000), name="docs", maxcount=1000, progress=PROGRESS)
gen = index.write_samples((s for s in text_samples(3000)), name="gen", progress=PROGRESS)
ds = index.load("docs")
n = sum(len(b) for b in ds.ordered(batch_size=100, progress=PROGRESS))
for b in ds.shuffled(batch_size=100, seed=1, progress=PROGRESS):
    break
plain = atdata.write_samples(text_samples(500), os.path.join(tmp, "plain.tar"), progress=PROGRESS)
print("written", entry.num_samples, gen.num_samples)
print("read", n)
"""

STDOUT = "written 3000 3000\nread 3000\n"


def _script(progress: str) -> str:
    return SCRIPT.format(tests=str(REPO / "tests" / "python")).replace("PROGRESS", progress)


def _env(**extra: str) -> dict:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("ATDATA_PROGRESS_DELAY", None)
    env.update(extra)
    return env


def _run_piped(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=_env(**env),
        stdin=subprocess.DEVNULL,
        timeout=300,
    )


def _run_with_tty_stderr(code: str, **env: str) -> tuple:
    """Runs `code` with stderr on a pseudo-terminal and stdout on a pipe; returns
    (returncode, stdout, what the terminal received)."""
    master, slave = pty.openpty()
    # An 80-column terminal, like most.
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    try:
        p = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=slave,
            env=_env(**env),
        )
    finally:
        os.close(slave)
    received: list = []

    def pump() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO once the child has closed its end
                break
            if not data:
                break
            received.append(data)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        assert p.stdout is not None
        out = p.stdout.read().decode()
        p.wait(timeout=300)
    finally:
        reader.join(timeout=60)
        os.close(master)
    return p.returncode, out, b"".join(received).decode(errors="replace")


def test_no_progress_when_stderr_is_a_pipe():
    p = _run_piped(_script("None"), ATDATA_PROGRESS_DELAY="0")
    assert p.returncode == 0, p.stderr
    assert p.stdout == STDOUT
    assert p.stderr == ""


def test_progress_on_a_terminal_and_stdout_stays_clean():
    code, out, tty = _run_with_tty_stderr(_script("None"), ATDATA_PROGRESS_DELAY="0")
    assert code == 0, tty
    assert out == STDOUT
    for what in ("writing docs", "writing gen", "reading docs", "writing plain"):
        assert what in tty, tty
    assert "3,000/3,000" in tty and "3,000 samples" in tty, tty
    assert "/s, " in tty  # rates
    # Bars are cleared when done: the last bar drawn is erased.
    assert "\x1b[2K" in tty[tty.rfind("writing plain") :], repr(tty[-300:])


def test_automatic_bar_waits_for_its_delay():
    code, out, tty = _run_with_tty_stderr(_script("None"), ATDATA_PROGRESS_DELAY="3600")
    assert code == 0, tty
    assert out == STDOUT
    assert tty == ""


def test_progress_false_is_silent_on_a_terminal():
    code, out, tty = _run_with_tty_stderr(_script("False"), ATDATA_PROGRESS_DELAY="0")
    assert code == 0, tty
    assert out == STDOUT
    assert tty == ""


def test_progress_true_draws_even_on_a_pipe():
    p = _run_piped(_script("True"), ATDATA_PROGRESS_DELAY="3600")
    assert p.returncode == 0, p.stderr
    assert p.stdout == STDOUT
    assert "writing docs" in p.stderr and "reading docs" in p.stderr
    assert "writing gen" in p.stderr and "samples" in p.stderr


def test_forced_progress_off_a_terminal_is_plain_lines_without_control_codes():
    p = _run_piped(_script("True"), ATDATA_PROGRESS_DELAY="0")
    assert p.returncode == 0, p.stderr
    assert p.stdout == STDOUT
    # A log file gets readable lines: no cursor moves, no line clearing, no carriage returns.
    assert "\x1b" not in p.stderr and "\r" not in p.stderr, repr(p.stderr)
    lines = p.stderr.splitlines()
    assert lines and all(line.startswith(("writing ", "reading ")) for line in lines), lines
    assert "writing docs 3,000/3,000 samples (" in p.stderr, p.stderr


@pytest.mark.parametrize("bad", ["yes", 1, 0.5])
def test_progress_argument_must_be_a_bool_or_none(index, bad):
    with pytest.raises(TypeError, match="progress"):
        index.write_samples(text_samples(2), name="docs", progress=bad)
    assert index.list_datasets() == []
    index.write_samples(text_samples(2), name="docs")
    with pytest.raises(TypeError, match="progress"):
        index.load("docs").ordered(progress=bad)
