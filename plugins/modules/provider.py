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
    it was. Writes go to a temporary file in the same directory, private from its first byte,
    which gets the final mode and owner and then replaces the file by a rename; a failure (full
    disk, read-only file system, no permission) changes neither content nor mode nor owner.
  - Only regular files are edited. A FIFO, socket or device at the path, directly or through a
    symlink (for example one to C(/dev/null)), is refused before it is opened.
  - A file that changes while the module runs (saved by its user meanwhile) is never
    overwritten; the module fails with RV(conflict=true) and writes nothing.
  - Temporary files an interrupted run left behind (C(.<file>.omniroute-<pid>-<random>.tmp),
    owned by the running user) are removed on the next run.
  - No API key, new or already in a file, appears in the result, a diff or a log line. A diff
    shows only the managed entry and the top-level settings the module changed; credentials in
    it are masked by position (C(options.apiKey), every C(options.headers) value, every field of
    a credential-store entry but its C(type)), whatever their keys are called.
  - C(XDG_CONFIG_HOME) and C(XDG_DATA_HOME) are ignored, with a warning, when they name a
    directory the running user does not own (as when C(become_method=su) carries the
    controller's environment into every user's run).
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
  api_key:
    description:
      - The key OpenCode sends as a bearer token. V(sk_omniroute) is OmniRoute's
        placeholder for a local server with C(REQUIRE_API_KEY=false).
      - A value OpenCode resolves itself, such as C({env:OMNIROUTE_API_KEY}) or
        C({file:~/.config/opencode/omniroute.key}), is written as given.
      - Must be a string. A list or a mapping is refused (without showing it), never written
        as its text form.
    type: raw
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
  create:
    description:
      - Create the config (and missing directories, mode 0700) when it does not exist.
      - With V(false) and a missing file, the module fails.
    type: bool
    default: true
  backup:
    description:
      - Keep a timestamped copy of each file it changes. Copies are private (0600), written
        completely before they appear, and removed again if the write they belong to fails.
    type: bool
    default: false
extends_documentation_fragment:
  - omniroute.opencode.entry
  - omniroute.opencode.host
  - omniroute.opencode.catalog
  - omniroute.opencode.verify
  - ansible.builtin.files
  - omniroute.opencode.attributes
  - omniroute.opencode.attributes.action_group
  - ansible.builtin.action_common_attributes
  - action_common_attributes.files
  - action_common_attributes.actiongroups
attributes:
  check_mode:
    support: full
    description: Reports what would change and writes nothing.
  diff_mode:
    support: full
    description:
      - Shows, for each changed file, the managed entry and the top-level settings that changed,
        before and after, never the rest of the file; every credential is masked.
  safe_file_operations:
    support: full
    description:
      - Writes a temporary file in the same directory, private from its first byte, and renames it
        over the original; a file that changed meanwhile is not overwritten.
  vault:
    support: none
    description: Reads no vaulted files itself.
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
- name: Point OpenCode at the local OmniRoute (OmniRoute's documented OpenCode defaults)
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

- name: Build each developer's catalog from what their key may use on the gateway
  omniroute.opencode.provider:
    base_url: https://omniroute.example.com
    api_key: "{{ vaulted_keys[developer] }}"
    catalog: gateway
    catalog_exclude: ["*-preview"]
    models: [auto]          # pinned first; OmniRoute does not list it
    verify: true
  become: true
  become_user: "{{ developer }}"
  register: opencode

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
  description:
    - The provider entry as it is in the file afterwards, with a literal key and every header
      value masked.
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
stale_temp_files:
  description: Temporary files of an interrupted earlier run that were (or would be) removed.
  returned: when there were any
  type: list
  elements: str
  sample: [/home/alice/.config/opencode/.opencode.json.omniroute-4242-k3y4x8z1.tmp]
conflict:
  description: True when a file changed while the module ran; nothing was written.
  returned: on that failure
  type: bool
  sample: true
restored:
  description:
    - When a write failed after other files were written, those files, rolled back to their earlier
      content, mode and owner (C(changed) is then true; backups are kept). RV(written) lists what
      was written, RV(not_restored) what could not be rolled back.
  returned: on that failure
  type: list
  elements: str
written:
  description: The files written before a write failed (see RV(restored)).
  returned: on that failure
  type: list
  elements: str
not_restored:
  description: The files that could not be rolled back after a failed write; they hold the new content.
  returned: on that failure
  type: list
  elements: str
catalog:
  description:
    - Where the catalog came from. C(source) is V(static) (O(models)), V(gateway) (the gateway's
      answer), V(kept) (gateway not asked successfully, current catalog kept) or V(models)
      (gateway not asked successfully, no catalog yet, O(models) written).
    - For the gateway, C(url) is the address asked, C(status) its HTTP status, C(offered) how many
      models it listed, C(seconds) the round trip and C(cause) why it could not be used.
  returned: when O(state=present)
  type: dict
  sample: {source: gateway, url: https://omniroute.example.com/v1/models, status: 200, offered: 4, seconds: 0.012}
verify:
  description:
    - What OpenCode will meet for this user, from the host. There is no key in it.
    - C(url) is the models address probed and C(reachable) says whether it answered at all.
      C(status) is its HTTP status, and C(key_accepted) is true, false (401/403), or null when
      unknown. C(models_endpoint) describes what the address returned (for example
      C(a list of 4 models), or C(HTTP 404 ...) for a wrong path such as C(/v1/v1)). C(cause)
      says why it is not usable.
    - C(offered) lists every model id offered to the key, and C(offered_chat) the chat models
      among them. C(missing) lists the configured models the gateway does not offer to the key.
    - C(opencode) is the user's OpenCode binary (PATH, C(~/.opencode/bin) or an npm global
      prefix), and C(opencode_version) is its version.
    - C(layers) lists the config files OpenCode loads after the managed one that change the
      entry (higher global files, C(OPENCODE_CONFIG), C(~/.opencode), the administrator's
      C(/etc/opencode) or C(/Library/Application Support/opencode)), each with C(effects).
    - C(ready) is true when the key is accepted, nothing configured is missing and no layer
      overrides the entry.
  returned: when O(verify=true) and O(state=present)
  type: dict
  sample:
    url: https://omniroute.example.com/v1/models
    reachable: true
    status: 200
    key_accepted: true
    models_endpoint: a list of 4 models
    offered: [team-fast, openai/gpt-4o]
    offered_chat: [team-fast, openai/gpt-4o]
    missing: [auto]
    opencode: /home/alice/.opencode/bin/opencode
    opencode_version: 1.18.33
    layers: []
    ready: false
"""

import os
import pwd

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.omniroute.opencode.plugins.module_utils import _configure as cfg
from ansible_collections.omniroute.opencode.plugins.module_utils import _gateway as gw
from ansible_collections.omniroute.opencode.plugins.module_utils import _http
from ansible_collections.omniroute.opencode.plugins.module_utils import _opencode as oc
from ansible_collections.omniroute.opencode.plugins.module_utils import _redact
from ansible_collections.omniroute.opencode.plugins.module_utils import _users as us

ARGUMENT_SPEC = dict(
    path=dict(type='path'),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    # raw, so that a list or a mapping given by mistake is refused instead of written as its repr.
    api_key=dict(type='raw', default=oc.DEFAULT_API_KEY, no_log=True),
    key_store=dict(type='str', choices=['config', 'auth'], default='config'),
    auth_path=dict(type='path'),
    create=dict(type='bool', default=True),
    backup=dict(type='bool', default=False),
)
ARGUMENT_SPEC.update(oc.ENTRY_ARGUMENT_SPEC)
ARGUMENT_SPEC.update(us.HOST_ARGUMENT_SPEC)
ARGUMENT_SPEC.update(gw.CATALOG_ARGUMENT_SPEC)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, add_file_common_args=True, supports_check_mode=True)
    params = module.params
    who = cfg.where(host=params['host'])
    # The arguments echoed in the result show base_url without user info or query.
    shown = dict(invocation=dict(module_args=cfg.shown_params(params)))
    # catalog=gateway and verify ask the gateway the same question: one request (issue 22).
    with gw.share_answers():
        try:
            result = cfg.plan(params, os.environ, who)
        except cfg.Failure as exc:
            module.fail_json(msg=str(exc), **dict(exc.details, **shown))

        out = cfg.describe(result, [params['api_key']], module._diff)
        redactor = _redact.Redactor([params['api_key']])
        warnings = list(result.warnings)
        if result.spec is not None:
            warnings.append(_http.cleartext_warning(result.spec.base_url))
        for warning in warnings:
            if warning:
                module.warn(redactor.text(warning))
        if params['verify'] and result.spec is not None:
            probe = dict(params, base_url=result.spec.base_url)
            home = os.environ.get('HOME') or pwd.getpwuid(os.getuid()).pw_dir
            out['verify'] = gw.verify(probe, params['api_key'], os.environ, home,
                                      target=result.target, configured=result.spec.model_ids,
                                      pending=cfg.known_texts(result))

    policy = cfg.Policy(backup=params['backup'], who=who, stale=result.stale, home=result.home)
    try:
        if module.check_mode:
            cfg.preflight(result.changes, policy)
        elif result.changes or result.stale:
            backups = cfg.apply(module, result.changes, policy)
            if backups:
                out['backup_files'] = backups
                if result.target in backups:
                    out['backup_file'] = backups[result.target]
    except cfg.Failure as exc:
        module.fail_json(msg=str(exc), **dict(exc.details, **shown))

    target_real = os.path.realpath(result.target)
    if os.path.exists(target_real):
        file_args = module.load_file_common_arguments(params, path=target_real)
        out['changed'] = module.set_fs_attributes_if_different(file_args, out['changed'])
    module.exit_json(**dict(out, **shown))


if __name__ == '__main__':
    main()
