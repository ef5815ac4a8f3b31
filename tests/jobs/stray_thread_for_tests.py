"""Import with MX_JOB_MODULES=tests.jobs.stray_thread_for_tests: starts a thread (not a daemon)
that never ends, as a database connection the shutdown could not close would be."""

from __future__ import annotations

import threading

threading.Thread(target=threading.Event().wait, name="stray-for-tests").start()
