import sys

from popchoice_discovery.app import main

sys.exit(main())
