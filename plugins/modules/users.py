#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, omniroute.opencode contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: users
short_description: Configure OpenCode's OmniRoute provider for every user of a host in one run
version_added: "0.2.0"
description:
  - Takes the host's whole user list (the role's O(users)) and, in one module execution, looks up
    the accounts, checks everything, then merges (or removes) each user's provider entry with the
    same code and guarantees as M(omniroute.opencode.provider) (lossless, atomic, check and diff
    mode, keys never shown).
  - All checks come before any write. Duplicate names, unknown accounts (for C(state=present)),
    accounts this process may not act for, users without a key, and every file that cannot be
    parsed or planned are reported together, naming the host and the users; then nothing is
    written on the host.
  - Each user's files are read and written only by a child process that has become that user
    (uid, gid and supplementary groups, C(HOME) and a login-like environment), never by root in
    the user's tree; a symlink a user planted can only lead where that user may write anyway.
  - Root is needed only for accounts other than the one the module runs as. Without root, asking
    for another account fails with a clear error.
  - For the connecting account the session's C(XDG_CONFIG_HOME)/C(XDG_DATA_HOME) are honoured;
    other accounts get the environment C(sudo -u) would give (C(HOME), C(USER), C(LOGNAME),
    C(SHELL), C(PATH)). C(~/.opencode) is honoured for everyone.
  - With O(installed_keys=true) it only reads, as each user, the installed key of provider O(name)
    (nothing else from the files) and returns RV(key_requests) for
    M(omniroute.opencode.api_key)'s O(omniroute.opencode.api_key#module:keys); run it with C(no_log).
  - M(omniroute.opencode.provider) stays the module for one file.
author:
  - OmniRoute OpenCode maintainers (@omniroute)
options:
  users:
    description: The users of this host, in order.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Account name.
        type: str
        required: true
      state:
        description: "C(present) configures the user; C(absent) removes the entry and stored key."
        type: str
        choices: [present, absent]
      api_key:
        description:
          - This user's key; wins over O(key_maps). Must be a string; a list or a mapping is refused
            without being shown.
        type: raw
      key_store:
        description: Overrides O(key_store).
        type: str
        choices: [config, auth, env]
      key_env_var:
        description: Overrides O(key_env_var).
        type: str
      base_url:
        description: Overrides O(base_url).
        type: str
      models:
        description: Overrides O(models).
        type: list
        elements: raw
      model_labels:
        description: Overrides O(model_labels).
        type: dict
      model:
        description: Overrides O(model).
        type: str
      small_model:
        description: Overrides O(small_model).
        type: str
      config_path:
        description: Config file to edit (C(~) is the user's home).
        type: str
      auth_path:
        description: Explicit C(auth.json).
        type: str
      rotate_key:
        description: Overrides O(omniroute_rotate).
        type: bool
      omniroute_allowed_models:
        description: Overrides O(omniroute_allowed_models).
        type: list
        elements: str
      omniroute_expires_at:
        description: Overrides O(omniroute_expires_at).
        type: str
      key_policy:
        description:
          - This user's OmniRoute key settings, passed on in RV(key_requests) as C(policy) (see
            M(omniroute.opencode.api_key)'s O(omniroute.opencode.api_key#module:policy)).
        type: dict
      catalog:
        description: Overrides O(catalog).
        type: str
        choices: [static, gateway]
      catalog_include:
        description: Overrides O(catalog_include).
        type: list
        elements: str
      catalog_exclude:
        description: Overrides O(catalog_exclude).
        type: list
        elements: str
      verify:
        description: Overrides O(verify).
        type: bool
  key_maps:
    description:
      - Mappings from user name to key, highest precedence first, for users without their own
        C(api_key) (for the role - keys from OmniRoute, C(opencode_api_keys), C(opencode_api_key_var)).
    type: list
    elements: dict
    default: []
  managed_dir:
    description:
      - With O(scope=managed) and O(verify), the managed config directory the entry was written to
        (M(omniroute.opencode.managed)'s O(omniroute.opencode.managed#module:directory)). Default - the
        one OpenCode reads on this OS.
    type: path
  managed_cleanup:
    description:
      - With O(scope=user), also look for a provider O(name) entry that this collection wrote into
        OpenCode's managed config (in O(managed_dir); M(omniroute.opencode.managed)'s record says
        which), left from managed scope. It would override every user's entry, so the files that hold
        it are returned as RV(managed_files), for M(omniroute.opencode.managed) (O(omniroute.opencode.managed#module:state=absent),
        O(omniroute.opencode.managed#module:owned_only=true)) to remove. With such an entry and no
        present user listed, nothing is written and the run fails (nobody would have an entry
        afterwards). Only read, as the account the module runs as; the managed files are world-readable.
      - With O(verify=true), each user's probe reads those managed files as they will be once that
        entry is removed, so a user is ready when nothing else overrides their own entry.
      - The M(omniroute.opencode.opencode) role sets it in user scope, so a host needs no second
        module run to find out.
    type: bool
    default: false
  scope:
    description:
      - V(user) - the provider entry is written into each user's own config (see O(key_store)).
      - V(managed) - the entry lives in OpenCode's managed config, written once per host by
        M(omniroute.opencode.managed). Here each user's key goes into their C(auth.json) (0600,
        written as the user; with O(key_source=user) it is only read, to report RV(users) C(key)),
        and every C(provider.<name>) copy in the user's own global configs is removed, since
        OpenCode would merge it under the managed entry. The managed module writes the entry, so
        O(display_name), O(models), O(model_labels), O(model), O(small_model), O(catalog),
        O(catalog_include), O(catalog_exclude) and O(catalog_offline) do not apply here;
        O(base_url) is what O(verify) expects the managed entry to send to. Every present user
        needs the key store C(auth).
      - With V(managed) and O(verify=true), the probe reports managed-scope problems instead of
        the user-scope ones - the user's key missing from C(auth.json), the gateway rejecting
        it, the managed file missing or changed by another tool (no entry, another C(baseURL),
        an C(apiKey), the provider disabled), user-level layers that still carry
        C(provider.<name>) after the planned changes (global configs, C(OPENCODE_CONFIG),
        C(~/.opencode)), and C(OPENCODE_TEST_MANAGED_CONFIG_DIR) moving the managed layer away.
        See RV(users).
      - V(state=absent) for a user removes their key and their own entries in both scopes.
    type: str
    choices: [user, managed]
    default: user
  key_store:
    description:
      - Where keys are kept, for users that do not set their own O(users[].key_store).
      - With O(scope=managed) it is always V(auth) (the managed entry holds no key); with
        O(key_source=user), V(config) means V(auth) (the developer's own key lives in C(auth.json)).
    type: str
    choices: [config, auth, env]
    default: config
  key_source:
    description:
      - Where the keys come from. V(given) - O(users[].api_key) and O(key_maps), written to the key store.
      - V(user) - each developer provides their own key, with C(opencode auth login) and OmniRoute's key.
        For users with the key store C(auth), the entry is written without a key and C(auth.json) is only
        read, as that user, to report in RV(users) C(key) whether it holds a real key for provider
        O(name) (V(present) or V(missing)); the key is kept byte for byte and never returned. A user
        without a key is a warning naming host and user, not a failure. C(state=absent) still removes
        the entry and the stored key. The key store C(config) cannot be used with it, and no O(key_maps)
        or O(users[].api_key) are read.
    type: str
    choices: [given, user]
    default: given
  key_env_var:
    description: "Variable named by C({env:VAR}) for the C(env) store."
    type: str
    default: OMNIROUTE_API_KEY
  backup:
    description: Keep a timestamped backup of every changed file.
    type: bool
    default: false
  installed_keys:
    description: Only read each user's installed key and return RV(key_requests); write nothing.
    type: bool
    default: false
  probe_keys:
    description:
      - Only ask, from this host, C(GET <base_url>/models) with each key listed, and return
        RV(probes); write nothing and read no user's files. The role lists here each new key
        OmniRoute issued that would replace an installed one, before it is written
        (docs/omniroute-keys.md).
      - The request goes through the collection's one HTTP client - no redirect followed,
        O(timeout) for the whole request, a cap on the answer's size, O(validate_certs).
    type: list
    elements: dict
    suboptions:
      label:
        description: The user the key is for (the key in RV(probes)).
        type: str
        required: true
      key:
        description: The new key.
        type: str
        required: true
      base_url:
        description: The gateway to ask (default O(base_url)).
        type: str
  check_keys:
    description: Fail when a user needs a key and has none. V(false) only makes sense in check mode (a preflight before keys exist).
    type: bool
    default: true
  omniroute_key_name:
    description: Server key name; C({user}) and C({host}) are replaced.
    type: str
    default: "opencode-{user}@{host}"
  omniroute_rotate:
    description: Ask for every key to be rotated.
    type: bool
    default: false
  omniroute_allowed_models:
    description: Allowed models for every key.
    type: list
    elements: str
  omniroute_expires_at:
    description: Expiry for every key.
    type: str
extends_documentation_fragment:
  - omniroute.opencode.entry
  - omniroute.opencode.host
  - omniroute.opencode.catalog
  - omniroute.opencode.verify
  - omniroute.opencode.attributes
  - omniroute.opencode.attributes.action_group
  - ansible.builtin.action_common_attributes
  - action_common_attributes.files
  - action_common_attributes.actiongroups
attributes:
  check_mode:
    support: full
    description: Plans every user's files as that user and writes nothing.
  diff_mode:
    support: full
    description: "One diff per changed file, headed C(<user>: <path>); keys masked."
  safe_file_operations:
    support: full
    description:
      - Each user's files are written by a process running as that user, to a temporary file in
        the same directory that then replaces the file by a rename.
  vault:
    support: none
    description: Reads no vaulted files itself.
notes:
  - Module executions per host - one, plus, when keys come from OmniRoute, one with O(installed_keys=true)
    and, when a rotation has new keys to check, one with O(probe_keys).
"""

EXAMPLES = r"""
- name: Configure OpenCode for every developer of this laptop
  omniroute.opencode.users:
    host: "{{ inventory_hostname }}"
    base_url: https://omniroute.example.com
    users:
      - {name: alice, api_key: "{{ vault_alice_key }}"}
      - {name: bob, key_store: env}
      - {name: carol, state: absent}
  become: true

- name: Pull mode - each developer logs in with their own key; report who has not yet
  omniroute.opencode.users:
    base_url: https://omniroute.example.com
    key_store: auth
    key_source: user
    users: [{name: alice}, {name: bob}]
  become: true

- name: Options the OpenCode modules share, set once for the block (the opencode action group)
  module_defaults:
    group/omniroute.opencode.opencode:
      base_url: https://omniroute.example.com
      models: [auto, claude-opus-4-7]
  become: true
  block:
    - name: Pin every OpenCode on the host to the gateway
      omniroute.opencode.managed:
        only_gateway: true

    - name: Each developer's own key in their credential store
      omniroute.opencode.users:
        scope: managed
        key_store: auth
        users:
          - {name: alice, api_key: "{{ vault_alice_key }}"}
"""

RETURN = r"""
users:
  description: Per user, what M(omniroute.opencode.provider) returns (path, files, changes, auth_path,
    auth_changed, base_url, models, entry with the key masked, catalog, and verify with O(verify=true);
    with O(key_source=user) also C(key), V(present) or V(missing)), or C(skipped) for an absent user
    without an account; plus C(backup_files) and C(warnings) (this user's warnings, also emitted as
    module warnings). For a user whose write failed, C(failed), C(msg), and C(written), C(restored) and
    C(not_restored) as M(omniroute.opencode.provider) returns them.
  returned: always
  type: dict
  contains:
    verify:
      description:
        - With O(verify=true), what OpenCode will meet for this user (no key in it). In user scope the
          fields of M(omniroute.opencode.provider)'s RV(omniroute.opencode.provider#module:verify).
        - With O(scope=managed) - C(scope) (V(managed)); C(key) (V(present) or V(missing), the user's
          C(auth.json) after the planned changes) and C(auth_path); C(url), C(reachable), C(status),
          C(key_accepted) (null without a key), C(offered), C(offered_chat) - the gateway's answer to
          C(GET <base_url>/models) with that key; C(managed) - the managed file found (C(path),
          C(directory), C(found), C(entry), C(base_url), C(expected_base_url), C(models) and
          C(matches), true when the entry is the one the role writes); C(missing) - managed catalog
          models the key is not offered; C(layers) - user-level config files that still change the
          provider after the planned changes (C(path), C(kind), C(effects)); C(opencode),
          C(opencode_version); C(problems) (in words, each naming the file); C(ready) (true when
          there is no problem) and C(cause) (null when ready, otherwise the host, the user and the
          problems).
      returned: when O(verify=true) and the user is present
      type: dict
      sample:
        scope: managed
        key: present
        auth_path: /home/alice/.local/share/opencode/auth.json
        reachable: true
        status: 200
        key_accepted: true
        managed: {path: /etc/opencode/opencode.json, found: true, entry: true, matches: true,
                  base_url: "https://omniroute.example.com/v1", expected_base_url: "https://omniroute.example.com/v1"}
        missing: []
        layers:
          - {path: /home/alice/work/oc.json, kind: OPENCODE_CONFIG, effects: ["sets provider.omniroute (options.baseURL)"]}
        problems: ["/home/alice/work/oc.json (OPENCODE_CONFIG) still sets provider.omniroute (options.baseURL)"]
        ready: false
        cause: "user alice on laptop7: /home/alice/work/oc.json (OPENCODE_CONFIG) still sets provider.omniroute (options.baseURL)"
managed_files:
  description: With O(managed_cleanup=true) in user scope, the managed config files that hold a provider
    O(name) entry this collection wrote (to remove with M(omniroute.opencode.managed)); empty when there is
    none.
  returned: when O(managed_cleanup=true)
  type: list
  elements: str
  sample: [/etc/opencode/opencode.json]
keys_missing:
  description: With O(key_source=user), the users (key store C(auth), present) whose C(auth.json) holds no
    real key for provider O(name); each also has C(key=missing) in RV(users) and a warning.
  returned: when O(key_source=user)
  type: list
  elements: str
probes:
  description: With O(probe_keys), per label whether the gateway took the key from this host
    (C(ok)), the address asked (C(url)), its HTTP C(status) (null when it did not answer) and
    C(why) the key is not taken (null when it is). Holds no key.
  returned: when O(probe_keys) is given
  type: dict
  sample: {alice: {url: "https://omniroute.example.com/v1/models", ok: false, status: 401,
    why: "the gateway refused the new key from the laptop (HTTP 401)"}}
key_requests:
  description: With O(installed_keys=true), one entry per user whose key OmniRoute manages (label, name,
    state, rotate, installed_key, allowed_models, expires_at, policy). Holds keys - use no_log.
  returned: when O(installed_keys=true)
  type: list
  elements: dict
"""

import gc
import json
import os

from ansible.module_utils import basic
from ansible.module_utils.basic import AnsibleModule
from ansible_collections.omniroute.opencode.plugins.module_utils import _configure as cfg
from ansible_collections.omniroute.opencode.plugins.module_utils import _gateway as gw
from ansible_collections.omniroute.opencode.plugins.module_utils import _http
from ansible_collections.omniroute.opencode.plugins.module_utils import _keys as keys
from ansible_collections.omniroute.opencode.plugins.module_utils import _layout
from ansible_collections.omniroute.opencode.plugins.module_utils import _opencode as oc
from ansible_collections.omniroute.opencode.plugins.module_utils import _redact
from ansible_collections.omniroute.opencode.plugins.module_utils import _users as us
from ansible_collections.omniroute.opencode.plugins.module_utils._layout import Layout

USER_OPTIONS = dict(
    name=dict(type='str', required=True),
    state=dict(type='str', choices=['present', 'absent']),
    # raw, so that a list or a mapping given by mistake is refused unseen, not written as its repr.
    api_key=dict(type='raw', no_log=True),
    key_store=dict(type='str', choices=['config', 'auth', 'env']),
    key_env_var=dict(type='str', no_log=False),
    base_url=dict(type='str'),
    models=dict(type='list', elements='raw'),
    model_labels=dict(type='dict'),
    model=dict(type='str'),
    small_model=dict(type='str'),
    config_path=dict(type='str'),
    auth_path=dict(type='str'),
    rotate_key=dict(type='bool', no_log=False),
    omniroute_allowed_models=dict(type='list', elements='str'),
    omniroute_expires_at=dict(type='str'),
    key_policy=dict(type='dict', no_log=False),
    catalog=dict(type='str', choices=['static', 'gateway']),
    catalog_include=dict(type='list', elements='str'),
    catalog_exclude=dict(type='list', elements='str'),
    verify=dict(type='bool'),
)

ARGUMENT_SPEC = dict(
    users=dict(type='list', elements='dict', required=True, options=USER_OPTIONS),
    key_maps=dict(type='list', elements='dict', default=[], no_log=True),
    key_store=dict(type='str', choices=['config', 'auth', 'env'], default='config'),
    key_source=dict(type='str', choices=['given', 'user'], default='given'),
    key_env_var=dict(type='str', default='OMNIROUTE_API_KEY', no_log=False),
    backup=dict(type='bool', default=False),
    installed_keys=dict(type='bool', default=False),
    probe_keys=dict(type='list', elements='dict', no_log=False, options=dict(
        label=dict(type='str', required=True),
        key=dict(type='str', required=True, no_log=True),
        base_url=dict(type='str'),
    )),
    check_keys=dict(type='bool', default=True),
    omniroute_key_name=dict(type='str', default='opencode-{user}@{host}', no_log=False),
    omniroute_rotate=dict(type='bool', default=False),
    omniroute_allowed_models=dict(type='list', elements='str'),
    omniroute_expires_at=dict(type='str'),
    scope=dict(type='str', choices=['user', 'managed'], default='user'),
    managed_dir=dict(type='path'),
    managed_cleanup=dict(type='bool', default=False),
)
ARGUMENT_SPEC.update(oc.ENTRY_ARGUMENT_SPEC)
ARGUMENT_SPEC.update(us.HOST_ARGUMENT_SPEC)
ARGUMENT_SPEC.update(gw.CATALOG_ARGUMENT_SPEC)


def _pick(user, params, option):
    value = user.entry.get(option)
    return params[option] if value is None else value


def provider_params(user, params, key):
    """The ``_configure`` parameters for one user (what the provider module would get)."""
    out = dict(cfg.PARAM_DEFAULTS)
    out.update(name=params['name'], display_name=params['display_name'], state=user.state,
               backup=params['backup'], path=user.entry.get('config_path'),
               auth_path=user.entry.get('auth_path'))
    out.update(catalog_offline=params['catalog_offline'], validate_certs=params['validate_certs'],
               timeout=params['timeout'], managed_dir=params['managed_dir'])
    for option in ('base_url', 'model_labels', 'model', 'small_model', 'catalog', 'catalog_include',
                   'catalog_exclude', 'verify'):
        out[option] = _pick(user, params, option)
    models = _pick(user, params, 'models')
    if models is None:
        models = list(oc.DEFAULT_MODELS) if out['catalog'] == 'static' else []
    out['models'] = models
    if user.store == 'env':
        out.update(api_key='{env:%s}' % _pick(user, params, 'key_env_var'), key_store='config')
    elif params['key_source'] == 'user':
        # No key from the caller: the placeholder only fills the spec; key_store=auth keeps it out
        # of the config, and key_source=user keeps auth.json as the developer left it.
        out.update(api_key=oc.DEFAULT_API_KEY, key_store=user.store, key_source='user')
    else:
        out.update(api_key=key or oc.DEFAULT_API_KEY, key_store=user.store)
    return out


# --------------------------------------------------------------------------- work in the child
def _policy(uparams, who, user_plan):
    return cfg.Policy(backup=uparams['backup'], who=who, stale=user_plan.stale, home=user_plan.home)


def configure_work(module, user, uparams, host, secrets):
    """``(plan, apply)`` for one user's process; ``secrets`` are that user's key only."""
    who = cfg.where(user.name, host)

    def plan(environ):
        user_plan = cfg.plan(uparams, environ, who)
        # Every check that can fail this user comes before any user of the host is written.
        cfg.preflight(user_plan.changes, _policy(uparams, who, user_plan))
        data = cfg.describe(user_plan, secrets, module._diff, diff_label=user.name)
        data['warnings'] = user_plan.warnings
        if uparams['verify'] and user_plan.spec is not None:
            data['verify'] = probe(uparams, user_plan, environ, secrets, module.params.get('_managed_after'))
        return _redact.Redactor(secrets).json(data), user_plan

    def apply(user_plan):
        return cfg.apply(module, user_plan.changes, _policy(uparams, who, user_plan))

    return plan, apply


def managed_work(module, user, uparams, host, secrets):
    """``(plan, apply)`` for one user's process in managed scope (``_configure.plan_managed_scope``).

    The entry lives in the managed file (the managed module); here the user's key goes into
    their auth.json and their own ``provider.<name>`` copies are removed.
    """
    who = cfg.where(user.name, host)

    def plan(environ):
        user_plan = cfg.plan_managed_scope(uparams, environ, who)
        cfg.preflight(user_plan.changes, _policy(uparams, who, user_plan))
        data = cfg.describe(user_plan, secrets, module._diff, diff_label=user.name)
        data['warnings'] = user_plan.warnings
        data['scope'] = 'managed'
        if user.state == 'present' and uparams['verify']:
            own = None
            if uparams.get('key_source') == 'user':
                own = oc.installed_key_from_auth(_read_or_none(user_plan.auth_path, who) or '{}', uparams['name'])
            data['verify'] = managed_probe(uparams, environ, user_plan, user_plan.auth_path, who, secrets, own)
        return _redact.Redactor(secrets).json(data), user_plan

    def apply(user_plan):
        return cfg.apply(module, user_plan.changes, _policy(uparams, who, user_plan))

    return plan, apply


# What the module process holds of every user's key besides its arguments and the users'
# parameters: main's list of secrets and its redactor, run_configure's keys by user and the works
# (their plans close over the keys), a helper's questions.  A forked child clears each
# (forget_others); the parent's own copies stay, as a fork copies memory.
_PARENT_ONLY = []


def parent_only(*held):
    """Note dicts, lists and redactors of every user's keys that a forked child must clear."""
    _PARENT_ONLY.extend(held)


def forget_others(module, keep, works_params, own=None):
    """In a user's child process, before it becomes the user: drop every key but ``keep``
    (the user's own); ``own`` is that user's parameters, which stay as they are.

    The child is a fork of the module process; what is reachable of the other users' keys goes
    (the module's arguments and its validated copy, its no_log values, the other users'
    parameters, what :func:`parent_only` noted, Ansible's raw argument buffer).  Python cannot
    wipe what it freed, so the child is also made not dumpable (``_users.not_dumpable``).
    """
    for held in _PARENT_ONLY:
        held.clear()
    del _PARENT_ONLY[:]
    # AnsibleModule keeps its argument validation, whose no_log values are every user's key.
    module.validation_result = None
    params = module.params
    for mapping in params.get('key_maps') or []:
        if isinstance(mapping, dict):
            mapping.clear()
    for entry in params.get('users') or []:
        if isinstance(entry, dict) and entry.get('api_key') is not None and entry.get('api_key') != keep:
            entry['api_key'] = None
    for uparams in works_params:
        if uparams is not own and uparams.get('api_key') != keep:
            uparams['api_key'] = None
    module.no_log_values.clear()
    if isinstance(keep, str) and keep:
        module.no_log_values.add(keep)
    # Gateway answers shared by the parent are kept only for this user's own key.
    gw.forget_answers(keep)
    if hasattr(basic, '_ANSIBLE_ARGS'):
        basic._ANSIBLE_ARGS = None  # pylint: disable=protected-access
    gc.collect()


def probe(uparams, user_plan, environ, secrets, managed_after=None):
    """``gw.verify`` for one user's plan, in the user's process; a probe that breaks is reported.
    ``managed_after``: managed files as they will be once ``managed_cleanup``'s entry is removed."""
    home = environ.get('HOME') or user_plan.target
    pending = cfg.known_texts(user_plan)
    pending.update(managed_after or {})
    try:
        result = gw.verify(dict(uparams, base_url=user_plan.spec.base_url), uparams['api_key'], environ, home,
                           target=user_plan.target, configured=user_plan.spec.model_ids,
                           pending=pending)
    except Exception as exc:  # pylint: disable=broad-except
        result = gw.failed_probe(gw.models_url(user_plan.spec.base_url),
                                 'the probe failed: %s: %s' % (type(exc).__name__, exc))
    # Nothing the gateway or a file said may carry a key back (masked like every other output).
    return _redact.Redactor(secrets).json(result)


def managed_probe(uparams, environ, user_plan, auth_path, who, secrets, user_key=None):
    """``_managed.verify_user`` for one user in managed scope, in the user's process.

    The key is the one auth.json holds after the plan: the given one, or (``key_source=user``)
    ``user_key`` as read from auth.json.  A probe that breaks is reported, never raised.
    """
    key = user_key if uparams.get('key_source') == 'user' else uparams['api_key']
    state = 'present' if oc.is_real_key(key) else 'missing'
    # The user's process always has HOME (_users.user_environ sets it).
    home = environ.get('HOME') or '/'
    try:
        base_url = oc.normalize_base_url(uparams['base_url'])
        result = cfg.mg.verify_user(dict(uparams, base_url=base_url), key if state == 'present' else None, environ,
                                    home, state, auth_path, who, pending=cfg.known_texts(user_plan),
                                    directory=uparams.get('managed_dir'))
    except Exception as exc:  # pylint: disable=broad-except
        result = gw.failed_probe(None, '%s: the probe failed: %s: %s' % (who, type(exc).__name__, exc),
                                 scope='managed', key=state)
    return _redact.Redactor(list(secrets) + [key]).json(result)


def installed_key_work(uparams, host):
    """``plan`` that reads only the installed key of provider ``name`` for one user."""
    who = cfg.where(uparams.get('user'), host)

    def plan(environ):
        layout = Layout(environ)
        target, lower, _warnings = cfg.config_files(uparams, layout, uparams['name'])
        paths = [target] + list(reversed(lower))
        texts = [_read_or_none(p, who) for p in paths]
        auth = uparams['auth_path'] or layout.auth_path
        key = oc.installed_key([t for t in texts if t], _read_or_none(auth, who), uparams['name'])
        return {'installed_key': key}, None

    return plan


def version_work():
    """``plan`` for one user's process that looks up the ``opencode`` binary as that user and,
    when it is one every user shares and none can change (``_layout.shared_binary``), asks its
    version once for everyone (:func:`share_opencode_version`)."""

    def plan(environ):
        binary = Layout(environ).find_opencode()
        if not binary or not _layout.shared_binary(binary):
            return {}, None
        identity = _layout.binary_identity(binary)
        version, why = _layout.opencode_version(binary)
        return {'identity': list(identity) if identity else None, 'version': version, 'why': why,
                'path': environ.get('PATH', os.defpath)}, None

    return plan


def share_opencode_version(module, users, works_params, redact):
    """``opencode --version`` once per host instead of once per user (issue 22).

    Verify reports each user's OpenCode version, and one ``--version`` of the real client costs
    about 0.75 s of CPU.  With two or more users to verify, one process of the first of them
    looks the binary up and, when it is root's and no user can change it or its directories,
    runs it once; every user's process still looks up its own binary and reuses the answer only
    for that very file (same real path, inode, size and times; same PATH).  Nothing runs as root.
    """
    probing = [u for u, p in zip(users, works_params) if p.get('verify') and u.state == 'present']
    if len(probing) < 2:
        return
    first = probing[0]
    # Only when there is such a binary where a lookup can end outside the homes (no process otherwise).
    if not _layout.shared_candidates(us.user_environ(first.account).get('PATH')):
        return
    children = start_all([first], [(version_work(), None)], redact, {first.name: None}, module, works_params,
                         own_params=[None])
    try:
        reply = children[0][1].reply()
        children[0][1].stop()
    finally:
        finish(children)
    data = reply.data if reply.ok else None
    if data and data.get('identity'):
        _layout.share_version(data['identity'], (data.get('version'), data.get('why')), data.get('path'))


def _asks_gateway(user, uparams):
    """The ``(base_url, key, timeout, validate_certs)`` of the ``GET /models`` this user's process
    will send, when the parent can know it (a literal key given for the user), else None."""
    if user.state != 'present' or not (uparams.get('verify') or uparams.get('catalog') == 'gateway'):
        return None
    key = uparams.get('api_key')
    if uparams.get('key_source') == 'user' or not oc.is_real_key(key) or oc.is_reference(key):
        return None
    try:
        base_url = oc.normalize_base_url(uparams['base_url'])
    except oc.PlanError:
        return None
    return (base_url, key, uparams.get('timeout') or gw.DEFAULT_TIMEOUT, bool(uparams.get('validate_certs', True)))


def models_work(question):
    """``plan`` for one user's process that asks the gateway once for every user sending that key."""

    def plan(_environ):
        answer = gw.fetch_models(*question)
        return {'answer': answer._asdict()}, None

    return plan


def share_gateway_answers(module, users, works_params, redact):
    """One ``GET <base_url>/models`` per key and host instead of one per user (issue 22).

    Users sent the same literal key (a team key, say) ask the same question of the same gateway:
    one process of the first of them asks it, and the processes of the others get that answer
    (``gw.remember_answer``).  Only requests with the same key share an answer, and only between
    processes whose environment is built the same way (the connecting account keeps the
    session's environment, proxies included; every other account gets a login-like one).  A
    user's process keeps only the answers for its own key (:func:`forget_others`).
    """
    groups = {}
    parent_only(groups)
    for user, uparams in zip(users, works_params):
        question = _asks_gateway(user, uparams)
        if question is not None:
            groups.setdefault((question, user.account.uid == os.geteuid()), []).append(user)
    for (question, _own), members in groups.items():
        if len(members) < 2:
            continue
        first = members[0]
        children = start_all([first], [(models_work(question), None)], redact, {first.name: question[1]},
                             module, works_params, own_params=[None])
        try:
            reply = children[0][1].reply()
            children[0][1].stop()
        finally:
            finish(children)
        data = (reply.data or {}).get('answer') if reply.ok else None
        if isinstance(data, dict) and set(data) == set(gw.Answer._fields):
            gw.remember_answer(*(question + (gw.Answer(**data),)))


def _read_or_none(path, who):
    try:
        return cfg.read(path, who)[0]
    except cfg.Failure:
        return None


# --------------------------------------------------------------------------- the run
def start_all(users, works, redact, keys=None, module=None, works_params=(), own_params=None):
    """One child process per user; with ``keys`` (the users' own keys, by name) each child holds
    only its own (see :func:`forget_others`) and redacts with it.

    ``works_params`` are every user's parameters (a child forgets the others' keys in them);
    ``own_params``, one per entry of ``users``, the parameters a child keeps as they are: by
    default ``works_params`` itself, which must then be in the order of ``users``.  A child
    that works for the others (the shared ``--version``, a shared gateway answer) keeps none:
    ``[None]``."""
    children = []
    owns = works_params if own_params is None else own_params
    us.before_forks()
    try:
        for index, (user, (plan, apply)) in enumerate(zip(users, works)):
            forget = None
            own = redact
            if keys is not None:
                key = keys.get(user.name)
                own = _redact.Redactor([key] if key else []).text
                forget = _forgetter(module, key, works_params, owns[index] if owns else None)
            children.append((user, us.UserProcess(user.account, plan, apply, own, forget)))
    finally:
        us.after_forks()
    return children


def _forgetter(module, key, works_params, own):
    return lambda: forget_others(module, key, works_params, own)


def finish(children):
    for _user, child in children:
        child.close()


def _clean(reply, redact):
    """A child's reply with every known key masked (the parent knows them all; a child only its own)."""
    try:
        data = json.loads(redact(json.dumps(reply.data))) if reply.data is not None else None
    except ValueError:  # a key that took JSON's syntax with it: say nothing rather than something broken
        return us.Reply(False, None, 'the process of the user answered with something that cannot be shown')
    return us.Reply(reply.ok, data, redact(reply.msg) if reply.msg else reply.msg)


def collect_plans(children, redact=lambda text: text):
    """Each child's plan; ``(results, problems)``."""
    results, problems = {}, []
    for user, child in children:
        reply = _clean(child.reply(), redact)
        if reply.ok:
            results[user.name] = dict(reply.data, state=user.state, key_store=user.store)
        else:
            problems.append("user '%s': %s" % (user.name, reply.msg))
    return results, problems


def run_configure(module, users, host, redact):
    params = module.params
    key_maps = [] if params['key_source'] == 'user' else params['key_maps']
    todo = [u for u in users if u.account.exists]
    keys = dict((u.name, _redact.pick_key(u.entry, key_maps)) for u in todo)
    work = managed_work if params['scope'] == 'managed' else configure_work
    if params['scope'] == 'managed':
        cfg.mg.imported()  # once, before the forks (not in every user's process)
    works_params = [provider_params(u, params, keys[u.name]) for u in todo]
    # Each child gets only its own user's key: in its work, its redactor, and what it keeps.
    works = [work(module, u, p, host, [keys[u.name]] if keys[u.name] else []) for u, p in zip(todo, works_params)]
    parent_only(keys, works)
    with gw.share_answers():
        share_opencode_version(module, todo, works_params, redact)
        share_gateway_answers(module, todo, works_params, redact)
        children = start_all(todo, works, redact, keys, module, works_params)
    written, failed = [], []
    try:
        results, problems = collect_plans(children, redact)
        write = not problems and not module.check_mode
        for user, child in children:
            if not write or not results[user.name]['changed']:
                child.stop()
                continue
            reply = _clean(child.go(), redact)
            if not reply.ok:
                failed.append(user.name)
                problems.append("user '%s': %s" % (user.name, reply.msg))
                results[user.name].update(failed=True, msg=reply.msg, **dict(
                    (k, v) for k, v in (reply.data or {}).items() if k in ('changed', 'written', 'restored',
                                                                           'not_restored', 'backup_files')))
                results[user.name]['changed'] = bool((reply.data or {}).get('changed'))
                continue
            written.append(user.name)
            if reply.data:
                results[user.name]['backup_files'] = reply.data
    finally:
        finish(children)
    if problems and not written and not failed:
        module.fail_json(msg=us.report(host, problems))
    if problems:
        changed = bool(written) or any(results[n].get('changed') for n in failed)
        if written:
            others = 'configured %s' % ', '.join(written)
        else:
            others = 'no other user was written'
        module.fail_json(msg='host %s: %s; %s' % (host, '; '.join(problems), others), changed=changed,
                         users=_public(results))
    for user in users:
        if not user.account.exists:
            results[user.name] = {'changed': False, 'skipped': True, 'state': user.state, 'key_store': user.store,
                                  'msg': 'no such account; nothing to remove'}
    return results


def _public(results):
    return dict((name, dict((k, v) for k, v in r.items() if k != 'diff')) for name, r in results.items())


def key_request(user, params, host, installed):
    name = keys.key_name(params['omniroute_key_name'], user.name, host)
    req = dict(label=user.name, name=name, state=user.state)
    if user.state == 'present':
        req.update(rotate=_pick_rotate(user, params), installed_key=installed,
                   allowed_models=_pick(user, params, 'omniroute_allowed_models'),
                   expires_at=_pick(user, params, 'omniroute_expires_at'),
                   policy=user.entry.get('key_policy'))
    return req


def _pick_rotate(user, params):
    value = user.entry.get('rotate_key')
    return bool(params['omniroute_rotate'] if value is None else value)


def run_installed_keys(module, users, host, redact):
    params = module.params
    wanted = [u for u in users if u.state == 'absent' or (us.needs_literal_key(u) and not u.entry.get('api_key'))]
    readable = [u for u in wanted if u.state == 'present' and u.account.exists]
    works, works_params = [], []
    for user in readable:
        uparams = provider_params(user, params, None)
        uparams['user'] = user.name
        works_params.append(uparams)
        works.append((installed_key_work(uparams, host), None))
    # These children read keys; they are given none.
    children = start_all(readable, works, redact, dict((u.name, None) for u in readable), module, works_params)
    try:
        results, problems = collect_plans(children, redact)
        for _user, child in children:
            child.stop()
    finally:
        finish(children)
    if problems:
        module.fail_json(msg=us.report(host, problems))
    return [key_request(u, params, host, (results.get(u.name) or {}).get('installed_key')) for u in wanted]


def default_key_store(params):
    """The key store of users that do not set their own: the policy of scopes and key sources.

    In managed scope every key is kept in the user's ``auth.json`` (the managed entry has none),
    and a developer's own key (``key_source=user``) lives there too, so the default ``config``
    becomes ``auth`` in both cases; ``env`` stays with ``key_source=user``.  A store a user sets
    explicitly is not changed: one that cannot work is refused with the other problems.
    """
    store = params['key_store']
    if params['scope'] == 'managed' or (params['key_source'] == 'user' and store == 'config'):
        return 'auth'
    return store


def echo_arguments(module, shown):
    """Every result of this run echoes ``shown`` as its arguments instead of ``module.params``
    (``_redact.Redactor.args``: per-model headers and keys masked)."""
    for name in ('exit_json', 'fail_json'):
        real = getattr(module, name)

        def finish(real=real, **result):
            result.setdefault('invocation', {'module_args': shown})
            real(**result)
        setattr(module, name, finish)


def managed_cleanup(params, host):
    """User scope: the managed config files holding a provider ``name`` entry this collection wrote
    (the managed module's record says which), that ``omniroute.opencode.managed`` (``state=absent``,
    ``owned_only``) is to remove, and the one OpenCode reads last (named in messages); ``([], None)``
    when there is none.  Read in the module process, as the
    account it runs as (the managed files are world-readable); nothing is written (issue 22: the
    role's read-only managed run per host, folded into this one).
    """
    directory = params['managed_dir'] or Layout().os_managed_dir
    if not any(os.path.lexists(os.path.join(directory, n)) for n in _layout.DIR_FILES):
        return [], None  # no managed config: nothing to read (and the managed planner is not even loaded)
    plan = cfg.plan_managed(dict(name=params['name'], directory=params['managed_dir'], state='absent',
                                 owned_only=True, mobileconfig=None), cfg.where(host=host))
    changes = [c for c in plan.changes if c.kind == 'config']
    # Verify reads these files as they will be once the entry is removed (later in the same run).
    params['_managed_after'] = dict((c.path, c.new) for c in changes)
    return [c.path for c in changes], plan.target


def not_without_users(host, path):
    return ('host %s: opencode_scope user removes the managed OmniRoute entry from %s, and opencode_users lists no '
            'developer to configure on %s, so nobody there would have an OmniRoute entry afterwards. List the '
            'developers in opencode_users (as in managed scope, with their keys): the same run then gives each of '
            'them their own entry. To remove the managed entry alone, set opencode_scope managed with '
            'opencode_scope_state absent. Nothing was changed on %s' % (host, path, host, host))


def run_probe_keys(module, params, host):
    """O(probe_keys): each new key asked from this host, nothing read or written (in check mode
    too: asking is how the role decides whether a key may replace a working one)."""
    probes = params['probe_keys']
    redactor = _redact.Redactor([p['key'] for p in probes])
    echo_arguments(module, redactor.args(params))
    out = {}
    # (A plain-http gateway is warned about by the configuring run that follows, for every key.)
    for probe in probes:
        out[probe['label']] = gw.probe_new_key(probe['base_url'] or params['base_url'], probe['key'],
                                               params['timeout'], params['validate_certs'])
    module.exit_json(changed=False, host=host, probes=redactor.json(out))


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    host = us.hostname(params['host'])
    if params['probe_keys'] is not None:
        run_probe_keys(module, params, host)
    users = us.effective_users(params['users'], default_key_store(params))
    problems = us.account_problems(users)
    if params['scope'] == 'managed':
        problems += ["user '%s': managed scope keeps each key in auth.json; use key_store auth, not %s"
                     % (u.name, u.store) for u in users if u.state == 'present' and u.store != 'auth']
    if (params['check_keys'] or not module.check_mode) and not params['installed_keys']:
        problems += us.key_problems(users, params['key_maps'], params['key_source'])
    if problems:
        module.fail_json(msg=us.report(host, problems))
    secrets = [u.entry.get('api_key') for u in users]
    for mapping in params['key_maps']:
        secrets.extend(v for v in (mapping or {}).values() if isinstance(v, str))
    redactor = _redact.Redactor(secrets)
    redact = redactor.text
    del _PARENT_ONLY[:]
    parent_only(secrets, redactor)
    echo_arguments(module, redactor.args(params))
    for url in sorted(set(_pick(u, params, 'base_url') for u in users if u.state == 'present')):
        warning = _http.cleartext_warning(url, 'every key of host %s' % host)
        if warning:
            module.warn(redact(warning))

    if params['installed_keys']:
        module.exit_json(changed=False, key_requests=run_installed_keys(module, users, host, redact))

    managed_files = None
    if params['managed_cleanup'] and params['scope'] == 'user':
        try:
            managed_files, managed_target = managed_cleanup(params, host)
        except cfg.Failure as exc:
            module.fail_json(msg=redact(str(exc)))
        if managed_files and not any(u.state == 'present' for u in users):
            module.fail_json(msg=not_without_users(host, managed_target), managed_files=managed_files)

    results = run_configure(module, users, host, redact)
    out = dict(changed=any(r['changed'] for r in results.values()), users={}, host=host)
    diffs = []
    for name, result in results.items():
        diffs.extend(result.pop('diff', []))
        for warning in result.get('warnings', []):
            module.warn(redact('host %s, user %s: %s' % (host, name, warning)))
        out['users'][name] = result
    if params['key_source'] == 'user':
        out['keys_missing'] = [n for n, r in out['users'].items() if r.get('key') == 'missing']
    if managed_files is not None:
        out['managed_files'] = managed_files
    if module._diff:
        out['diff'] = diffs
    module.exit_json(**out)


if __name__ == '__main__':
    main()
