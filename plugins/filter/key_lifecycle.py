# -*- coding: utf-8 -*-
# Copyright: (c) 2026, omniroute.opencode contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The key lifecycle of the ``opencode`` role, on the controller (docs/omniroute-keys.md).

The role's tasks stay free of logic: these filters say which developers' keys the inventory
holds (for the orphan sweep), which new keys the laptop must accept before they replace a
working one, which key each developer gets, which replaced keys may go, and what the report
shows. The lifecycle rules themselves live in ``module_utils/_keys.py``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.omniroute.opencode.plugins.module_utils import _keys

DOCUMENTATION = r"""
---
name: key_sweep
short_description: The orphan sweep of the role's OmniRoute keys, from the whole inventory
version_added: "0.5.0"
description:
  - Reads C(opencode_users) (and C(opencode_omniroute_key_name)) of every host in O(hosts) from
    O(_input) (C(hostvars)) and returns the C(sweep) option of M(omniroute.opencode.api_key) -
    the key names the developers of the whole inventory hold (users with C(state=absent) hold
    none), the scheme, and why a V(revoke) sweep must not revoke (a limited run, or a host whose
    developer list could not be read).
  - Companion filters (same file) - C(keys_to_probe), C(keys_to_install), C(keys_to_finish) and
    C(key_report), used by the role's two-phase rotation (see docs/omniroute-keys.md).
options:
  _input:
    description: C(hostvars).
    type: dict
    required: true
  hosts:
    description: Every host of the inventory (C(groups['all'])).
    type: list
    elements: str
    required: true
  play_hosts:
    description: The hosts running the role (C(ansible_play_hosts_all)); each must have its developers in the inventory.
    type: list
    elements: str
    required: true
  template:
    description: The key name template (C(opencode_omniroute_key_name)).
    type: str
    required: true
  mode:
    description: V(report) or V(revoke).
    type: str
    default: report
  limit:
    description: The run's C(--limit) (C(ansible_limit)); a V(revoke) sweep refuses under one.
    type: str
    default: ""
  unused_days:
    description: Also list the scheme's keys unused for this many days.
    type: float
author:
  - OmniRoute OpenCode maintainers (@omniroute)
"""

EXAMPLES = r"""
- name: Sweep in report mode
  omniroute.opencode.api_key:
    url: https://omniroute.example.com
    password: "{{ vault_omniroute_admin_password }}"
    sweep: "{{ hostvars | omniroute.opencode.key_sweep(groups['all'], ansible_play_hosts_all, 'opencode-{user}@{host}') }}"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
_value:
  description: The C(sweep) option of M(omniroute.opencode.api_key) (mode, template, owners, refuse, unused_days).
  type: dict
"""

_MISSING = object()


def _get(mapping, key, default=None):
    try:
        value = mapping[key]
    except (KeyError, TypeError, IndexError):
        return default
    return default if value is None else value


def _lookup(hostvars, host, name):
    """``hostvars[host][name]``: the value, ``_MISSING``, or raises what templating raised."""
    try:
        values = hostvars[host]
    except KeyError:
        return _MISSING
    try:
        value = values[name]
    except KeyError:
        return _MISSING
    kind = type(value).__name__
    if 'Undefined' in kind or 'Marker' in kind:
        # ansible-core 2.19 hands back a marker for a value it could not template (2.16 raises).
        raise ValueError('it cannot be templated (an undefined variable?)')
    return value


def key_sweep(hostvars, hosts, play_hosts, template, mode='report', limit='', unused_days=None):
    """The ``sweep`` option of the ``api_key`` module for the whole inventory."""
    owners, problems = set(), []
    play = set(play_hosts or ())
    for host in hosts or []:
        try:
            users = _lookup(hostvars, host, 'opencode_users')
            if users is _MISSING:
                if host in play:
                    problems.append('%s runs the role, but its opencode_users is not an inventory variable '
                                    '(host_vars, group_vars) or a fact' % host)
                continue
            own = _lookup(hostvars, host, 'opencode_omniroute_key_name')
            host_template = own if isinstance(own, str) and own else template
            if isinstance(users, str):
                raise ValueError('it is text%s, not a list' % (' that cannot be templated' if '{{' in users else ''))
            if not isinstance(users, (list, tuple)):
                raise ValueError('it is a %s, not a list' % type(users).__name__)
            for user in users:
                name = _get(user, 'name')
                if not isinstance(name, str) or not name:
                    raise ValueError('an entry has no name')
                if _get(user, 'state', 'present') != 'absent':
                    owners.add(_keys.key_name(host_template, name, host))
        except Exception as exc:  # pylint: disable=broad-except
            # The message of a templating error can quote the template; only its kind is shown.
            problems.append('the developer list (opencode_users) of %s could not be read: %s' % (
                host, exc if isinstance(exc, ValueError) else type(exc).__name__))
    refuse = []
    if limit:
        refuse.append('the run is limited (--limit %s), and a revoke sweep needs a run over the whole '
                      'inventory' % limit)
    refuse.extend(problems)
    out = dict(mode=mode or 'report', template=template, owners=sorted(owners),
               refuse='; '.join(refuse) or None)
    if unused_days:
        out['unused_days'] = float(unused_days)
    return out


# --------------------------------------------------------------------------- two-phase rotation
def _results(phase1):
    results = _get(phase1, 'results', [])
    return [r for r in results if isinstance(r, dict)] if isinstance(results, list) else []


def _requests(requests):
    """label -> key request (from the users module's key_requests)."""
    if isinstance(requests, dict):
        requests = _get(requests, 'key_requests', [])
    out = {}
    for req in requests or []:
        if isinstance(req, dict) and req.get('label'):
            out[req['label']] = req
    return out


def key_records(records, requests):
    """The listed keys whose names ``requests`` (the users module's key_requests) ask for: each
    host's api_key call gets its own keys, not the whole server's."""
    names = set(r.get('name') for r in _requests(requests).values())
    return [r for r in records or [] if isinstance(r, dict) and r.get('name') in names]


def _probe_base_url(users, label, base_url):
    for user in users or []:
        if isinstance(user, dict) and user.get('name') == label and user.get('base_url'):
            base_url = user['base_url']
    return base_url


def keys_to_probe(phase1, requests, users=None, base_url=None):
    """The new keys that replace an installed key: each is asked ``GET <base_url>/models`` from the
    laptop before it is written, by the users module's ``probe_keys`` (``[{label, key, base_url}]``,
    secret; the user's own ``base_url`` wins)."""
    keys = _get(phase1, 'keys_by_label', {})
    reqs = _requests(requests)
    out = []
    for res in _results(phase1):
        label = res.get('label')
        key = _get(keys, label)
        if not res.get('new_key') or not key or key == _keys.CHECK_MODE_KEY:
            continue
        if not _get(reqs.get(label), 'installed_key'):
            continue  # nothing installed to protect: the new key is simply written
        out.append(dict(label=label, key=key, base_url=_probe_base_url(users, label, base_url)))
    return out


def _probe_outcomes(probes):
    """label -> (ok, why) from the registered users run with ``probe_keys`` (its ``probes``; a
    skipped, failed or unreachable run asked nothing, so no key counts as taken)."""
    out = {}
    if not isinstance(probes, dict) or probes.get('failed') or probes.get('unreachable'):
        return out
    for label, probe in (_get(probes, 'probes', {}) or {}).items():
        if isinstance(probe, dict):
            out[label] = (probe.get('ok') is True, probe.get('why'))
    return out


def keys_to_install(phase1, requests, probes=None):
    """label -> the key the users run writes: the new key when the laptop accepted it (or when
    nothing was installed), else the installed one, which stays valid (secret)."""
    keys = dict(_get(phase1, 'keys_by_label', {}) or {})
    outcomes = _probe_outcomes(probes)
    reqs = _requests(requests)
    for res in _results(phase1):
        label = res.get('label')
        if not res.get('new_key') or label not in keys or keys[label] == _keys.CHECK_MODE_KEY:
            continue
        installed = _get(reqs.get(label), 'installed_key')
        if installed and not outcomes.get(label, (False, None))[0]:
            keys[label] = installed
    return keys


def _user_ok(users_result, label):
    """True when the users run wrote ``label``'s entry and nothing says its key was refused."""
    if not isinstance(users_result, dict) or users_result.get('failed') or users_result.get('skipped'):
        return False
    res = _get(_get(users_result, 'users', {}), label)
    if not isinstance(res, dict) or res.get('failed') or res.get('skipped'):
        return False
    verify = res.get('verify')
    return not (isinstance(verify, dict) and verify.get('key_accepted') is False)


def keys_to_finish(phase1, probes=None, users_result=None, check=False):
    """The second phase: ``[{label, name, revoke_ids}]`` for every rotation whose new key the
    laptop accepted and the users run installed; the others stay pending (old key valid)."""
    if check:
        return []
    outcomes = _probe_outcomes(probes)
    out = []
    for res in _results(phase1):
        label = res.get('label')
        if not res.get('replaces') or res.get('failed'):
            continue
        if outcomes.get(label, (False, None))[0] and _user_ok(users_result, label):
            out.append(dict(label=label, name=res.get('name'), revoke_ids=list(res['replaces'])))
    return out


def key_report(phase1, probes=None, users_result=None, finish=None, check=False):
    """One secret-free entry per developer's key of the host: what the run did and the key's state
    (``ok``, ``expiring``, ``rotation pending``, ``revoked``, ``not installed``)."""
    outcomes = _probe_outcomes(probes)
    finished, unfinished = set(), {}
    for res in _results(finish):
        if res.get('failed'):
            unfinished[res.get('label')] = res.get('msg')
        else:
            finished.add(res.get('label'))
    finish_msg = _get(finish, 'msg') if _get(finish, 'failed') else None
    out = []
    for res in _results(phase1):
        label = res.get('label')
        info = dict(res.get('key_info') or {})
        entry = dict(user=label, name=res.get('name'), state=res.get('state'), id=res.get('id'),
                     created_at=info.get('created_at'), expires_at=info.get('expires_at'),
                     expiry_source=info.get('expiry_source'), last_used_at=info.get('last_used_at'),
                     policy=info.get('policy'), reasons=list(res.get('reasons') or []),
                     revoked=list(res.get('revoked') or []), replaces=list(res.get('replaces') or []),
                     action=_action(res, check), key_state=res.get('key_state'), changed=bool(res.get('changed')),
                     created=bool(res.get('created')), rotated=bool(res.get('rotated')), kept=bool(res.get('kept')),
                     elapsed=res.get('elapsed'), cause=None)
        if res.get('failed'):
            entry.update(key_state=None, cause=res.get('msg'))
        elif res.get('replaces') and not check:
            if label in finished:
                entry.update(key_state=_keys.OK, revoked=entry['revoked'] + entry['replaces'], replaces=[])
            else:
                ok, why = outcomes.get(label, (False, None))
                if ok and not _user_ok(users_result, label):
                    why = 'the new key could not be installed on the laptop'
                elif ok and (label in unfinished or finish_msg):
                    why = 'the new key is installed; revoking the old one failed: %s' % (
                        unfinished.get(label) or finish_msg)
                entry.update(key_state=_keys.PENDING,
                             cause=why or 'the run ended before the new key was installed and verified')
        elif res.get('new_key') and res.get('state') == 'present' and not check and users_result is not None \
                and not _user_ok(users_result, label):
            entry.update(key_state=_keys.NOT_INSTALLED, cause='the new key could not be installed on the laptop')
        out.append(entry)
    return out


def _action(res, check=False):
    """What the run did to the key (in check mode: would do)."""
    word = 'none'
    for flag, name in (('rotated', 'rotated'), ('created', 'created'), ('kept', 'kept')):
        if res.get(flag):
            word = name
            if name == 'kept' and res.get('finished'):
                word = 'finished'
            elif name == 'kept' and res.get('policy_changed'):
                word = 'kept, policy corrected'
            break
    else:
        if res.get('state') == 'absent':
            word = 'revoked' if res.get('revoked') else 'none'
    if word == 'finished':
        word = 'finished the rotation (old key revoked)'
    if check:
        return {'rotated': 'would rotate', 'created': 'would create', 'revoked': 'would revoke',
                'finished the rotation (old key revoked)': 'would finish the rotation (old key revoked)',
                'kept, policy corrected': 'kept, would correct the policy'}.get(word, word)
    return word


class FilterModule(object):
    def filters(self):
        return {
            'key_sweep': key_sweep,
            'key_records': key_records,
            'keys_to_probe': keys_to_probe,
            'keys_to_install': keys_to_install,
            'keys_to_finish': keys_to_finish,
            'key_report': key_report,
        }
