import sys

from popchoice_catalog_seeder.app import main, worker_main

# `python -m popchoice_catalog_seeder worker` runs the stream worker; otherwise the one-shot seed.
if sys.argv[1:2] == ["worker"]:
    sys.exit(worker_main())
sys.exit(main())
