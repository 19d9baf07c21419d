"""``python -m xpnn`` runs the ``xpnn`` command (``xpnn.cli``)."""

import sys

from .cli import main

sys.exit(main())
