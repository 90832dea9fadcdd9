"""CI's short load-and-fault proof (benchmarks/loadproof.py --short): 5 new supporters a second
for 20 s through the production topology, one worker SIGKILLed, SendGrid failing for 10 s.
Any lost, duplicated, stranded, unconfirmed-but-sent or misaddressed letter, or any 5xx,
fails it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.processes, pytest.mark.once]

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "loadproof.py"


def test_the_short_load_proof_loses_nothing_and_sends_nothing_twice(capsys):
    spec = importlib.util.spec_from_file_location("loadproof", BENCHMARK)
    assert spec is not None and spec.loader is not None
    loadproof = importlib.util.module_from_spec(spec)
    sys.modules["loadproof"] = loadproof  # its dataclasses look their module up there
    spec.loader.exec_module(loadproof)
    status = loadproof.main(["--short"])
    printed = capsys.readouterr().out
    assert "SUMMARY" in printed, printed
    assert status == 0, printed
