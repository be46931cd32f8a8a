import sys

from popchoice_recommender.app import main

sys.exit(main())
