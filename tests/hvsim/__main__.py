"""``PYTHONPATH=tests python -m hvsim serve --lab demo --state-dir DIR``."""

import sys

from hvsim.cli import main

sys.exit(main())
