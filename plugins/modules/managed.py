#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, omniroute.opencode contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: managed
short_description: Pin every OpenCode on a host to OmniRoute through the managed (system) config
version_added: "0.2.0"
description:
  - Writes the OmniRoute provider entry into OpenCode's managed config, the administrator's
    layer that OpenCode loads after every user-level source and that therefore wins over a
    user's own files (C(/etc/opencode) on Linux, C(/Library/Application Support/opencode) on
    macOS).
  - The entry has C(npm), C(name), C(options.baseURL) and the model catalog, built as the
    M(omniroute.opencode.provider) module builds it, and B(never a key). The managed file is
    read by every user; each user's key stays in that user's own credential store, written by
    M(omniroute.opencode.provider) with O(omniroute.opencode.provider#module:key_store=auth)
    or the role. An existing C(options.apiKey) in the managed entry is removed, and any value
    that looks like a credential is refused.
  - Edits are surgical, as in M(omniroute.opencode.provider). Comments, other providers and
    other managed settings are kept byte for byte.
  - The file is owned by root (group 0) and has mode 0644.
  - Optionally writes a macOS configuration profile (C(.mobileconfig)) for the
    C(ai.opencode.managed) managed-preferences domain with the same settings, for an MDM.
author:
  - OmniRoute OpenCode maintainers (@omniroute)
options:
  state:
    description:
      - V(present) merges the entry, the allow-list and O(settings).
      - V(absent) removes the entry, a top-level C(model)/C(small_model) that points at it and
        the allow-list (C(enabled_providers) when it is exactly C([name]), otherwise the name
        is taken out of it). Every other managed setting stays.
    type: str
    choices: [present, absent]
    default: present
  directory:
    description:
      - The managed config directory. Defaults to the one OpenCode reads on this OS.
      - In it, C(opencode.jsonc) is edited when it exists (OpenCode loads it after
        C(opencode.json)), otherwise C(opencode.json), which is created when missing. A copy of
        the entry in C(opencode.json) under an C(opencode.jsonc) is removed.
    type: path
  catalog_key:
    description:
      - A key the gateway accepts, used only for the request of O(catalog=gateway). It is never
        written (the managed file holds no key) and never returned.
      - Required with O(catalog=gateway); without it the module fails, naming the host, before
        changing anything.
    type: str
  only_gateway:
    description:
      - V(true) sets C(enabled_providers) to C([name]) in the managed layer, so OpenCode offers
        no other provider, whatever a user configures.
      - V(false) removes an allow-list that is exactly C([name]) (the one V(true) writes) and
        leaves a longer one alone (the provider is added to it).
    type: bool
    default: false
  settings:
    description:
      - Extra top-level managed settings, for example C(autoupdate) set to V(false) so a fleet does not
        upgrade OpenCode mid-rollout. They are merged the way OpenCode merges layers (objects
        key by key, lists and scalars replaced).
      - They may not set C(provider) or C($schema), nor C(enabled_providers) together with
        O(only_gateway=true), and may not hold anything that looks like a credential.
      - With O(state=absent) they are ignored; settings already in the file stay.
    type: dict
    default: {}
  mobileconfig:
    description:
      - Also write a macOS configuration profile to this path, carrying the whole managed config
        (minus C($schema)) for the C(ai.opencode.managed) domain. Mode 0644.
      - With O(state=absent), a profile at this path is removed.
    type: path
  profile_identifier:
    description: The profile's C(PayloadIdentifier); its UUIDs are derived from it.
    type: str
    default: ai.opencode.managed.omniroute
  profile_organization:
    description: The profile's C(PayloadOrganization).
    type: str
  backup:
    description: Keep a timestamped copy of the managed file before changing it.
    type: bool
    default: false
  owned_only:
    description:
      - With O(state=absent), remove only what this collection wrote. The module keeps a record of
        what it last wrote in the managed directory (C(omniroute-opencode.state.json), no key in it;
        OpenCode does not read it). An entry that is still exactly as recorded goes, with the
        allow-list and the recorded extra settings that still hold the recorded value.
      - An entry the record does not cover (written by another tool or by hand, by a release
        before the record was kept, or changed since) is left alone, listed in
        RV(foreign_entries) and named in one warning.
      - No managed file, or no entry, is a quiet no-op (not changed, no warning). The role runs it
        on every run with O(state=absent) when C(opencode_scope) is C(user).
      - V(false) (O(state=absent) alone) removes the entry whoever wrote it, as before.
    type: bool
    default: false
extends_documentation_fragment:
  - omniroute.opencode.entry
  - omniroute.opencode.host
  - omniroute.opencode.catalog
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
    description: Shows the managed file before and after.
  safe_file_operations:
    support: full
    description:
      - Writes a temporary file in the same directory, then renames it over the managed file (and
        the profile).
  vault:
    support: none
    description: Reads no vaulted files itself.
notes:
  - Run it as root (C(become=true)). Without root, only a O(directory) the running user may
    write works, and the file then keeps that user's ownership (a warning says so).
  - A user can still leave the managed layer in ways OpenCode allows, measured with OpenCode
    1.18.33 and described in the collection's C(docs/managed.md). Most notably, the
    C(OPENCODE_TEST_MANAGED_CONFIG_DIR) environment variable moves the managed directory
    elsewhere. C(OPENCODE_PERMISSION) overrides managed permissions.
seealso:
  - module: omniroute.opencode.provider
  - name: OpenCode configuration, managed settings
    description: OpenCode's config precedence and managed settings.
    link: https://opencode.ai/docs/config/
"""

EXAMPLES = r"""
- name: Pin OpenCode to the gateway for every user of the host
  omniroute.opencode.managed:
    base_url: https://omniroute.example.com
    models: [auto, claude-opus-4-7]
    only_gateway: true
    settings:
      autoupdate: false
  become: true

- name: Same settings as a profile for Jamf or Intune (written on the control node)
  omniroute.opencode.managed:
    directory: "{{ playbook_dir }}/build/managed"
    mobileconfig: "{{ playbook_dir }}/build/opencode-omniroute.mobileconfig"
    base_url: https://omniroute.example.com
    models: [auto]
    only_gateway: true
  delegate_to: localhost
  run_once: true

- name: The catalog from the gateway (the key is only used for the request, never written)
  omniroute.opencode.managed:
    base_url: https://omniroute.example.com
    catalog: gateway
    catalog_key: "{{ vault_catalog_key }}"
    catalog_exclude: ["*-preview"]
    models: [auto]
  become: true

- name: Switch the host back to per-user configs (other managed settings stay)
  omniroute.opencode.managed:
    state: absent
  become: true
"""

RETURN = r"""
path:
  description: The managed config file that holds (or held) the entry.
  returned: always
  type: str
  sample: /etc/opencode/opencode.json
changes:
  description: What was done, in words, per file.
  returned: always
  type: dict
  sample:
    /etc/opencode/opencode.json:
      - added $schema
      - added provider.omniroute
      - set enabled_providers to [omniroute]
files:
  description: Every file that was (or would be) changed.
  returned: always
  type: list
  elements: str
entry:
  description: The provider entry as it is in the managed file afterwards (it holds no key).
  returned: when O(state=present)
  type: dict
base_url:
  description: The normalised base URL.
  returned: when O(state=present)
  type: str
models:
  description: The catalog's model ids, in order.
  returned: when O(state=present)
  type: list
  elements: str
mobileconfig:
  description: The profile's path, when O(mobileconfig) is set.
  returned: when O(mobileconfig) is set
  type: str
drift:
  description:
    - The parts of the managed file this module owns that another tool changed, as dotted paths
      (for example C(provider.omniroute.options.baseURL), C(provider.omniroute.models.gpt-4o),
      C(enabled_providers), C(autoupdate)); never a value. They are the paths at which the file
      differs from what this collection last wrote there (its record) and that this run puts
      back; a change of the module's own options is not drift. A warning naming the host and
      the file lists them.
    - For an entry without a record, the paths at which the file differs from what this run writes.
    - Empty when the file has no entry yet (a new entry is not drift) or needs no change.
  returned: always
  type: list
  elements: str
  sample: [provider.omniroute.options.baseURL, enabled_providers]
catalog:
  description:
    - Where the catalog came from - C(source) (V(static), V(gateway), V(kept) when the gateway could
      not be asked and the current catalog stayed, V(models) when O(models) was written instead);
      with O(catalog=gateway) also C(url), C(status), C(offered) and C(cause). No key in it.
  returned: when O(state=present)
  type: dict
  sample: {source: gateway, url: "https://omniroute.example.com/v1/models", status: 200, offered: 42}
foreign_entries:
  description:
    - With O(owned_only), the entries left alone because this collection did not write them, each
      with C(path), C(provider) and C(reason); empty otherwise.
  returned: when O(state=absent)
  type: list
  elements: dict
  sample: [{path: /etc/opencode/opencode.json, provider: omniroute, reason: "this collection has no record of writing it"}]
stale_temp_files:
  description: Temporary files of an interrupted earlier run that were (or would be) removed.
  returned: when there were any
  type: list
  elements: str
backup_file:
  description: The backup of the managed file.
  returned: changed and if O(backup=true)
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.omniroute.opencode.plugins.module_utils import _configure as cfg
from ansible_collections.omniroute.opencode.plugins.module_utils import _gateway as gw
from ansible_collections.omniroute.opencode.plugins.module_utils import _http
from ansible_collections.omniroute.opencode.plugins.module_utils import _managed as mg
from ansible_collections.omniroute.opencode.plugins.module_utils import _opencode as oc
from ansible_collections.omniroute.opencode.plugins.module_utils import _redact
from ansible_collections.omniroute.opencode.plugins.module_utils import _users as us

ARGUMENT_SPEC = dict(
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    directory=dict(type='path'),
    only_gateway=dict(type='bool', default=False),
    settings=dict(type='dict', default={}),
    mobileconfig=dict(type='path'),
    profile_identifier=dict(type='str', default=mg.DEFAULT_PROFILE_ID),
    profile_organization=dict(type='str'),
    backup=dict(type='bool', default=False),
    # Only for GET <base_url>/models with catalog=gateway; never written, never returned.
    catalog_key=dict(type='str', no_log=True),
    owned_only=dict(type='bool', default=False),
)
ARGUMENT_SPEC.update(oc.ENTRY_ARGUMENT_SPEC)
ARGUMENT_SPEC.update(us.HOST_ARGUMENT_SPEC)
# catalog, catalog_include, catalog_exclude, catalog_offline, validate_certs, timeout (not verify:
# the users module verifies, as each user, with that user's key).
ARGUMENT_SPEC.update((k, v) for k, v in gw.CATALOG_ARGUMENT_SPEC.items() if k != 'verify')


def _invocation(params):
    """The module arguments to echo back, without a credential someone put into settings."""
    shown = _redact.Redactor([params.get('catalog_key')]).args(params)
    if mg.find_secrets(params.get('settings') or {}):
        shown['settings'] = 'NOT_LOGGING_PARAMETER (it holds a credential-like value)'
    return {'module_args': shown}


def warnings(plan, params, host, check_mode):
    """The run's warnings about the managed file (each naming the host)."""
    out = list(plan.warnings)
    if plan.spec is not None:
        # No key is in the managed file, but every user's OpenCode sends theirs to this address.
        out.append(_http.cleartext_warning(plan.spec.base_url, 'every user\'s key'))
    put = 'they would be put back (check mode)' if check_mode else 'they are put back'
    if plan.drift and not plan.adopted:
        out.append('host %s: %s was changed by another tool in the parts this module owns (provider.%s, the '
                   'allow-list, the managed settings) since this collection wrote it, at %s; %s'
                   % (host, plan.target, params['name'], ', '.join(plan.drift), put))
    elif plan.drift:
        out.append('host %s: %s has a provider.%s this collection has no record of writing (another tool, or '
                   'a release of omniroute.opencode before the record was kept); this module manages it from '
                   'now on, and it differs at %s: %s'
                   % (host, plan.target, params['name'], ', '.join(plan.drift), put.replace('put back', 'set')))
    if plan.foreign:
        out.append('host %s: left alone, since this collection did not write %s: %s. %s to every user of the '
                   'host; if %s should go, remove %s with omniroute.opencode.managed state=absent (without owned_only)'
                   % (host, 'it' if len(plan.foreign) == 1 else 'them',
                      '; '.join('provider.%s in %s (%s)' % (f['provider'], f['path'], f['reason']) for f in plan.foreign),
                      'It still applies' if len(plan.foreign) == 1 else 'They still apply',
                      'it' if len(plan.foreign) == 1 else 'they', 'it' if len(plan.foreign) == 1 else 'them'))
    return [w for w in out if w]


def main():
    # no_log=True only keeps the arguments out of the target's syslog (settings may hold a key
    # by mistake); results are not censored by it.
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, no_log=True)
    params = module.params
    invocation = _invocation(params)
    root = os.geteuid() == 0
    host = us.hostname(params['host'])
    who = cfg.where(host=host)
    try:
        plan = cfg.plan_managed(params, who, root)
    except cfg.Failure as exc:
        module.fail_json(msg=str(exc), invocation=invocation, **exc.details)

    words = {}
    for change in plan.changes:
        words.setdefault(change.path, []).extend(change.words)
    files = list(words)
    out = dict(changed=bool(files) or bool(plan.stale), path=plan.target, files=files, changes=words,
               drift=plan.drift)
    if plan.stale:
        out['stale_temp_files'] = list(plan.stale)
    if plan.spec is not None:
        out.update(base_url=plan.spec.base_url, models=plan.spec.model_ids, entry=oc.redact_entry(plan.entry),
                   catalog=plan.catalog)
    else:
        out['foreign_entries'] = plan.foreign
    if plan.profile:
        out['mobileconfig'] = plan.profile
    redactor = _redact.Redactor([params['catalog_key']])
    for warning in warnings(plan, params, host, module.check_mode):
        module.warn(redactor.text(warning))
    if module._diff:
        out['diff'] = cfg.diff_views(plan.changes, (), extra_keys=tuple(params['settings'] or ()))
    if not root and params['directory'] and files:
        module.warn('host %s: not running as root: %s keeps the running user as owner' % (host, plan.target))

    policy = cfg.managed_policy(params, who, root)._replace(stale=plan.stale)
    try:
        if module.check_mode:
            cfg.preflight(plan.changes, policy)
        elif plan.changes or plan.stale:
            backups = cfg.apply(module, plan.changes, policy)
            if plan.target in backups:
                out['backup_file'] = backups[plan.target]
    except cfg.Failure as exc:
        module.fail_json(msg=str(exc), invocation=invocation, **dict(out, **exc.details))
    module.exit_json(invocation=invocation, **out)


if __name__ == '__main__':
    main()
