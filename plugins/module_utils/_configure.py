# -*- coding: utf-8 -*-
# Copyright: (c) 2026, omniroute.opencode contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One user's OpenCode configuration: plan every file change, apply it, describe it.

Shared by the ``provider`` module (one file set, the running user) and the ``users`` module
(every user of a host, each in a process running as that user).  Standard library only, no
Ansible imports except through the ``module`` object handed to :func:`apply`.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import socket
from collections import namedtuple

from ansible_collections.omniroute.opencode.plugins.module_utils import _gateway as gw
from ansible_collections.omniroute.opencode.plugins.module_utils import _opencode as oc
from ansible_collections.omniroute.opencode.plugins.module_utils import _redact
from ansible_collections.omniroute.opencode.plugins.module_utils._files import (
    Conflict, FileError, check_unchanged, make_dirs, read_text, remove_files, running_user, stale_temps, why,
    write_atomic)
from ansible_collections.omniroute.opencode.plugins.module_utils._jsonc import JSONCError, position

# One file to write: ``path`` as named, ``real`` its resolved target, ``old`` its text (None when
# missing), ``new`` the text to write, ``holds_secret`` whether ``new`` carries a literal key,
# ``words`` what changed, in words; ``kind`` is ``config`` or ``auth`` and ``name`` the provider
# id, which together say what a diff may show of the file.
Change = namedtuple('Change', 'path real old new holds_secret words kind name', defaults=('config', None))

# Everything planned for one user; ``stale`` lists temporary files an interrupted earlier run
# left next to the files (removed by ``apply``); ``catalog`` says where the model catalog came from;
# ``user_key`` (``key_source=user`` only) is ``present`` or ``missing``: whether the user's own
# auth.json holds a real key for the provider (the key itself never leaves the plan).
UserPlan = namedtuple('UserPlan', 'spec target changes entry warnings auth_path auth_changed stale catalog user_key',
                      defaults=((), None, None))

# The provider options this plan reads, with their defaults (the modules' argument specs).
PARAM_DEFAULTS = dict(
    path=None,
    state='present',
    name=oc.DEFAULT_NAME,
    display_name=oc.DEFAULT_DISPLAY_NAME,
    base_url=oc.DEFAULT_BASE_URL,
    api_key=oc.DEFAULT_API_KEY,
    key_store='config',
    # ``user``: the key is the developer's own (``opencode auth login``); with key_store=auth the
    # config is written without a key and auth.json is only read, never written (except to remove
    # the entry on state=absent).
    key_source='given',
    auth_path=None,
    models=None,  # OmniRoute's documented OpenCode defaults with catalog=static, nothing with catalog=gateway
    model_labels={},
    model=None,
    small_model=None,
    create=True,
    backup=False,
    catalog='static',
    catalog_include=[],
    catalog_exclude=[],
    catalog_offline='keep',
    validate_certs=True,
    timeout=gw.DEFAULT_TIMEOUT,
    verify=False,
)


class Failure(Exception):
    """The plan or the write failed; ``details`` go into ``fail_json`` (path, line, column)."""

    def __init__(self, msg, **details):
        # Every message goes through the collection's one redaction helper.
        super(Failure, self).__init__(_redact.message(msg))
        self.details = details


def where(user=None, host=None):
    """``user U on HOST``, for messages."""
    return 'user %s on %s' % (user or running_user(), host or socket.gethostname())


def _read(path, who):
    try:
        return read_text(path)
    except FileError as exc:
        raise Failure('cannot edit %s (%s): %s' % (path, who, exc), path=path)


def _plan(path, text, fn, who):
    try:
        return fn(text or '')
    except JSONCError as exc:
        raise Failure('cannot edit %s (%s): %s' % (path, who, exc), path=path,
                      line=exc.line, column=exc.column)
    except oc.PlanError as exc:
        raise Failure('cannot edit %s (%s): %s' % (path, who, exc), path=path)
    except RecursionError:
        raise Failure('cannot edit %s (%s): it is nested too deeply to be edited safely; '
                      'nothing was changed' % (path, who), path=path)


# No OpenCode setting nests anywhere near this deep; the results and diffs that show the entry
# are built recursively, and how deep a Python recursion may go differs between versions.
MAX_ENTRY_DEPTH = 100


def _depth(value):
    """How deeply ``value`` nests lists and dicts (iterative, so any depth is measured)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in item)
    return deepest


def _check_depth(path, text, name, entry, who):
    """Refuse an entry nested deeper than MAX_ENTRY_DEPTH, with its line and column."""
    if _depth(entry) <= MAX_ENTRY_DEPTH:
        return
    line = column = None
    try:
        member = oc.Document(text).locate(('provider', name))[1]
        line, column = position(text, member.value_start)
    except (ValueError, TypeError, IndexError, RecursionError):
        pass
    raise Failure('cannot edit %s (%s): provider.%s is nested too deeply to be edited safely (more than '
                  '%d levels); nothing was changed' % (path, who, name, MAX_ENTRY_DEPTH),
                  path=path, line=line, column=column)


def shown_params(params):
    """The module arguments as a result may echo them: URLs without user info or query."""
    shown = dict(params)
    for name in ('base_url', 'url'):
        if isinstance(shown.get(name), str):
            shown[name] = _redact.url(shown[name])
    return shown


def make_spec(params, keep_models=False):
    """The entry ``params`` ask for (state present), or a Failure saying why it cannot be."""
    if not isinstance(params['api_key'], str):
        # Never show the value: a list or a mapping given by mistake may still hold keys.
        raise Failure('api_key must be a string, got a %s (value not shown)'
                      % type(params['api_key']).__name__)
    if params['key_store'] == 'auth' and oc.is_reference(params['api_key']):
        raise Failure('key_store=auth needs a literal key; %s is only understood inside the config'
                      % params['api_key'].split(':')[0].lstrip('{'))
    try:
        spec = oc.Spec(name=params['name'], display_name=params['display_name'],
                       base_url=params['base_url'], api_key=params['api_key'],
                       models=params['models'], model_labels=params['model_labels'],
                       model=params['model'], small_model=params['small_model'],
                       key_in_config=params['key_store'] == 'config')
    except oc.PlanError as exc:
        raise Failure(str(exc))
    spec.keep_models = keep_models
    return spec


def _current_models(text, name):
    """The model catalog of ``provider.<name>`` in ``text``, or None when there is none."""
    try:
        doc = oc.Document(text or '')
        models = None if doc.empty else doc.get(('provider', name, 'models'))
    except ValueError:
        return None
    return models if isinstance(models, dict) and models else None


def gateway_catalog(params, environ, target, text, who):
    """``(params, keep, info, warnings)`` for ``catalog=gateway``: the catalog from the gateway.

    ``params`` comes back with ``models`` set to the catalog to write; ``keep`` is True when the
    entry's current catalog is to be kept byte for byte (gateway offline, ``catalog_offline=keep``).
    """
    try:
        base_url = oc.normalize_base_url(params['base_url'])
    except oc.PlanError as exc:
        raise Failure(str(exc))
    home = environ.get('HOME') or os.path.expanduser('~')
    key, problem = gw.resolve_key(params['api_key'], environ, home, target)
    url = gw.models_url(base_url)
    info = dict(source='gateway', url=url, status=None)
    if problem is None:
        answer = gw.fetch_models(base_url, key, params.get('timeout') or gw.DEFAULT_TIMEOUT,
                                 params.get('validate_certs', True))
        info.update(status=answer.status, seconds=answer.seconds)
        outcome, cause = answer.outcome, answer.cause
    else:
        outcome, cause = gw.NO_KEY, problem
    if outcome == gw.OK:
        catalog = gw.build_catalog(answer.models, params.get('models') or (),
                                   params.get('catalog_include') or (), params.get('catalog_exclude') or ())
        info['offered'] = len(answer.models)
        if not catalog:
            raise Failure('the gateway at %s offers no chat model to the key of %s that passes '
                          'catalog_include/catalog_exclude, and models is empty; %s was left untouched'
                          % (url, who, target), path=target)
        return dict(params, models=catalog), False, info, []
    if outcome == gw.REJECTED:
        raise Failure('the gateway at %s rejected the key of %s (%s); %s was left untouched. Create the '
                      'key in the OmniRoute dashboard (Dashboard -> API Manager), or issue one with '
                      'omniroute.opencode.api_key' % (url, who, cause, target), path=target)
    if outcome == gw.BAD:
        raise Failure('the gateway at %s gave no model list for %s (%s); check base_url (it must be '
                      'the address OpenCode calls, ending in one /v1); %s was left untouched'
                      % (url, who, cause, target), path=target)
    # Offline, or no key the module can send: keep what is there, or fail when asked to.
    what = 'cannot be fetched' if outcome == gw.NO_KEY else 'cannot be fetched (gateway offline)'
    info.update(source='kept', cause=cause)
    if params.get('catalog_offline') == 'fail':
        raise Failure('the model catalog for %s %s from %s: %s; catalog_offline=fail, so %s was left '
                      'untouched' % (who, what, url, cause, target), path=target)
    current = _current_models(text, params['name'])
    if current is not None:
        warning = ('the model catalog for %s %s from %s: %s; kept the current catalog of provider.%s '
                   'in %s' % (who, what, url, cause, params['name'], target))
        return dict(params, models=list(current)), True, info, [warning]
    if not params.get('models'):
        raise Failure('the model catalog for %s %s from %s: %s; %s has no catalog yet and models is '
                      'empty, so there is nothing to write' % (who, what, url, cause, target), path=target)
    info['source'] = 'models'
    warning = ('the model catalog for %s %s from %s: %s; wrote the ids given in models to %s'
               % (who, what, url, cause, target))
    return params, False, info, [warning]


def _ignored_xdg(environ):
    """Warnings for XDG variables that name a directory the running user does not own."""
    warnings = []
    for var in ('XDG_CONFIG_HOME', 'XDG_DATA_HOME'):
        ignored = oc.xdg_base(environ, var, '')[1]
        if ignored:
            warnings.append('%s=%s is ignored: it is not a directory of user %s (inherited from '
                            'another account, e.g. through become_method su?); the default under '
                            'the home directory is used' % (var, ignored, running_user()))
    return warnings


def _config_files(params, environ, name):
    """``(target, lower, warnings)``: the file to manage and the other files OpenCode merges."""
    directory = oc.config_dir(environ)
    warnings = _ignored_xdg(environ)
    if params['path']:
        target = os.path.abspath(os.path.expanduser(params['path']))
        lower, higher = oc.precedence(target, directory)
        if higher:
            warnings.append('%s is overridden by %s, which OpenCode loads later; check that it does not '
                            'set provider.%s or disabled_providers' % (target, ', '.join(higher), name))
        return target, [], warnings
    target, lower = oc.discover(directory)
    # ~/.opencode is loaded after the global files, whatever XDG_CONFIG_HOME says.
    return target, lower + oc.dot_opencode_files(environ), warnings


def plan(params, environ, who=None):
    """Work out every file change for the user ``environ`` describes; nothing is written."""
    who = who or where()
    name = params['name']
    present = params['state'] == 'present'
    gateway = present and params.get('catalog', 'static') == 'gateway'
    spec = make_spec(params) if present and not gateway else None
    target, lower, warnings = _config_files(params, environ, name)
    for path in oc.MANAGED_FILES:
        if os.path.exists(path):
            warnings.append('%s (managed by the administrator) is loaded last by OpenCode and can '
                            'override or hide provider.%s' % (path, name))

    changes = []
    text, real = _read(target, who)
    if text is None and present and not params['create']:
        raise Failure('%s does not exist and create=false (%s)' % (target, who), path=target)
    catalog = dict(source='static') if present else None
    if gateway:
        wanted, keep, catalog, more = gateway_catalog(params, environ, target, text, who)
        warnings.extend(more)
        spec = make_spec(wanted, keep_models=keep)
    for path in lower:
        ltext, lreal = _read(path, who)
        if ltext is None:
            continue
        lplan = _plan(path, ltext, lambda t: oc.plan_other(t, name, present), who)
        if lplan.changed:
            changes.append(Change(path, lreal, ltext, lplan.new_text, False, lplan.changes, 'config', name))

    entry = None
    if present:
        tplan = _plan(target, text, lambda t: oc.plan_present(t, spec), who)
        entry = tplan.entry
        _check_depth(target, tplan.new_text, name, entry, who)
        holds = params['key_store'] == 'config' and not oc.is_reference(params['api_key'])
    else:
        tplan = _plan(target, text, lambda t: oc.plan_absent(t, name), who)
        holds = False
    if tplan.changed or (text is None and present):
        changes.append(Change(target, real, text, tplan.new_text, holds, tplan.changes, 'config', name))

    auth_path = params['auth_path'] or os.path.join(oc.data_dir(environ), 'auth.json')
    auth_key = params['api_key'] if present and params['key_store'] == 'auth' else None
    atext, areal = _read(auth_path, who)
    auth_changed = False
    user_key = None
    if present and user_keyed(params):
        # The developer's own key: report whether there is one, never write or return it.
        found = oc.installed_key_from_auth(atext, name) if atext is not None else None
        user_key = 'present' if oc.is_real_key(found) else 'missing'
        if user_key == 'missing':
            # The users module prefixes host and user.
            warnings.append('no key for provider %s in %s: run `opencode auth login`, choose %s and '
                            'paste the OmniRoute key' % (name, auth_path, name))
    elif atext is not None or auth_key is not None:
        new_auth = _plan(auth_path, atext, lambda t: oc.plan_auth(t, name, auth_key), who)
        if new_auth != (atext or ''):
            auth_changed = True
            words = ['stored the key for %s' % name] if auth_key else ['removed the key for %s' % name]
            change = Change(auth_path, areal, atext, new_auth, True, words, 'auth', name)
            # Store a new key before the config stops carrying it; drop an old one after.
            if auth_key:
                changes.insert(0, change)
            else:
                changes.append(change)
    stale = []
    for real in sorted(set([real, areal] + [c.real for c in changes])):
        stale.extend(stale_temps(real))
    return UserPlan(spec, target, changes, entry, warnings, auth_path, auth_changed, tuple(stale), catalog,
                    user_key)


def user_keyed(params):
    """True when the developer provides the key in their own auth.json (key_source=user, store auth)."""
    return params.get('key_source') == 'user' and params['key_store'] == 'auth'


def apply(module, changes, backup, who=None, stale=()):
    """Write the planned changes in order; return ``{path: backup_file}``.

    Every file is checked first: if one changed since it was read, nothing is written at all.
    Each write then checks its file once more right before the rename.  ``stale`` temporary
    files (from ``UserPlan.stale``) are removed.
    """
    who = who or where()
    backups = {}
    current = None
    written = []
    try:
        for change in changes:
            current = change
            if os.path.lexists(change.real) or change.old is not None:
                check_unchanged(change.real, change.old)
        for change in changes:
            current = change
            if change.old is None:
                make_dirs(os.path.dirname(change.real))
            made = write_atomic(module, change.path, change.real, change.new, change.holds_secret,
                                backup and change.old is not None, expect=change.old)
            written.append(change.path)
            if made:
                backups[change.path] = made
        current = None
        remove_files(stale)
    except (FileError, OSError, IOError) as exc:
        text = str(exc) if isinstance(exc, FileError) else why(exc) + '; nothing was changed'
        if current is None:
            raise Failure('cannot tidy up (%s): %s' % (who, text))
        if written:
            text += ' (written before it: %s)' % ', '.join(written)
        details = dict(path=current.path)
        if isinstance(exc, Conflict):
            details['conflict'] = True
        raise Failure('cannot write %s (%s): %s' % (current.path, who, text), **details)
    return backups


def _dump(view):
    return json.dumps(view, indent=2, ensure_ascii=False) + '\n'


def _views(change, extra_keys=()):
    """``(before, after)`` texts a diff may show for ``change`` (see ``oc.config_views``)."""
    try:
        if change.kind == 'auth':
            before, after = oc.auth_views(change.old, change.new, change.name)
        else:
            before, after = oc.config_views(change.old, change.new, change.name or oc.DEFAULT_NAME,
                                            extra_keys)
        return ('' if change.old is None else _dump(before)), _dump(after)
    except (ValueError, RecursionError):
        return '(not shown)\n', '(not shown)\n'


def diff_views(changes, secrets, label=None, extra_keys=()):
    """Ansible diff entries for ``changes``: what the module manages, credentials masked."""
    prefix = (label + ': ') if label else ''
    out = []
    for change in changes:
        before, after = _views(change, extra_keys)
        out.append(dict(before_header=prefix + change.path, after_header=prefix + change.path,
                        before=_redact.known(before, secrets), after=_redact.known(after, secrets)))
    return out


def describe(user_plan, secrets, diff, diff_label=None):
    """The module result for one user's plan (no key in it); ``diff`` adds before/after views.

    A diff shows only what the module manages: the provider entry and the top-level settings
    it changed (or, for the credential store, the provider's credential), with every
    credential masked by position.  ``secrets`` are masked wherever they might still appear.
    """
    secrets = [s for s in secrets if isinstance(s, str)]
    out = dict(
        changed=bool(user_plan.changes) or bool(user_plan.stale),
        path=user_plan.target,
        files=[c.path for c in user_plan.changes],
        changes=dict((c.path, c.words) for c in user_plan.changes),
        auth_path=user_plan.auth_path,
        auth_changed=user_plan.auth_changed,
    )
    if user_plan.stale:
        out['stale_temp_files'] = list(user_plan.stale)
    if user_plan.spec is not None:
        entry = oc.redact_entry(user_plan.entry)
        try:
            entry = json.loads(_redact.known(json.dumps(entry), secrets))
        except (ValueError, RecursionError):
            entry = None
        out.update(base_url=user_plan.spec.base_url, models=user_plan.spec.model_ids, entry=entry)
    if user_plan.catalog is not None:
        out['catalog'] = user_plan.catalog
    if user_plan.user_key is not None:
        out['key'] = user_plan.user_key
    if diff:
        out['diff'] = diff_views(user_plan.changes, secrets, diff_label)
    return out
