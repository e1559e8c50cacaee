"""``python -m autograd ...`` runs the ``chaingrad`` command."""

import sys

from .cli import main

sys.exit(main())
