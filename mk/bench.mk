# Benchmarks (issue 5). Figures and the commands that produced them: docs/performance.md.
#   make bench                every benchmark comparison with its ratio; rewrites the tables in docs/performance.md (creates the ocbench accounts)
#   make test-bench-smoke     the benchmarks at tiny sizes: the harness works and both sides produce the same document
# BENCH_ONLY=engine,module,users-profile,fleet,fleet-developers,growth picks parts of `make bench`;
# BENCH_WRITE_DOC=0 keeps the doc as is; BENCH_ROUNDS (default 3) repeats the fleet's floor and re-runs.
.PHONY: bench test-bench-smoke
bench: collection
	PYTHON=$(BIN)/python bench/run.sh full

test-bench-smoke: collection
	PYTHON=$(BIN)/python bench/run.sh smoke
