"""Run the command line as ``python -m dmfverify`` (the same as the ``dmfverify`` script)."""

import sys

from dmfverify.cli import main

sys.exit(main())
