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
extends_documentation_fragment:
  - omniroute.opencode.entry
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
      differs from what this run writes (a change of the module's own options shows up the
      same way), and a warning naming the host and the file lists them.
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
backup_file:
  description: The backup of the managed file.
  returned: changed and if O(backup=true)
  type: str
"""

import os
import socket
import stat

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.omniroute.opencode.plugins.module_utils import _configure as cfg
from ansible_collections.omniroute.opencode.plugins.module_utils import _gateway as gw
from ansible_collections.omniroute.opencode.plugins.module_utils import _managed as mg
from ansible_collections.omniroute.opencode.plugins.module_utils import _opencode as oc
from ansible_collections.omniroute.opencode.plugins.module_utils._files import make_dirs, write_atomic
from ansible_collections.omniroute.opencode.plugins.module_utils._jsonc import Document

MODE = 0o644
DIR_MODE = 0o755

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
)
ARGUMENT_SPEC.update(oc.ENTRY_ARGUMENT_SPEC)
# catalog, catalog_include, catalog_exclude, catalog_offline, validate_certs, timeout (not verify:
# the users module verifies, as each user, with that user's key).
ARGUMENT_SPEC.update((k, v) for k, v in gw.CATALOG_ARGUMENT_SPEC.items() if k != 'verify')


def _attributes_differ(path, root):
    """True when ``path`` is not 0644 (and, as root, not owned by 0:0)."""
    st = os.stat(path)
    return stat.S_IMODE(st.st_mode) != MODE or (root and (st.st_uid, st.st_gid) != (0, 0))


def _fix_attributes(path, root):
    if root:
        os.chown(path, 0, 0)
    os.chmod(path, MODE)


def _catalog(params, target, text, who):
    """``(models, keep, info, warnings)``: the catalog to write, as ``_configure.gateway_catalog``."""
    models = params['models']
    if params['catalog'] != 'gateway':
        return (list(oc.DEFAULT_MODELS) if models is None else models), False, dict(source='static'), []
    key = params['catalog_key']
    if not isinstance(key, str) or not key.strip():
        raise cfg.Failure('catalog=gateway needs catalog_key, a key the gateway accepts, to ask %s for the '
                          'model list (%s); the managed file never holds it. Nothing was changed in %s'
                          % (gw.models_url(_base_url(params, who)), who, target), path=target)
    wanted = dict(cfg.PARAM_DEFAULTS, name=params['name'], base_url=params['base_url'], api_key=key,
                  models=models or [], catalog_include=params['catalog_include'],
                  catalog_exclude=params['catalog_exclude'], catalog_offline=params['catalog_offline'],
                  validate_certs=params['validate_certs'], timeout=params['timeout'])
    wanted, keep, info, warnings = cfg.gateway_catalog(wanted, dict(os.environ), target, text, who)
    return wanted['models'], keep, info, warnings


def _base_url(params, who):
    try:
        return oc.normalize_base_url(params['base_url'])
    except oc.PlanError as exc:
        raise cfg.Failure('%s (%s)' % (exc, who))


def plan(params):
    """Every change to the managed directory (and profile), as ``_configure.Change``s.

    Returns ``(spec, target, entry, final, changes, extra)``; ``extra`` has ``drift`` (the
    owned paths another tool changed), ``catalog`` (where the catalog came from) and ``warnings``.
    """
    who = cfg.where()
    directory = os.path.abspath(params['directory'] or mg.default_directory())
    target, lower = mg.discover(directory)
    present = params['state'] == 'present'
    text, real = cfg._read(target, who)
    spec = None
    extra = dict(drift=[], warnings=[])
    if present:
        models, keep, extra['catalog'], extra['warnings'] = _catalog(params, target, text, who)
        try:
            spec = mg.ManagedSpec(name=params['name'], display_name=params['display_name'],
                                  base_url=params['base_url'], models=models,
                                  model_labels=params['model_labels'], model=params['model'],
                                  small_model=params['small_model'], only_gateway=params['only_gateway'],
                                  settings=params['settings'], keep_models=keep)
        except oc.PlanError as exc:
            raise cfg.Failure('%s (%s)' % (exc, who))
    changes = []
    for path in lower:
        ltext, lreal = cfg._read(path, who)
        if ltext is None:
            continue
        lplan = cfg._plan(path, ltext, lambda t: mg.plan_lower(t, params['name'], present), who)
        if lplan.changed:
            changes.append(cfg.Change(path, lreal, ltext, lplan.new_text, False, lplan.changes, 'config', params['name']))
    entry = None
    if present:
        tplan = cfg._plan(target, text, lambda t: mg.plan_managed(t, spec), who)
        entry = tplan.entry
        if tplan.changed or text is None:
            changes.append(cfg.Change(target, real, text, tplan.new_text, False, tplan.changes, 'config', params['name']))
        final = tplan.new_text
        extra['drift'] = mg.drift(text, tplan.new_text, params['name'])
    else:
        if text is not None:
            tplan = cfg._plan(target, text, lambda t: mg.plan_managed_absent(t, params['name']), who)
            if tplan.changed:
                changes.append(cfg.Change(target, real, text, tplan.new_text, False, tplan.changes, 'config', params['name']))
        final = None
    return spec, target, entry, final, changes, extra


def _profile(params, final, who):
    """``(path, old_bytes, new_bytes)`` of the macOS profile, new None for removal."""
    path = os.path.abspath(params['mobileconfig'])
    try:
        with open(path, 'rb') as handle:
            old = handle.read()
    except IOError:
        old = None
    if final is None:
        return path, old, None
    try:
        settings = Document(final).get(())
        new = mg.mobileconfig(settings, identifier=params['profile_identifier'],
                              organization=params['profile_organization'])
    except (ValueError, oc.PlanError) as exc:
        raise cfg.Failure('cannot build the profile %s (%s): %s' % (path, who, exc), path=path)
    return path, old, new


def _invocation(params):
    """The module arguments to echo back, without a credential someone put into settings."""
    shown = dict(params)
    if shown.get('catalog_key') is not None:
        shown['catalog_key'] = 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'
    if mg.find_secrets(params.get('settings') or {}):
        shown['settings'] = 'NOT_LOGGING_PARAMETER (it holds a credential-like value)'
    return {'module_args': shown}


def main():
    # no_log=True only keeps the arguments out of the target's syslog (settings may hold a key
    # by mistake); results are not censored by it.
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, no_log=True)
    params = module.params
    invocation = _invocation(params)
    root = os.geteuid() == 0
    who = cfg.where()
    try:
        spec, target, entry, final, changes, extra = plan(params)
        profile = _profile(params, final, who) if params['mobileconfig'] else None
    except cfg.Failure as exc:
        module.fail_json(msg=str(exc), invocation=invocation, **exc.details)

    files = [c.path for c in changes]
    words = dict((c.path, list(c.words)) for c in changes)
    # Ownership and mode of files that stay as they are.
    for path in [target] + ([profile[0]] if profile and profile[2] is not None else []):
        if path not in files and os.path.exists(path) and _attributes_differ(path, root):
            files.append(path)
            words.setdefault(path, []).append('set owner root and mode 0644' if root else 'set mode 0644')
    if profile and profile[1] != profile[2]:
        files.append(profile[0])
        words.setdefault(profile[0], []).append('removed the profile' if profile[2] is None else 'wrote the profile')

    out = dict(changed=bool(files), path=target, files=files, changes=words, drift=extra['drift'])
    if spec is not None:
        out.update(base_url=spec.base_url, models=spec.model_ids, entry=entry, catalog=extra['catalog'])
    for warning in extra['warnings']:
        module.warn(warning)
    if extra['drift']:
        module.warn('host %s: %s was changed by another tool in the parts this module owns (provider.%s, '
                    'the allow-list, the managed settings) at %s; %s'
                    % (socket.gethostname(), target, params['name'], ', '.join(extra['drift']),
                       'they would be put back (check mode)' if module.check_mode else 'they are put back'))
    if profile:
        out['mobileconfig'] = profile[0]
    if module._diff:
        out['diff'] = cfg.diff_views(changes, (), extra_keys=tuple(params['settings'] or ()))
        if profile and profile[1] != profile[2]:
            out['diff'].append(dict(before_header=profile[0], after_header=profile[0],
                                    before=(profile[1] or b'').decode('utf-8', 'replace'),
                                    after=(profile[2] or b'').decode('utf-8', 'replace')))
    if not root and params['directory']:
        module.warn('not running as root: %s keeps the running user as owner' % target)

    if module.check_mode or not files:
        module.exit_json(invocation=invocation, **out)
    try:
        for change in changes:
            if change.old is None:
                for made in make_dirs(os.path.dirname(change.real), DIR_MODE):
                    if root:
                        os.chown(made, 0, 0)
            backup = write_atomic(module, change.path, change.real, change.new, False,
                                  params['backup'] and change.old is not None)
            if backup and change.path == target:
                out['backup_file'] = backup
            _fix_attributes(change.real, root)
        if os.path.exists(target) and _attributes_differ(target, root):
            _fix_attributes(target, root)
        if profile:
            path, old, new = profile
            if new is None:
                if old is not None:
                    os.unlink(path)
            else:
                if old != new:
                    make_dirs(os.path.dirname(path), DIR_MODE)
                    write_atomic(module, path, os.path.realpath(path), new.decode('utf-8'), False, False)
                if _attributes_differ(path, root):
                    _fix_attributes(path, root)
    except (cfg.FileError, OSError, IOError) as exc:
        module.fail_json(msg='cannot write the managed config (%s): %s' % (who, exc), invocation=invocation, **out)
    module.exit_json(invocation=invocation, **out)


if __name__ == '__main__':
    main()
