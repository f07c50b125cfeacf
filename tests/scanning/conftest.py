"""Fixtures for the scanning tests: where the shared barcode corpus is, and a place for the
corpus test to leave its per-symbology table for the terminal summary."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SUMMARY: list[str] = []


def corpus_dir() -> Path | None:
    """$SHARED_CORPUS (the folder holding expected.json), else ../shared/corpus/barcodes
    next to the repository."""
    candidates = [os.environ.get("SHARED_CORPUS", ""), str(REPO.parent / "shared" / "corpus" / "barcodes")]
    for candidate in candidates:
        if candidate and (Path(candidate) / "expected.json").is_file():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def corpus() -> tuple[Path, dict]:
    root = corpus_dir()
    if root is None:
        pytest.skip(
            "barcode corpus not found: set SHARED_CORPUS to the folder with expected.json "
            f"(looked in $SHARED_CORPUS and {REPO.parent / 'shared' / 'corpus' / 'barcodes'})"
        )
    return root, json.loads((root / "expected.json").read_text(encoding="utf-8"))


def pytest_terminal_summary(terminalreporter):
    if SUMMARY:
        terminalreporter.section("barcode corpus read rate")
        for line in SUMMARY:
            terminalreporter.write_line(line)
