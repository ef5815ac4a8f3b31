"""Whether the OpenAPI fuzzing (tests/test_fuzz_openapi.py) got past routing and auth: some
GET answered 200 and some POST was refused 400.

The fuzzing runs spread over the test processes, so no one test process sees all it did. Each
xdist worker hands its status codes to the controller when it finishes; the controller (or
the one process of ``-n 0``) judges the union once every test has run, and fails the session
if the fuzzing ran but never reached a handler.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict

import pytest

_KEY = "openapi_fuzz_seen"
_FROM_WORKERS: defaultdict[str, set[int]] = defaultdict(set)


def _seen_here() -> dict[str, set[int]]:
    fuzz = sys.modules.get("tests.test_fuzz_openapi")
    return dict(fuzz.SEEN) if fuzz is not None else {}


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    output = getattr(node, "workeroutput", {})
    for method, codes in json.loads(output.get(_KEY, "{}")).items():
        _FROM_WORKERS[method].update(codes)


@pytest.hookimpl(trylast=True)  # after xdist has taken its workers down (pytest_testnodedown)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    seen = _seen_here()
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller judges
        workeroutput[_KEY] = json.dumps({method: sorted(codes) for method, codes in seen.items()})
        return
    for method, codes in _FROM_WORKERS.items():
        seen.setdefault(method, set()).update(codes)
    if not seen:
        return  # the fuzzing did not run (deselected)
    if not (200 in seen.get("GET", set()) and 400 in seen.get("POST", set())):
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = f"the OpenAPI fuzzing never reached a handler (GET 200 and POST 400): {seen}"
        if reporter is not None:
            reporter.write_line(f"FAILED {message}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
