import sys

from popchoice_health_reporter.app import main

sys.exit(main())
