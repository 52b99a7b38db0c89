"""The CI supply-chain gate: unexplained vulnerabilities fail, explained ones pass, an impossible audit is reported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[1] / ".ci" / "pip_audit.py"


def run(tmp_path: Path, report: dict, ignores: str = "", **env: str) -> subprocess.CompletedProcess:
    (tmp_path / "report.json").write_text(json.dumps(report))
    (tmp_path / "ignore.txt").write_text(ignores)
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--report", str(tmp_path / "report.json"), "--ignore-file", str(tmp_path / "ignore.txt")],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )


VULN = {"id": "GHSA-aaaa-bbbb-cccc", "aliases": ["CVE-2099-0001"], "fix_versions": ["2.0.1"], "description": "x"}
REPORT = {
    "dependencies": [
        {"name": "examplepkg", "version": "2.0.0", "vulns": [VULN]},
        {"name": "numpy", "version": "2.4.6", "vulns": []},
    ]
}


def test_an_unexplained_vulnerability_fails(tmp_path):
    res = run(tmp_path, REPORT)
    assert res.returncode == 1
    assert "UNEXPLAINED vulnerability: examplepkg 2.0.0: GHSA-aaaa-bbbb-cccc (fixed in: 2.0.1)" in res.stdout


def test_an_explained_vulnerability_passes_and_is_printed(tmp_path):
    res = run(tmp_path, REPORT, "# comment\nCVE-2099-0001  only reachable through a feature salesml does not use\n")
    assert res.returncode == 0, res.stdout
    assert "known and explained: examplepkg 2.0.0: GHSA-aaaa-bbbb-cccc" in res.stdout
    assert "ignored: only reachable through a feature salesml does not use" in res.stdout
    assert "2 packages audited, 0 unexplained and 1 explained" in res.stdout


def test_an_ignore_entry_needs_a_reason_and_stale_ones_are_noted(tmp_path):
    res = run(tmp_path, REPORT, "GHSA-aaaa-bbbb-cccc\n")
    assert res.returncode == 1 and "'GHSA-aaaa-bbbb-cccc' has no reason" in res.stdout
    res = run(tmp_path, {"dependencies": [{"name": "numpy", "version": "2.4.6", "vulns": []}]}, "PYSEC-2000-1  old\n")
    assert res.returncode == 0 and "ignore entry PYSEC-2000-1 matches nothing installed any more" in res.stdout


@pytest.mark.parametrize("strict, code", [("0", 0), ("1", 1)])
def test_an_audit_that_could_not_run_is_a_loud_warning_not_a_silent_pass(tmp_path, strict, code):
    skipped = {"dependencies": [{"name": f"p{i}", "skip_reason": "Dependency not found on PyPI"} for i in range(9)]}
    skipped["dependencies"].append({"name": "numpy", "version": "2.4.6", "vulns": []})
    res = run(tmp_path, skipped, SALESML_AUDIT_STRICT=strict)
    assert res.returncode == code
    assert "WARNING: pip-audit could audit only 1 of 10 packages" in res.stdout and "were NOT audited" in res.stdout
