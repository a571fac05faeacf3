#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, omniroute.opencode contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: provider
short_description: Merge, normalise or remove the OmniRoute provider in an OpenCode config
version_added: "0.1.0"
description:
  - Manages one C(provider.<name>) entry (by default C(provider.omniroute)) in an OpenCode
    configuration file, the way OmniRoute's own C(omniroute config opencode) writes it. The
    entry uses the C(@ai-sdk/openai-compatible) package and has a display name, an
    C(options.baseURL) ending in exactly one C(/v1), an C(options.apiKey) and a model catalog.
  - Edits are surgical. Comments, key order, indentation (tabs or spaces), line endings, trailing
    commas and every other provider survive; only the spans that must change are rewritten.
  - Inside the managed entry the settings this module manages are authoritative, and settings a
    user added there (C(options.headers), C(options.timeout), a model's C(limit)...) are kept.
  - Settings that would hide the provider from OpenCode are repaired. The name is taken out of
    C(disabled_providers), added to an existing C(enabled_providers), and the entry's model
    C(whitelist) and C(blacklist) and a model C(status) of C(deprecated) or C(alpha) are removed.
  - Without O(path), the module edits the global config that wins for the user it runs as
    (C(config.json) < C(opencode.json) < C(opencode.jsonc) in C($XDG_CONFIG_HOME/opencode),
    default C(~/.config/opencode)), or creates C(opencode.json). A copy of the entry in a
    lower-precedence global file would be deep-merged into it by OpenCode, so it is removed.
  - Run it as the user whose config it is (for example with C(become_user)); files it creates
    then belong to that user.
  - Invalid input fails with the file, line and column, and leaves every file byte-for-byte as
    it was. Writes go to a temporary file in the same directory, then a rename.
  - No API key, new or already in a file, appears in the result, a diff or a log line.
author:
  - OmniRoute OpenCode maintainers (@omniroute)
options:
  path:
    description:
      - The OpenCode config file to edit.
      - When omitted, the winning global config of the running user is edited (see above).
      - A symlink (for example into a dotfiles repository) is kept; its target is updated.
    type: path
  state:
    description:
      - V(present) merges the entry; V(absent) removes it (offboarding), together with a
        top-level C(model)/C(small_model) that points at it and the key stored for it in
        OpenCode's credential store.
    type: str
    choices: [present, absent]
    default: present
  name:
    description: Provider id, the key under C(provider).
    type: str
    default: omniroute
  display_name:
    description: The provider's C(name) shown in OpenCode.
    type: str
    default: OmniRoute
  base_url:
    description:
      - OmniRoute's address. It is normalised to end in exactly one C(/v1), so
        C(http://localhost:20128), C(http://localhost:20128/), C(http://localhost:20128/v1) and
        C(http://localhost:20128/v1///) all give C(http://localhost:20128/v1), and an old
        C(/v1/v1) is repaired.
      - Must be an C(http) or C(https) URL without user name, password, query or fragment.
    type: str
    default: http://localhost:20128
  api_key:
    description:
      - The key OpenCode sends as a bearer token. V(sk_omniroute) is OmniRoute's
        placeholder for a local server with C(REQUIRE_API_KEY=false).
      - A value OpenCode resolves itself, such as C({env:OMNIROUTE_API_KEY}) or
        C({file:~/.config/opencode/omniroute.key}), is written as given.
    type: str
    default: sk_omniroute
  key_store:
    description:
      - Where the key is kept.
      - V(config) writes it to C(options.apiKey) and removes a stale entry for O(name) from
        OpenCode's credential store.
      - V(auth) writes it to OpenCode's credential store as an entry of C(type) C(api) under
        O(name) (mode 0600, other entries kept) and removes C(options.apiKey) from the config,
        because OpenCode ignores the store when the config sets a key, even an empty one.
    type: str
    choices: [config, auth]
    default: config
  auth_path:
    description:
      - OpenCode's credential store. Defaults to C($XDG_DATA_HOME/opencode/auth.json)
        (C(~/.local/share/opencode/auth.json)) of the running user.
    type: path
  models:
    description:
      - The model catalog, in order. An entry is a model id, or a dict with C(id) and OpenCode
        model settings such as C(name) or C(limit).
      - Ids are trimmed; empty ids and repeated ids are dropped.
      - Models not listed are removed from the entry; settings a user added to a listed model
        are kept.
    type: list
    elements: raw
    default: [claude-opus-4-5-thinking, claude-sonnet-4-5-thinking, gemini-3.1-pro-high, gemini-3-flash]
  model_labels:
    description: Display names by model id (default the id itself).
    type: dict
    default: {}
  model:
    description:
      - Make this catalog model OpenCode's default, written top-level as C(<name>/<id>).
    type: str
  small_model:
    description:
      - Make this catalog model OpenCode's small model, written top-level as C(<name>/<id>).
    type: str
  create:
    description:
      - Create the config (and missing directories, mode 0700) when it does not exist.
      - With V(false) and a missing file, the module fails.
    type: bool
    default: true
  backup:
    description:
      - Keep a timestamped copy of each file it changes. Copies are made private (0600 at most).
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.files
  - omniroute.opencode.attributes
  - ansible.builtin.action_common_attributes
  - action_common_attributes.files
  - action_common_attributes.actiongroups
attributes:
  check_mode:
    support: full
    description: Reports what would change and writes nothing.
  diff_mode:
    support: full
    description: Shows each changed file before and after, with every key masked.
  safe_file_operations:
    support: full
    description: Writes a temporary file in the same directory, then renames it over the original (C(atomic_move)).
  vault:
    support: none
    description: Reads no vaulted files itself.
  action_group:
    support: full
    membership:
      - omniroute.opencode.opencode
notes:
  - A new file that holds a key is created 0600; an existing file the module writes a key into
    loses group and other permissions, unless O(mode) says otherwise.
  - OpenCode also reads C(OPENCODE_CONFIG), C(OPENCODE_CONFIG_CONTENT) and project files
    (C(opencode.json) in a repository). They are outside a user's global config and can override
    it; the module cannot see a developer's shell environment or checkouts.
seealso:
  - name: OpenCode configuration
    description: OpenCode's config file format and precedence.
    link: https://opencode.ai/docs/config/
"""

EXAMPLES = r"""
- name: Point OpenCode at the local OmniRoute (the seed's defaults)
  omniroute.opencode.provider:

- name: Give a developer their own key, kept in OpenCode's credential store
  omniroute.opencode.provider:
    base_url: https://omniroute.example.com
    api_key: "{{ vaulted_keys[developer] }}"
    key_store: auth
    models:
      - auto
      - id: claude-opus-4-7
        limit:
          context: 200000
          output: 32000
    model_labels:
      auto: Auto-Combo
    model: auto
  become: true
  become_user: "{{ developer }}"

- name: Let OpenCode read the key from the environment
  omniroute.opencode.provider:
    path: ~/.config/opencode/opencode.jsonc
    base_url: https://omniroute.example.com/v1
    api_key: "{env:OMNIROUTE_API_KEY}"

- name: Offboard a developer (entry, default model and stored key go; the rest stays)
  omniroute.opencode.provider:
    state: absent
  become: true
  become_user: "{{ leaver }}"
"""

RETURN = r"""
changed:
  description: Whether any file was (or, in check mode, would be) changed.
  returned: always
  type: bool
  sample: true
path:
  description: The config file that holds (or held) the entry; for a symlink, the link itself.
  returned: always
  type: str
  sample: /home/alice/.config/opencode/opencode.json
base_url:
  description: The normalised base URL written to C(options.baseURL).
  returned: when O(state=present)
  type: str
  sample: https://omniroute.example.com/v1
models:
  description: The model ids of the catalog, in order, after trimming and de-duplication.
  returned: when O(state=present)
  type: list
  elements: str
  sample: [auto, claude-opus-4-7]
entry:
  description: The provider entry as it is in the file afterwards, with a literal key masked.
  returned: when O(state=present)
  type: dict
  sample:
    npm: "@ai-sdk/openai-compatible"
    name: OmniRoute
    options:
      baseURL: https://omniroute.example.com/v1
      apiKey: "********"
    models:
      auto:
        name: Auto-Combo
changes:
  description: What was done, in words, per file.
  returned: always
  type: dict
  sample:
    /home/alice/.config/opencode/opencode.json: [added $schema, added provider.omniroute]
files:
  description: Every file that was (or would be) changed, the config and the credential store.
  returned: always
  type: list
  elements: str
  sample: [/home/alice/.config/opencode/opencode.json]
backup_file:
  description: The backup of the config file.
  returned: changed and if O(backup=true)
  type: str
  sample: /home/alice/.config/opencode/opencode.json.12345.2026-11-23@10:00:00~
backup_files:
  description: Backups of every file changed, by file.
  returned: changed and if O(backup=true)
  type: dict
  sample:
    /home/alice/.local/share/opencode/auth.json: /home/alice/.local/share/opencode/auth.json.1.2026-11-23@10:00:00~
auth_path:
  description: OpenCode's credential store that was consulted.
  returned: always
  type: str
  sample: /home/alice/.local/share/opencode/auth.json
auth_changed:
  description: Whether the credential store was (or would be) changed.
  returned: always
  type: bool
  sample: false
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.omniroute.opencode.plugins.module_utils import _configure as cfg
from ansible_collections.omniroute.opencode.plugins.module_utils import _opencode as oc

ARGUMENT_SPEC = dict(
    path=dict(type='path'),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    name=dict(type='str', default=oc.DEFAULT_NAME),
    display_name=dict(type='str', default=oc.DEFAULT_DISPLAY_NAME),
    base_url=dict(type='str', default=oc.DEFAULT_BASE_URL),
    api_key=dict(type='str', default=oc.DEFAULT_API_KEY, no_log=True),
    key_store=dict(type='str', choices=['config', 'auth'], default='config'),
    auth_path=dict(type='path'),
    models=dict(type='list', elements='raw', default=list(oc.DEFAULT_MODELS)),
    model_labels=dict(type='dict', default={}),
    model=dict(type='str'),
    small_model=dict(type='str'),
    create=dict(type='bool', default=True),
    backup=dict(type='bool', default=False),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, add_file_common_args=True, supports_check_mode=True)
    params = module.params
    try:
        result = cfg.plan(params, os.environ)
    except cfg.Failure as exc:
        module.fail_json(msg=str(exc), **exc.details)

    out = cfg.describe(result, [params['api_key']], module._diff)
    for warning in result.warnings:
        module.warn(warning)

    if not module.check_mode and result.changes:
        try:
            backups = cfg.apply(module, result.changes, params['backup'])
        except cfg.Failure as exc:
            module.fail_json(msg=str(exc), **exc.details)
        if backups:
            out['backup_files'] = backups
            if result.target in backups:
                out['backup_file'] = backups[result.target]

    target_real = os.path.realpath(result.target)
    if os.path.exists(target_real):
        file_args = module.load_file_common_arguments(params, path=target_real)
        out['changed'] = module.set_fs_attributes_if_different(file_args, out['changed'])
    module.exit_json(**out)


if __name__ == '__main__':
    main()
