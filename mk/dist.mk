# Distribution (issue 24): the Galaxy tarball, what checks it, the release command.
#   make dist                 the collection tarball (.build/dist/), from the files git tracks
#   make release              VERSION=x.y.z: bump, changelog, build and check the tarball, commit and tag (refuses a dirty tree, a version not greater, no fragment; docs/releasing.md)
#   make test-galaxy          Galaxy's importer (ansible-doc, ansible-lint) on the tarball, what ships
#   make test-installed       the tarball installed with ansible-galaxy, used from outside the clone
#   make test-platform-repo   docs/examples/platform-repo's Molecule scenario (collection from the tarball through its requirements.yml, two podman laptops)
#   make test-release         make release's refusals and one release, in scratch repositories
# What ships and how to release: docs/releasing.md.
DIST_DIR := $(CURDIR)/.build/dist
# (recursive: `make release` bumps galaxy.yml, then its checks run in a new make)
DIST_VERSION = $(shell sed -n 's/^version: *//p' $(CURDIR)/galaxy.yml)
DIST_TARBALL = $(DIST_DIR)/omniroute-opencode-$(DIST_VERSION).tar.gz
DIST_PYTEST := $(BIN)/python -m pytest -q -p no:cacheprovider -rfE
# The platform-repo example's Molecule scenario runs in a copy of the example (as a user starts
# their own platform repo from it), with the collection installed from the tarball through the
# example's collections/requirements.yml into a path of its own.
PLATFORM_REPO_WORK := $(CURDIR)/.build/platform-repo
PLATFORM_REPO_COLLECTIONS := $(PLATFORM_REPO_WORK)/collections

.PHONY: dist test-galaxy test-installed test-platform-repo release test-release

# The tarball, from the files git tracks (mk/dist.sh); prints its path, size and file count.
dist: venv
	@tarball=$$(ANSIBLE_GALAXY=$(BIN)/ansible-galaxy mk/dist.sh $(DIST_DIR) 2> >(grep -v -e CryptographyDeprecationWarning -e 'from cryptography' >&2)) && \
	  echo "dist: $${tarball#$(CURDIR)/} ($$(( ($$(stat -c %s $$tarball) + 1023) / 1024 )) KiB, $$(tar tzf $$tarball | grep -vc '/$$') files)"

test-galaxy: dist
	GALAXY_IMPORTER_PYTHON=$$(PYTHON=$(PYTHON) tests/dist/importer-venv.sh) DIST_TARBALL=$(DIST_TARBALL) \
	  $(DIST_PYTEST) tests/dist/test_galaxy.py tests/dist/test_tarball.py

test-installed: dist collection
	DIST_TARBALL=$(DIST_TARBALL) $(DIST_PYTEST) tests/dist/test_installed.py

# ANSIBLE_COLLECTIONS_PATH holds the scratch install and containers.podman, never the clone's
# collection link; the scenario's dependency step installs omniroute.opencode into the first.
test-platform-repo: molecule-setup dist
	tests/dist/platform_repo.sh $(CURDIR)/docs/examples/platform-repo $(PLATFORM_REPO_WORK) $(DIST_TARBALL) \
	  "$$(PYTHON=$(BIN)/python tests/setup/podman-collection.sh)" "$$(tests/setup/opencode.sh)" $(SUITE_HOME) \
	  $(MOLECULE_LOG_DIR)

# make release VERSION=x.y.z: docs/releasing.md. Checks with `make dist test-galaxy test-installed`.
release: venv
	@$(BIN)/python mk/release.py "$(VERSION)" --make "$(MAKE)" --changelog $(BIN)/antsibull-changelog

# make release's refusals and one real release, in scratch repositories made from this clone's
# tracked files (never in this clone: no commit, no tag here).
test-release: venv
	$(DIST_PYTEST) tests/dist/test_release.py
