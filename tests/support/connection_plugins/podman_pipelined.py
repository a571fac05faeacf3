# Test support (tests/ is not shipped: galaxy.yml's build_ignore).
"""The test laptops' connection: containers.podman.podman, with pipelining.

containers.podman.podman runs each command with ``podman exec`` without ``-i``, so it cannot feed a
module on stdin and declares no pipelining. Every module task then costs six podman commands
(``podman mount``, then execs that look up the home directory, make a temporary directory, chmod
the module copied there, run it and clean up), each about 0.18 CPU seconds here, where a laptop
reached over SSH with pipelining (docs/examples/platform-repo sets ``ansible_pipelining: true``)
needs one command. This is that
one command: ``podman exec -i`` with the module on stdin when Ansible pipelines (by default here,
as ``ansible_pipelining``/``ANSIBLE_PIPELINING`` can still turn off), the container mounted only
when a file is copied. What runs in the container is what runs on a laptop over SSH with
pipelining. Measured in docs/testing.md (issue 22).

Suites use it with ``ANSIBLE_CONNECTION_PLUGINS=<clone>/tests/support/connection_plugins`` and
``ansible_connection: podman_pipelined``.
"""

DOCUMENTATION = """
    name: podman_pipelined
    short_description: containers.podman.podman with pipelining (the project's test laptops)
    description:
        - Runs commands in an existing podman container with C(podman exec), and a pipelined module
          with C(podman exec -i) and the module on stdin; copies files as containers.podman.podman.
    author: omniroute.opencode tests
    options:
      remote_addr:
        description: The container's name or ID.
        default: inventory_hostname
        vars:
          - name: ansible_host
          - name: inventory_hostname
          - name: ansible_podman_host
      remote_user:
        description: The user in the container.
        ini:
          - section: defaults
            key: remote_user
        env:
          - name: ANSIBLE_REMOTE_USER
        vars:
          - name: ansible_user
      podman_extra_args:
        description: Extra arguments for the podman command line.
        default: ''
        vars:
          - name: ansible_podman_extra_args
        env:
          - name: ANSIBLE_PODMAN_EXTRA_ARGS
      podman_executable:
        description: The podman executable.
        default: podman
        vars:
          - name: ansible_podman_executable
        env:
          - name: ANSIBLE_PODMAN_EXECUTABLE
      pipelining:
        description: Feed modules on stdin instead of copying them into the container.
        type: boolean
        default: true
        env:
          - name: ANSIBLE_PIPELINING
        ini:
          - section: connection
            key: pipelining
        vars:
          - name: ansible_pipelining
"""

import shlex

from ansible.errors import AnsibleConnectionFailure
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.connection import ConnectionBase, ensure_connect
from ansible_collections.containers.podman.plugins.connection.podman import Connection as PodmanConnection


class Connection(PodmanConnection):
    transport = 'podman_pipelined'
    has_pipelining = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._mount_tried = False

    def _connect(self):
        # No `podman mount` yet: a pipelined task copies nothing (put_file and fetch_file mount).
        ConnectionBase._connect(self)
        self._connected = True
        return self

    def _mount(self):
        if not self._mount_tried:
            self._mount_tried = True
            PodmanConnection._connect(self)

    @ensure_connect
    def exec_command(self, cmd, in_data=None, sudoable=False):
        ConnectionBase.exec_command(self, cmd, in_data=in_data, sudoable=sudoable)
        args = ['exec']
        if in_data is not None:
            args.append('-i')
        if self.user:
            args.extend(('--user', self.user))
        rc, out, err = self._podman(args, shlex.split(to_native(cmd, errors='surrogate_or_strict')), in_data)
        if rc in (125, 255) and err.startswith(b'Error: '):
            # podman's own failure ("no such container" 125, "container state improper" 255), not
            # the command's: the host is unreachable, as ssh's exit status 255 makes it
            # (containers.podman.podman finds out earlier, making its temporary directory).
            raise AnsibleConnectionFailure('podman exec in %s failed: %s' % (
                self._container_id, to_native(err, errors='surrogate_or_replace').strip()))
        return rc, out, err

    def put_file(self, in_path, out_path):
        self._mount()
        return super().put_file(in_path, out_path)

    def fetch_file(self, in_path, out_path):
        self._mount()
        return super().fetch_file(in_path, out_path)
