# PointLens. `make run` opens the app; `make test` runs the whole suite headless.
# Both set everything up on first use (packaging/bootstrap.sh).
VENV  := .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.bootstrapped
# tcmalloc makes PyTorch's CPU allocations cheap (measured in tests/bench/bench_train.py).
TCMALLOC := $(firstword $(wildcard /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 /usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4))
RUNENV := $(if $(TCMALLOC),LD_PRELOAD=$(TCMALLOC))

.PHONY: run test bench demo-models lint package smoke clean upgrade-deps

$(STAMP): pyproject.toml packaging/bootstrap.sh packaging/constraints.txt
	bash packaging/bootstrap.sh
	touch $(STAMP)

run: $(STAMP)
	$(RUNENV) $(BIN)/pointlens

test: $(STAMP)
	$(BIN)/lint-imports
	$(RUNENV) $(BIN)/python -m pytest tests

bench: $(STAMP)
	$(BIN)/python -m pytest tests/bench -q -s -p no:cacheprovider --override-ini addopts=

demo-models: $(STAMP)
	$(RUNENV) bash assets/make_demo_models.sh

lint: $(STAMP)
	$(BIN)/lint-imports

# One-folder app in dist/pointlens/ (CPU torch; about 1.4 GB, 3-7 min on 2 cores). `make smoke`
# runs its self-test under a virtual display (not part of `make test`: it needs the build).
# LIGHT=1 leaves out ffmpeg and numba/llvmlite; the build prints what the bundle lacks and writes
# it into dist/pointlens/bundle-lacks.txt. Dry run: python packaging/bundle_contents.py [--light]
package: $(STAMP)
	$(BIN)/pip install -q -e ".[package]"
	LIGHT=$(LIGHT) $(BIN)/pyinstaller --noconfirm packaging/pointlens.spec
	@du -sh dist/pointlens

smoke:
	packaging/smoke

# Upgrade .venv to the newest versions pyproject.toml allows (the installed torch stays), then pin
# them in packaging/constraints.txt, which bootstrap.sh installs with. Run `make test` before
# committing the new constraints.
upgrade-deps: $(STAMP)
	$(BIN)/python -c "import torch; print('torch==' + torch.__version__)" > $(VENV)/.torch-pin
	$(BIN)/pip install -q --upgrade --upgrade-strategy eager -e ".[dev]" -c $(VENV)/.torch-pin
	bash packaging/freeze_constraints.sh
	@git diff --stat -- packaging/constraints.txt 2>/dev/null || true
	@echo "upgrade-deps: now run make test, then commit packaging/constraints.txt"

clean:
	rm -rf $(VENV) build dist .pytest_cache
