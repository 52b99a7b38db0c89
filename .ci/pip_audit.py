"""Supply-chain check for CI: audit the project's installed dependencies with pip-audit.

Usage (from .ci/run)::

    .venv-audit/bin/python .ci/pip_audit.py --env .venv

* pip-audit runs from its own virtualenv and audits the *project's* environment
  (``pip freeze`` of ``--env``, editable salesml excluded) against the PyPI
  vulnerability data (OSV with ``--service osv``).
* Every known vulnerability fails the check unless ``.ci/pip-audit-ignore.txt``
  lists its id with a reason (``ID  reason``); an entry without a reason is an
  error, and entries that no longer match anything are reported as stale.
* If the vulnerability service cannot be reached, or answers for too few
  packages to mean anything, the check says so in a loud WARNING and exits 0:
  an audit that could not run is reported, never passed silently.
  ``SALESML_AUDIT_STRICT=1`` turns that warning into a failure.
* ``--report FILE`` evaluates an existing pip-audit JSON report instead of
  running pip-audit (used by the tests).

Exit codes: 0 clean (or audit impossible, with a warning), 1 unexplained
vulnerabilities or a broken ignore file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: Below this share of audited packages the result is not an audit.
MIN_AUDITED_SHARE = 0.5


def read_ignores(path: Path) -> dict[str, str]:
    """``{vulnerability id: reason}`` from the ignore file; raises ValueError for entries without a reason."""
    ignores: dict[str, str] = {}
    if not path.is_file():
        return ignores
    for number, raw in enumerate(path.read_text("utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        if len(parts) < 2 or not parts[1].strip():
            raise ValueError(f"{path}:{number}: '{parts[0]}' has no reason. Write `ID  why it does not affect salesml`.")
        ignores[parts[0]] = parts[1].strip()
    return ignores


def evaluate(report: dict, ignores: dict[str, str]) -> tuple[int, list[str]]:
    """(exit code, lines to print) for a pip-audit JSON report."""
    deps = report.get("dependencies", [])
    audited = [d for d in deps if "skip_reason" not in d]
    lines: list[str] = []
    findings, explained, seen = [], [], set()
    for dep in audited:
        for vuln in dep.get("vulns", []):
            ids = {vuln["id"], *vuln.get("aliases", [])}
            seen |= ids
            fix = ", ".join(vuln.get("fix_versions", [])) or "no fix released"
            text = f"{dep['name']} {dep['version']}: {vuln['id']} (fixed in: {fix})"
            hit = sorted(ids & set(ignores))
            (explained if hit else findings).append(text + (f" -- ignored: {ignores[hit[0]]}" if hit else ""))
    for line in explained:
        lines.append(f"pip-audit: known and explained: {line}")
    for stale in sorted(set(ignores) - seen):
        lines.append(f"pip-audit: note: ignore entry {stale} matches nothing installed any more; remove it.")
    share = len(audited) / len(deps) if deps else 0.0
    if deps and share < MIN_AUDITED_SHARE:
        skipped = len(deps) - len(audited)
        lines.append(
            f"WARNING: pip-audit could audit only {len(audited)} of {len(deps)} packages ({skipped} skipped, e.g. "
            f"'{next(d['skip_reason'] for d in deps if 'skip_reason' in d)}'). The vulnerability service is "
            "unreachable or incomplete from here: dependencies were NOT audited."
        )
        code = 1 if os.environ.get("SALESML_AUDIT_STRICT") == "1" else 0
        if findings:
            code = 1
    else:
        code = 1 if findings else 0
        lines.append(f"pip-audit: {len(audited)} packages audited, {len(findings)} unexplained and {len(explained)} explained vulnerabilities.")
    for line in findings:
        lines.append(f"pip-audit: UNEXPLAINED vulnerability: {line}. Upgrade, or explain it in .ci/pip-audit-ignore.txt.")
    return code, lines


def run_pip_audit(env: Path, service: str) -> dict | None:
    """Run pip-audit on ``env``'s installed packages; None (after a warning) when it could not run.

    Ignored ids are not passed to pip-audit: the report keeps them, so explained
    findings are printed and stale ignore entries noticed.
    """
    python = env / "bin" / "python"
    frozen = subprocess.run([str(python), "-m", "pip", "freeze", "--exclude-editable"], capture_output=True, text=True, check=True)
    with tempfile.TemporaryDirectory() as tmp:
        reqs, out = Path(tmp) / "requirements.txt", Path(tmp) / "audit.json"
        reqs.write_text("\n".join(line for line in frozen.stdout.splitlines() if "==" in line) + "\n")
        cmd = [sys.executable, "-m", "pip_audit", "-r", str(reqs), "--no-deps", "--disable-pip", "--progress-spinner", "off",
               "-s", service, "-f", "json", "-o", str(out)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if out.is_file() and out.stat().st_size:
            return json.loads(out.read_text())
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
    print(f"WARNING: pip-audit could not run (exit {proc.returncode}: {tail[0][:300]}). "
          "The vulnerability service is probably unreachable: dependencies were NOT audited.")
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", type=Path, default=Path(".venv"), help="virtualenv whose packages are audited")
    parser.add_argument("--ignore-file", type=Path, default=HERE / "pip-audit-ignore.txt")
    parser.add_argument("--service", default="pypi", choices=["pypi", "osv"])
    parser.add_argument("--report", type=Path, help="evaluate this pip-audit JSON report instead of running pip-audit")
    args = parser.parse_args(argv)
    try:
        ignores = read_ignores(args.ignore_file)
    except ValueError as err:
        print(f"pip-audit: {err}")
        return 1
    report = json.loads(args.report.read_text()) if args.report else run_pip_audit(args.env, args.service)
    if report is None:
        return 1 if os.environ.get("SALESML_AUDIT_STRICT") == "1" else 0
    code, lines = evaluate(report, ignores)
    print("\n".join(lines))
    return code


if __name__ == "__main__":
    sys.exit(main())
