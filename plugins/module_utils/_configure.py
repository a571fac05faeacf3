# -*- coding: utf-8 -*-
# Copyright: (c) 2026, omniroute.opencode contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one plan/apply pipeline of the collection, for both scopes.

* **Plan** (nothing written): :func:`read` and :func:`plan_file` read a file and run a pure
  planner of ``_opencode``/``_managed`` on its text; :func:`plan` (one user's own config, user
  scope), :func:`plan_managed_scope` (one user's side of managed scope) and
  :func:`plan_managed` (the managed directory) return every file change as a :class:`Change`.
* **Apply**: :func:`apply` ``(module, changes, policy)`` writes them.  :func:`preflight` first
  checks everything that can be known before a write (the home, every target directory, the
  free space and inodes for the new files and their backups, and, for root, that the managed
  directory cannot be swapped by another account), then every file is checked to still hold
  what was planned from.  A write that fails after other writes rolls those back (old bytes,
  mode and owner restored atomically; backups kept) and the Failure says what was restored;
  ``details['changed']`` is True as soon as one file was written.
* **Describe**: :func:`describe` and :func:`diff_views` build results and diffs (no key in them).

Shared by the ``provider`` module (one file set, the running user), the ``users`` module (every
user of a host, each in a process running as that user) and the ``managed`` module.  Standard
library only, no Ansible imports except through the ``module`` object handed to :func:`apply`.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
from collections import namedtuple

from ansible_collections.omniroute.opencode.plugins.module_utils import _gateway as gw
from ansible_collections.omniroute.opencode.plugins.module_utils import _opencode as oc
from ansible_collections.omniroute.opencode.plugins.module_utils import _redact
from ansible_collections.omniroute.opencode.plugins.module_utils._files import (
    Conflict, FileError, attributes, blocks_for, check_unchanged, directory_problem, free_space, make_dirs,
    read_text, remove_file, remove_files, running_user, set_attributes, stale_temps, untrusted_directory, why,
    write_atomic)
from ansible_collections.omniroute.opencode.plugins.module_utils._jsonc import Document, JSONCError, position
from ansible_collections.omniroute.opencode.plugins.module_utils._layout import DIR_FILES, MAX_LAYER_BYTES, Layout, discover
from ansible_collections.omniroute.opencode.plugins.module_utils._users import hostname


def _load_managed():
    from ansible_collections.omniroute.opencode.plugins.module_utils import _managed
    return _managed


class OnFirstUse:
    """A module imported when first used.  The managed scope's planner (``_managed``) is imported
    only by a run that needs it: AnsiballZ ships sources, so every import is a compile on every
    module run, and a user-scope run of the users module never uses it (issue 22)."""

    def __init__(self, load):
        self._load = load
        self._module = None

    def imported(self):
        """The module, imported now if it was not yet."""
        if self._module is None:
            self._module = self._load()
        return self._module

    def __getattr__(self, name):
        return getattr(self.imported(), name)


mg = OnFirstUse(_load_managed)

# One file to change: ``path`` as named, ``real`` its resolved target, ``old`` its text (None when
# missing), ``new`` the text to write (None: remove the file; equal to ``old``: only its owner and
# mode change), ``holds_secret`` whether ``new`` carries a literal key, ``words`` what changed, in
# words; ``kind`` (``config``, ``auth``, ``state`` - the managed module's record - or ``profile``)
# and ``name`` (the provider id) together say what a diff may show of the file.
Change = namedtuple('Change', 'path real old new holds_secret words kind name', defaults=('config', None))

# Everything planned for one user; ``stale`` lists temporary files an interrupted earlier run
# left next to the files (removed by ``apply``); ``catalog`` says where the model catalog came from;
# ``user_key`` (``key_source=user`` only) is ``present`` or ``missing``: whether the user's own
# auth.json holds a real key for the provider (the key itself never leaves the plan); ``home`` is
# the user's home, which must exist before anything is written under it; ``texts`` maps each config
# file the plan read to its text (verify reads them from there instead of a second time).
UserPlan = namedtuple('UserPlan', 'spec target changes entry warnings auth_path auth_changed stale catalog user_key home '
                                  'texts', defaults=((), None, None, None, None))

# How :func:`apply` writes: ``backup`` keeps a copy of every changed file; ``who`` names the user
# and host in messages; ``stale`` temporary files to remove; ``mode``/``owner`` (``(uid, gid)``),
# when set, are given to every written file (the managed file: 0644, root); ``dir_mode``/
# ``dir_owner`` to the directories created; ``home`` must exist when a file under it changes;
# ``trusted`` are directories that must be safe for root to write in (see
# ``_files.untrusted_directory``).
Policy = namedtuple('Policy', 'backup who stale mode owner dir_mode dir_owner home trusted',
                    defaults=(False, None, (), None, None, 0o700, None, None, ()))

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
    """The plan or the write failed; ``details`` go into ``fail_json`` (path, line, column,
    ``changed`` and what was written and restored)."""

    def __init__(self, msg, **details):
        # Every message goes through the collection's one redaction helper.
        super(Failure, self).__init__(_redact.message(msg))
        self.details = details


def where(user=None, host=None):
    """``user U on HOST``, for messages; HOST is the inventory name when the caller knows it."""
    return 'user %s on %s' % (user or running_user(), hostname(host))


def read(path, who):
    """``(text, real_path)`` of ``path`` (text None when missing), or a Failure naming it."""
    try:
        return read_text(path)
    except FileError as exc:
        raise Failure('cannot edit %s (%s): %s' % (path, who, exc), path=path)


def plan_file(path, text, fn, who):
    """``fn(text)`` (a pure planner of ``_opencode``/``_managed``), its errors as a Failure
    naming ``path`` (and the line and column of a syntax error)."""
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
        member = Document(text).locate(('provider', name))[1]
        line, column = position(text, member.value_start)
    except (ValueError, TypeError, IndexError, RecursionError):
        pass
    raise Failure('cannot edit %s (%s): provider.%s is nested too deeply to be edited safely (more than '
                  '%d levels); nothing was changed' % (path, who, name, MAX_ENTRY_DEPTH),
                  path=path, line=line, column=column)


def shown_params(params):
    """The module arguments as a result may echo them (``_redact.Redactor.args``): URLs without
    user info or query, the key replaced by Ansible's no_log stand-in."""
    return _redact.Redactor([params.get('api_key')]).args(params)


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
        doc = Document(text or '')
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
        warnings = list(answer.warnings)
        catalog = gw.build_catalog(answer.models, params.get('models') or (),
                                   params.get('catalog_include') or (), params.get('catalog_exclude') or (),
                                   warnings=warnings)
        info['offered'] = len(answer.models)
        if not catalog:
            raise Failure('the gateway at %s offers no chat model to the key of %s that passes '
                          'catalog_include/catalog_exclude, and models is empty; %s was left untouched'
                          % (url, who, target), path=target)
        return dict(params, models=catalog), False, info, warnings
    if outcome == gw.REJECTED:
        raise Failure('the gateway at %s rejected the key of %s (%s); %s was left untouched. Create the '
                      'key in the OmniRoute dashboard (Dashboard -> API Manager), or issue one with '
                      'omniroute.opencode.api_key' % (url, who, cause, target), path=target)
    if outcome == gw.BAD:
        raise Failure('the gateway at %s gave no model list for %s (%s); check base_url (it must be '
                      'the address OpenCode calls, ending in one /v1); %s was left untouched'
                      % (url, who, cause, target), path=target)
    if cause == gw.KEY_TO_BE_MADE:
        # Check mode, and the run would create this user's key: the catalog comes with it.
        info.update(source='pending', cause=cause)
        current = _current_models(text, params['name'])
        if current is not None:
            return dict(params, models=list(current)), True, info, []
        return dict(params, models=list(params.get('models') or ['(the models offered to the new key)'])), False, info, []
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


def _ignored_xdg(layout):
    """Warnings for XDG variables that name a directory the running user does not own."""
    return ['%s=%s is ignored: it is not a directory of user %s (inherited from another account, e.g. '
            'through become_method su?); the default under the home directory is used'
            % (var, value, running_user()) for var, value in layout.ignored_xdg()]


def config_files(params, layout, name):
    """``(target, lower, warnings)``: the file to manage and the other files OpenCode merges."""
    warnings = _ignored_xdg(layout)
    if params['path']:
        target = os.path.abspath(os.path.expanduser(params['path']))
        lower, higher = layout.precedence(target)
        if higher:
            warnings.append('%s is overridden by %s, which OpenCode loads later; check that it does not '
                            'set provider.%s or disabled_providers' % (target, ', '.join(higher), name))
        return target, [], warnings
    target, lower = layout.discover()
    # ~/.opencode is loaded after the global files, whatever XDG_CONFIG_HOME says.
    return target, lower + layout.dot_opencode_files(), warnings


def user_key_warning(name, auth_path):
    """The warning for a developer whose own auth.json has no key (the users module prefixes
    host and user)."""
    return ('no key for provider %s in %s: run `opencode auth login`, choose %s and paste the OmniRoute key'
            % (name, auth_path, name))


def _stale(paths):
    stale = []
    for real in sorted(set(p for p in paths if p)):
        stale.extend(stale_temps(real))
    return tuple(stale)


def _plan_files(paths, planner, who, name, texts=None):
    """``(plans, changes)`` for the existing files among ``paths``: ``planner(text, path)`` (a pure
    planner) for each, ``plans`` as ``[(path, plan)]``, ``changes`` for those it changes; ``texts``,
    when given, collects what was read (path to text)."""
    plans, changes = [], []
    for path in paths:
        text, real = read(path, who)
        if text is None:
            continue
        if texts is not None:
            texts[path] = text
        planned = plan_file(path, text, lambda t: planner(t, path), who)
        plans.append((path, planned))
        if planned.changed:
            changes.append(Change(path, real, text, planned.new_text, False, planned.changes, 'config', name))
    return plans, changes


def plan(params, environ, who=None):
    """Work out every file change for the user ``environ`` describes; nothing is written."""
    who = who or where()
    layout = Layout(environ)
    name = params['name']
    present = params['state'] == 'present'
    gateway = present and params.get('catalog', 'static') == 'gateway'
    spec = make_spec(params) if present and not gateway else None
    target, lower, warnings = config_files(params, layout, name)
    for path in layout.managed_files():
        if os.path.exists(path):
            warnings.append('%s (managed by the administrator) is loaded last by OpenCode and can '
                            'override or hide provider.%s' % (path, name))

    if present and params.get('key_source') != 'user' and not oc.is_reference(params['api_key']):
        # Before anything is sent or planned: a key that cannot go into a header as it is.
        problem = _redact.key_problem(params['api_key'])
        if problem:
            raise Failure('the api_key of %s (key_store=%s) %s; nothing was changed'
                          % (who, params['key_store'], problem))
    text, real = read(target, who)
    texts = {} if text is None else {target: text}
    if text is None and present and not params['create']:
        raise Failure('%s does not exist and create=false (%s)' % (target, who), path=target)
    catalog = dict(source='static') if present else None
    if gateway:
        wanted, keep, catalog, more = gateway_catalog(params, environ, target, text, who)
        warnings.extend(more)
        spec = make_spec(wanted, keep_models=keep)
    changes = _plan_files(lower, lambda t, _p: oc.plan_other(t, name, present), who, name, texts)[1]

    entry = None
    if present:
        tplan = plan_file(target, text, lambda t: oc.plan_present(t, spec), who)
        entry = tplan.entry
        _check_depth(target, tplan.new_text, name, entry, who)
        holds = params['key_store'] == 'config' and not oc.is_reference(params['api_key'])
    else:
        tplan = plan_file(target, text, lambda t: oc.plan_absent(t, name), who)
        holds = False
    if tplan.changed or (text is None and present):
        changes.append(Change(target, real, text, tplan.new_text, holds, tplan.changes, 'config', name))

    auth_path = params['auth_path'] or layout.auth_path
    auth_key = params['api_key'] if present and params['key_store'] == 'auth' else None
    atext, areal = read(auth_path, who)
    auth_changed = False
    user_key = None
    if present and user_keyed(params):
        # The developer's own key: report whether there is one, never write or return it.
        found = oc.installed_key_from_auth(atext, name) if atext is not None else None
        user_key = 'present' if oc.is_real_key(found) else 'missing'
        if user_key == 'missing':
            warnings.append(user_key_warning(name, auth_path))
    elif atext is not None or auth_key is not None:
        new_auth = plan_file(auth_path, atext, lambda t: oc.plan_auth(t, name, auth_key), who)
        if new_auth != (atext or ''):
            auth_changed = True
            words = ['stored the key for %s' % name] if auth_key else ['removed the key for %s' % name]
            change = Change(auth_path, areal, atext, new_auth, True, words, 'auth', name)
            # Store a new key before the config stops carrying it; drop an old one after.
            if auth_key:
                changes.insert(0, change)
            else:
                changes.append(change)
    stale = _stale([real, areal] + [c.real for c in changes])
    return UserPlan(spec, target, changes, entry, warnings, auth_path, auth_changed, stale, catalog,
                    user_key, layout.home, texts)


def known_texts(user_plan):
    """Path to text of every config file as ``user_plan`` leaves it: what the plan read, then what
    it changes (None: removed).  Verify takes the layers it needs from here instead of reading
    them again; a text too large for ``_layout.layer_text`` is left out (read and reported there)."""
    known = dict((path, text) for path, text in (user_plan.texts or {}).items()
                 if len(text) <= MAX_KNOWN_CHARS)
    known.update((c.path, c.new) for c in user_plan.changes)
    return known


# A text of at most this many characters is at most _layout.MAX_LAYER_BYTES bytes in UTF-8.
MAX_KNOWN_CHARS = MAX_LAYER_BYTES // 4


def user_keyed(params):
    """True when the developer provides the key in their own auth.json (key_source=user, store auth)."""
    return params.get('key_source') == 'user' and params['key_store'] == 'auth'


def plan_managed_user(environ, name, api_key=None, present=True, auth_path=None, who=None, keep_key=False,
                      texts=None):
    """One user's side of managed scope, as a list of :class:`Change` (nothing written).

    Every global config the user's OpenCode loads (and ``~/.opencode``) loses its
    ``provider.<name>`` copy (``_managed.plan_user_stale``); the user's key goes into their
    credential store (0600, other entries kept) when ``present``, and is removed from it when
    not.  With ``keep_key`` (the developer stores their own key) a present user's
    credential store is left as it is.  Run it in a process of that user: ``environ`` is theirs.
    """
    who = who or where()
    layout = Layout(environ)
    changes = []
    key = api_key if present else None
    if present and not keep_key and (not isinstance(api_key, str) or not api_key.strip() or oc.is_reference(api_key)):
        raise Failure('managed scope needs each user\'s literal key for their credential store (%s)' % who)
    auth_path = auth_path or layout.auth_path
    if present and keep_key:
        # The developer's own credential store: not planned here (plan_managed_scope reads it once).
        atext = key = areal = None
    else:
        atext, areal = read(auth_path, who)
    if atext is not None or key is not None:
        new_auth = plan_file(auth_path, atext, lambda t: oc.plan_auth(t, name, key), who)
        if new_auth != (atext or ''):
            words = ['stored the key for %s' % name] if key else ['removed the key for %s' % name]
            changes.append(Change(auth_path, areal, atext, new_auth, True, words, 'auth', name))
    return changes + _plan_files(layout.global_files() + layout.dot_opencode_files(),
                                 lambda t, _p: mg.plan_user_stale(t, name), who, name, texts)[1]


def plan_managed_scope(params, environ, who=None):
    """One user's side of managed scope as a :class:`UserPlan` (``spec``, ``target``, ``entry``
    and ``catalog`` are None: the entry lives in the managed file).  ``user_key`` (the developer's
    own key, ``key_source=user``) says whether their auth.json holds one, and a warning says when
    it does not."""
    who = who or where()
    layout = Layout(environ)
    name = params['name']
    present = params['state'] == 'present'
    keep_key = params.get('key_source') == 'user'
    texts = {}
    changes = plan_managed_user(environ, name, params['api_key'], present, params['auth_path'], who,
                                keep_key=keep_key, texts=texts)
    auth_path = params['auth_path'] or layout.auth_path
    warnings, user_key = [], None
    if present and keep_key:
        text = read(auth_path, who)[0]
        found = oc.installed_key_from_auth(text, name) if text is not None else None
        user_key = 'present' if oc.is_real_key(found) else 'missing'
        if user_key == 'missing':
            warnings.append(user_key_warning(name, auth_path))
    return UserPlan(None, None, changes, None, warnings, auth_path, any(c.kind == 'auth' for c in changes),
                    _stale([c.real for c in changes]), None, user_key, layout.home, texts)


# Managed (administrator) directory ------------------------------------------------------------
# ``target``: the managed file that wins; ``state_path``: the record of what was written;
# ``drift``: owned paths another tool changed; ``foreign``: entries this collection did not write
# (``[{path, reason}]``, state=absent with owned_only); ``profile``: the macOS profile's path.
ManagedPlan = namedtuple('ManagedPlan', 'spec target entry changes drift catalog warnings foreign profile stale '
                                        'state_path adopted')


def _managed_catalog(params, target, text, who):
    """``(models, keep, info, warnings)``: the managed catalog, as :func:`gateway_catalog` gives it."""
    models = params['models']
    if params['catalog'] != 'gateway':
        return (list(oc.DEFAULT_MODELS) if models is None else models), False, dict(source='static'), []
    key = params['catalog_key']
    if not isinstance(key, str) or not key.strip():
        try:
            url = gw.models_url(oc.normalize_base_url(params['base_url']))
        except oc.PlanError as exc:
            raise Failure('%s (%s)' % (exc, who))
        raise Failure('catalog=gateway needs catalog_key, a key the gateway accepts, to ask %s for the '
                      'model list (%s); the managed file never holds it. Nothing was changed in %s'
                      % (url, who, target), path=target)
    problem = _redact.key_problem(key)
    if problem:
        raise Failure('catalog_key (%s) %s; nothing was changed in %s' % (who, problem, target), path=target)
    wanted = dict(PARAM_DEFAULTS, name=params['name'], base_url=params['base_url'], api_key=key,
                  models=models or [], catalog_include=params['catalog_include'],
                  catalog_exclude=params['catalog_exclude'], catalog_offline=params['catalog_offline'],
                  validate_certs=params['validate_certs'], timeout=params['timeout'])
    wanted, keep, info, warnings = gateway_catalog(wanted, dict(os.environ), target, text, who)
    return wanted['models'], keep, info, warnings


def _profile_change(params, final, who, name):
    """The macOS profile as a :class:`Change` (``new`` None: remove it), or None when unchanged."""
    path = os.path.abspath(params['mobileconfig'])
    try:
        data, real = read(path, who)
    except Failure:
        data, real = None, os.path.realpath(path)
    if final is None:
        new = None
    else:
        try:
            profile = mg.mobileconfig(Document(final).get(()), identifier=params['profile_identifier'],
                                      organization=params['profile_organization'])
        except (ValueError, oc.PlanError) as exc:
            raise Failure('cannot build the profile %s (%s): %s' % (path, who, exc), path=path)
        new = profile.decode('utf-8')
    if new == data:
        return None
    if new is None and data is None:
        return None
    words = ['removed the profile'] if new is None else ['wrote the profile']
    return Change(path, real, data, new, False, words, 'profile', name)


def _attributes_change(path, real, text, mode, owner, name, kind):
    """A :class:`Change` that only sets ``mode`` (and ``owner``) of an unchanged file, or None."""
    found = attributes(real)
    if found is None or (found[0] == mode and (owner is None or found[1:] == tuple(owner))):
        return None
    words = ['set owner root and mode %04o' % mode] if owner is not None else ['set mode %04o' % mode]
    return Change(path, real, text, text, False, words, kind, name)


def plan_managed(params, who=None, root=None):
    """Every change to the managed directory (and profile): a :class:`ManagedPlan`, nothing written.

    ``params`` are the managed module's options.  ``root`` (default: running as root) makes the
    files root's.  The directory's record of what this collection wrote (``_managed.STATE_FILE``)
    decides what ``drift`` is (owned parts changed since the last write) and, with
    ``state=absent`` and ``owned_only``, which entries are this collection's to remove.
    """
    who = who or where()
    root = os.geteuid() == 0 if root is None else root
    name = params['name']
    layout = Layout()
    directory = os.path.abspath(params['directory'] or layout.os_managed_dir)
    target, lower = discover(directory, DIR_FILES)
    state_path = os.path.join(directory, mg.STATE_FILE)
    present = params['state'] == 'present'
    owned_only = bool(params.get('owned_only')) and not present
    text, real = read(target, who)
    state_text, state_real = read(state_path, who)
    records = mg.read_state(state_text)
    record = records.get(name)
    spec, entry, final, drift, catalog, warnings, foreign = None, None, None, [], None, [], []
    adopted = False
    if present:
        models, keep, catalog, warnings = _managed_catalog(params, target, text, who)
        try:
            spec = mg.ManagedSpec(name=name, display_name=params['display_name'], base_url=params['base_url'],
                                  models=models, model_labels=params['model_labels'], model=params['model'],
                                  small_model=params['small_model'], only_gateway=params['only_gateway'],
                                  settings=params['settings'], keep_models=keep)
        except oc.PlanError as exc:
            raise Failure('%s (%s)' % (exc, who))
    if owned_only:
        plans, changes = _plan_files(lower, lambda t, p: mg.plan_owned_absent(t, name, record, os.path.basename(p)),
                                     who, name)
    else:
        plans, changes = _plan_files(lower, lambda t, _p: mg.plan_lower(t, name, present), who, name)
    removed = any(getattr(p, 'removed', False) for _path, p in plans)
    for path, lplan in plans:
        foreign.extend(dict(item, path=path) for item in getattr(lplan, 'foreign', ()))
    new_record = None
    if present:
        tplan = plan_file(target, text, lambda t: mg.plan_managed(t, spec), who)
        entry, final = tplan.entry, tplan.new_text
        if tplan.changed or text is None:
            changes.append(Change(target, real, text, tplan.new_text, False, tplan.changes, 'config', name))
        usable = record if record and record.get('file') == os.path.basename(target) else None
        drift = mg.drift(text, tplan.new_text, name, usable)
        adopted = usable is None and mg.has_entry(text, name)
        new_record = mg.record(tplan.new_text, name, os.path.basename(target), spec)
    elif text is not None:
        if owned_only:
            tplan = plan_file(target, text, lambda t: mg.plan_owned_absent(t, name, record, os.path.basename(target)),
                              who)
            foreign.extend(dict(item, path=target) for item in tplan.foreign)
            removed = removed or tplan.removed
        else:
            tplan = plan_file(target, text, lambda t: mg.plan_managed_absent(t, name), who)
        if tplan.changed:
            changes.append(Change(target, real, text, tplan.new_text, False, tplan.changes, 'config', name))
    # The record of what was written, kept in step with the entry: updated by every present run,
    # dropped when the entry goes (state=absent with owned_only: only when it was this collection's).
    if present or (record is not None and (removed or not owned_only)):
        new_state = mg.render_state(records, name, new_record)
        if new_state != state_text:
            words = (['recorded what this module wrote (provider.%s)' % name] if new_record is not None else
                     ['dropped the record of provider.%s' % name])
            changes.append(Change(state_path, state_real, state_text, new_state, False, words, 'state', name))
    mode, owner = mg.FILE_MODE, ((0, 0) if root else None)
    if params.get('mobileconfig'):
        profile = _profile_change(params, final, who, name)
        if profile is not None:
            changes.append(profile)
    # Ownership and mode of files that stay as they are (not with owned_only when nothing of
    # this collection's is there: then the directory is not its business).
    written = set(c.path for c in changes)
    unchanged = [(target, real, text, 'config'), (state_path, state_real, state_text, 'state')]
    if owned_only and not removed:
        unchanged = []
    if params.get('mobileconfig') and final is not None:
        path = os.path.abspath(params['mobileconfig'])
        unchanged.append((path, os.path.realpath(path), None, 'profile'))
    for path, preal, ptext, kind in unchanged:
        if path not in written and os.path.exists(preal):
            if kind == 'profile':
                ptext = read(path, who)[0]
            change = _attributes_change(path, preal, ptext, mode, owner, name, kind)
            if change is not None:
                changes.append(change)
    stale = _stale([c.real for c in changes] + [real])
    return ManagedPlan(spec, target, entry, changes, drift, catalog, warnings, foreign,
                       os.path.abspath(params['mobileconfig']) if params.get('mobileconfig') else None, stale,
                       state_path, adopted)


def managed_policy(params, who, root=None):
    """How the managed module writes: 0644 files, 0755 directories, root's when run as root, in a
    directory that cannot be swapped by another account."""
    root = os.geteuid() == 0 if root is None else root
    directory = os.path.abspath(params['directory'] or Layout().os_managed_dir)
    return Policy(backup=params['backup'], who=who, mode=mg.FILE_MODE, owner=(0, 0) if root else None,
                  dir_mode=mg.DIR_MODE, dir_owner=(0, 0) if root else None, trusted=(directory,) if root else ())


# --------------------------------------------------------------------------- apply
def _size(text):
    if text is None:
        return 0
    return len(text.encode('utf-8', 'surrogateescape')) if isinstance(text, str) else len(text)


def _kib(size):
    if size >= 1024:
        return '%d KiB' % -(-size // 1024)
    return '1 byte' if size == 1 else '%d bytes' % size


def _under(path, directory):
    return os.path.abspath(path).startswith(os.path.abspath(directory).rstrip(os.sep) + os.sep)


def preflight(changes, policy):
    """Every check that can be made before anything is written; a Failure (nothing written) or None.

    The home (when a file under it changes) must exist; every directory that will hold a file
    must be reachable, writable by the running user and on a read-write file system; each file
    system must have room (blocks and inodes, as ``statvfs`` tells the running user) for the new
    files, their backups and, when there is more than one file, the restore of one of them; and
    the ``policy.trusted`` directories must be safe for root to write in.
    """
    who = policy.who or where()
    if not changes:
        return
    if policy.home and not os.path.isdir(policy.home) and any(_under(c.real, policy.home) or _under(c.path, policy.home)
                                                              for c in changes):
        raise Failure('the home directory %s of %s does not exist (or is not a directory); create the account\'s '
                      'home first; nothing was changed' % (policy.home, who), path=policy.home, changed=False)
    for directory in policy.trusted:
        problem = untrusted_directory(directory)
        if problem:
            raise Failure('refusing to write the managed config in %s as root (%s): %s; nothing was changed'
                          % (directory, who, problem), path=directory, changed=False)
    needs = {}
    for change in changes:
        directory = os.path.dirname(change.real)
        problem = directory_problem(directory)
        if problem:
            raise Failure('cannot write %s (%s): %s; nothing was changed' % (change.path, who, problem),
                          path=change.path, changed=False)
        if change.new is None or change.new == change.old:
            continue  # a removal or new owner and mode: no room needed
        space = free_space(directory)
        if space is None:
            continue
        device, free, block, inodes = space
        need = needs.setdefault(device, dict(free=free, block=block, inodes=inodes, bytes=0, files=0, restore=0,
                                             backups=0, writes=0, first=change.path, directory=directory))
        need['bytes'] += blocks_for(_size(change.new), block)
        need['files'] += 1
        need['writes'] += 1
        if policy.backup and change.old is not None and change.kind != 'state':
            need['backups'] += blocks_for(_size(change.old), block)
            need['files'] += 1
        need['restore'] = max(need['restore'], blocks_for(_size(change.old), block))
    several = len(changes) > 1
    for need in needs.values():
        total = need['bytes'] + need['backups'] + (need['restore'] if several else 0)
        if total > need['free']:
            parts = ['the new files' if need['writes'] > 1 else 'the new file']
            if need['backups']:
                parts.append('their backups' if need['writes'] > 1 else 'its backup')
            if several and need['restore']:
                parts.append('room to restore one of them if a later write fails')
            raise Failure('cannot write %s (%s): not enough free space in %s: %s needed (%s), %s free: no space left '
                          'on device (ENOSPC); nothing was changed'
                          % (need['first'], who, need['directory'], _kib(total), ', '.join(parts), _kib(need['free'])),
                          path=need['first'], changed=False)
        if need['inodes'] is not None and need['files'] > need['inodes']:
            raise Failure('cannot write %s (%s): no free inodes left in %s (%d needed, %d free): no space left on '
                          'device (ENOSPC); nothing was changed'
                          % (need['first'], who, need['directory'], need['files'], need['inodes']),
                          path=need['first'], changed=False)


def _write(module, change, policy):
    """Make one change; return its backup file or None."""
    if change.new is None:
        remove_file(change.real, change.old)
        return None
    if change.new == change.old:
        check_unchanged(change.real, change.old)
        set_attributes(change.real, policy.mode, policy.owner)
        return None
    backup = policy.backup and change.old is not None and change.kind != 'state'
    made = write_atomic(module, change.path, change.real, change.new, change.holds_secret, backup,
                        expect=change.old, mode=policy.mode, owner=policy.owner)
    if policy.owner is not None or policy.mode is not None:
        set_attributes(change.real, policy.mode, policy.owner)
    return made


def _make_dirs(change, policy):
    """Create the missing directories of ``change``; return them (to remove on a rollback)."""
    if change.new is None:
        return []
    created = make_dirs(os.path.dirname(change.real), policy.dir_mode)
    try:
        for made in created:
            if policy.dir_owner is not None:
                try:
                    os.chown(made, policy.dir_owner[0], policy.dir_owner[1])
                except OSError as exc:
                    raise FileError('cannot set the owner of directory %s: %s' % (made, why(exc)))
        for directory in policy.trusted if created else ():
            problem = untrusted_directory(directory)
            if problem:
                raise FileError(problem)
    except FileError:
        # The caller says "nothing was changed": the directories made here go again.
        for directory in reversed(created):
            try:
                os.rmdir(directory)
            except OSError:
                break
        raise
    return created


def _undo(module, change, before, created):
    """Put one written file back as it was (``before``: its mode, uid and gid, None when it was missing)."""
    if change.old is None:
        remove_file(change.real, change.new)
        for directory in reversed(created):
            try:
                os.rmdir(directory)
            except OSError:
                break  # not empty (someone else's file) or gone: leave it
    elif change.new == change.old:
        set_attributes(change.real, before[0], before[1:])
    else:
        write_atomic(module, change.path, change.real, change.old, False, False,
                     expect=change.new, mode=before[0], owner=before[1:])


def rollback(module, done):
    """Undo ``done`` (``[(change, before, created)]``), last first; ``(restored, failed)`` paths,
    ``failed`` as ``(path, why)``."""
    restored, failed = [], []
    for change, before, created in reversed(done):
        try:
            _undo(module, change, before, created)
            restored.append(change.path)
        except (FileError, OSError, IOError) as exc:
            failed.append((change.path, str(exc) if isinstance(exc, FileError) else why(exc)))
    return list(reversed(restored)), list(reversed(failed))


def apply(module, changes, policy):
    """Write the planned ``changes`` in order, as ``policy`` says; return ``{path: backup_file}``.

    All or nothing: :func:`preflight` first, then every file is checked to still hold what was
    planned from (if one changed, nothing is written at all).  Each write checks its file once
    more right before the rename.  When a write fails after others, those are rolled back (their
    earlier bytes, mode and owner restored atomically, backups kept) and the Failure names what
    was restored and what could not be; its ``details['changed']`` is True once a file was
    written.  ``policy.stale`` temporary files are removed last.
    """
    who = policy.who or where()
    preflight(changes, policy)
    current = None
    try:
        for change in changes:
            current = change
            if os.path.lexists(change.real) or change.old is not None:
                check_unchanged(change.real, change.old)
    except FileError as exc:
        details = dict(path=current.path, changed=False)
        if isinstance(exc, Conflict):
            details['conflict'] = True
        raise Failure('cannot write %s (%s): %s; nothing was changed' % (current.path, who, exc), **details)
    backups, done = {}, []
    for change in changes:
        before = attributes(change.real)
        created = []
        try:
            created = _make_dirs(change, policy)
            made = _write(module, change, policy)
        except (FileError, OSError, IOError) as exc:
            text = str(exc) if isinstance(exc, FileError) else why(exc)
            for directory in reversed(created):
                try:
                    os.rmdir(directory)
                except OSError:
                    break
            raise _failed(module, change, text, exc, done, backups, who)
        done.append((change, before, created))
        if made:
            backups[change.path] = made
    try:
        remove_files(policy.stale)
    except FileError as exc:
        what = 'the planned files were written' if done else 'nothing else was changed'
        raise Failure('cannot tidy up (%s): %s; %s' % (who, exc, what),
                      changed=bool(done), written=[c.path for c, _b, _d in done], backup_files=backups)
    return backups


def _failed(module, change, text, exc, done, backups, who):
    """The Failure for a write of ``change`` that failed after ``done``, rolling those back."""
    details = dict(path=change.path, changed=bool(done))
    if isinstance(exc, Conflict):
        details['conflict'] = True
    if not done:
        return Failure('cannot write %s (%s): %s; nothing was changed' % (change.path, who, text), **details)
    restored, failed = rollback(module, done)
    msg = ('cannot write %s (%s): %s; %s was left as it was. It was not the first write of the run: '
           % (change.path, who, text, change.path))
    if restored:
        msg += 'rolled back %s (earlier content, mode and owner restored)' % ', '.join(restored)
    if failed:
        msg += '%scould not roll back %s, which %s the new content' % (
            '; ' if restored else '', ', '.join('%s (%s)' % f for f in failed), 'hold' if len(failed) > 1 else 'holds')
    if backups:
        msg += '; backups kept: %s' % ', '.join(sorted(backups.values()))
    details.update(written=[c.path for c, _b, _d in done], restored=restored,
                   not_restored=[path for path, _why in failed], backup_files=backups)
    return Failure(msg, **details)


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
        return ('' if change.old is None else _dump(before)), ('' if change.new is None else _dump(after))
    except (ValueError, RecursionError):
        return '(not shown)\n', '(not shown)\n'


def diff_views(changes, secrets, label=None, extra_keys=()):
    """Ansible diff entries for ``changes``: what the module manages, credentials masked.

    A change of owner and mode only, and the managed module's record, have none; a macOS
    profile (no key in it) is shown whole.
    """
    prefix = (label + ': ') if label else ''
    red = _redact.Redactor(secrets)
    out = []
    for change in changes:
        if change.kind == 'state' or change.new == change.old:
            continue
        if change.kind == 'profile':
            before, after = change.old or '', change.new or ''
        else:
            before, after = _views(change, extra_keys)
        out.append(dict(before_header=red.text(prefix + change.path), after_header=red.text(prefix + change.path),
                        before=red.text(before, multiline=True), after=red.text(after, multiline=True)))
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
        entry = _redact.Redactor(secrets).json(oc.redact_entry(user_plan.entry))
        out.update(base_url=user_plan.spec.base_url, models=user_plan.spec.model_ids, entry=entry)
    if user_plan.catalog is not None:
        out['catalog'] = user_plan.catalog
    if user_plan.user_key is not None:
        out['key'] = user_plan.user_key
    if diff:
        out['diff'] = diff_views(user_plan.changes, secrets, diff_label)
    return out
