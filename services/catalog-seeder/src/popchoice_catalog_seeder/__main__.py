import sys

from popchoice_catalog_seeder.app import main

sys.exit(main())
