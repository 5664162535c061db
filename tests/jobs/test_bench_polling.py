"""The bench's polling workers: started, waited for, and never stopped by their own log."""

from __future__ import annotations

import os
import sys

from jobs.bench import polling

# Says it polls, then logs far more than a pipe holds (64 KiB), as a worker
# does over a few hundred chunks, and ends.
CHATTY = ("import sys; print('looking for work', file=sys.stderr, flush=True); "
          "sys.stderr.write('a chunk done\\n' * 100_000); sys.stderr.flush()")


def test_a_worker_logging_more_than_a_pipe_holds_goes_on() -> None:
    with polling([sys.executable, "-c", CHATTY], 2, dict(os.environ)) as procs:
        assert [p.wait(timeout=30) for p in procs] == [0, 0]
