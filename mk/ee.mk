# Execution environment (issue 14): the collection inside an ansible-builder image, run the way
# AWX runs it; and pull mode (ansible-pull on a laptop).
#   make ee                   build or reuse the EE image (EE_BASE_IMAGE, default debian:bookworm-slim)
#   make ee-setup             the EE image on the locally built Debian base image (no image registry here)
#   make laptop-setup         the podman laptop image (sshd, git, ansible-core) and the OpenCode binary
#   make test-ee              the role through ansible-runner inside the EE, against podman laptops
#   make test-pull            ansible-pull of playbooks/pull.yml from a bare clone, inside a laptop
EE_IMAGE ?= localhost/omniroute-opencode-ee:latest
# What a user with access to Docker Hub builds on. The tests (no image registry here) use the
# locally built Debian image of tests/setup/base-image.sh instead: see test-ee.
EE_BASE_IMAGE ?= docker.io/library/debian:bookworm-slim
EE_TOOLS := ANSIBLE_BUILDER=$(BIN)/ansible-builder ANSIBLE_GALAXY=$(BIN)/ansible-galaxy PYTHON=$(BIN)/python
EE_LOCK := flock $(OMNIROUTE_OPENCODE_CACHE)/laptops.lock

.PHONY: ee ee-setup laptop-setup test-ee test-pull
ee: venv
	$(EE_TOOLS) EE_BASE_IMAGE=$(EE_BASE_IMAGE) OMNIROUTE_OPENCODE_EE_IMAGE=$(EE_IMAGE) ee/build.sh

# The laptop image of both tests (sshd, git, ansible-core), and the real OpenCode binary.
laptop-setup: venv
	tests/setup/system.sh
	tests/ee/laptop-image.sh "$$(PYTHON=$(BIN)/python ee/wheelhouse.sh)" >/dev/null
	tests/setup/opencode.sh >/dev/null

# The EE on the local Debian base image (no image registry here).
ee-setup: laptop-setup
	$(EE_TOOLS) EE_BASE_IMAGE=$$(tests/setup/base-image.sh) OMNIROUTE_OPENCODE_EE_IMAGE=$(EE_IMAGE) ee/build.sh >/dev/null

test-ee: ee-setup
	mkdir -p $(SUITE_HOME) && HOME=$(SUITE_HOME) ANSIBLE_RUNNER=$(BIN)/ansible-runner ANSIBLE_VAULT=$(BIN)/ansible-vault $(EE_LOCK) \
	  tests/ee/run.sh $(EE_IMAGE) localhost/omniroute-opencode-laptop-fleet:bookworm "$$(tests/setup/opencode.sh)"

test-pull: laptop-setup
	mkdir -p $(SUITE_HOME) && HOME=$(SUITE_HOME) $(EE_LOCK) tests/pull/run.sh localhost/omniroute-opencode-laptop-fleet:bookworm "$$(tests/setup/opencode.sh)"
