"""``python -m benchmarks`` (from the repo root): the benchmark runner, see run.py."""

import sys

from benchmarks.run import main

sys.exit(main())
