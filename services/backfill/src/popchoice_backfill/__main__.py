import sys

from popchoice_backfill.app import main

sys.exit(main())
