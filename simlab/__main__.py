"""``python -m simlab``: the command line (:func:`simlab.cli.main`)."""

import sys

from simlab.cli import main

sys.exit(main())
