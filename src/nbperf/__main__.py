"""``python -m nbperf`` runs the command line."""

import sys

from nbperf.cli import main

sys.exit(main())
