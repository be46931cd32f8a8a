import sys

from popchoice_gateway.app import main

sys.exit(main())
