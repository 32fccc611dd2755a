"""Every Python process started with this folder on PYTHONPATH moves into a fresh empty folder
and notes it in $HANDOFF_TEST_CWD_LOG: each step process of a multiprocess run (spawned, so a new
interpreter) then works in a directory of its own that holds nothing."""

import os
import tempfile

_log = os.environ.get("HANDOFF_TEST_CWD_LOG")
if _log:
    _dir = tempfile.mkdtemp(prefix="step-cwd-")
    os.chdir(_dir)
    with open(_log, "a") as handle:
        handle.write(f"{os.getpid()} {_dir}\n")
