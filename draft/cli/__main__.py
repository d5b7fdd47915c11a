"""`python -m draft.cli`, the same as the `draft` command."""

import sys

from draft.cli import main

sys.exit(main())
