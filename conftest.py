"""Repository-wide pytest rules.

In CI (``CI=true``) every test must run: a skip there means a missing install
step or a missing browser, so it is turned into a failure instead of hiding.
"""

from __future__ import annotations

import os

import pytest

_IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if _IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"Skipped in CI, where every test must run: {reason}"
