# -*- coding: utf-8 -*-
# Copyright: (c) 2026, omniroute.opencode contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The managed (administrator) tier of OpenCode: plan the system-wide config and its profile.

OpenCode 1.18.33 loads, after every user-level source, ``opencode.json`` then ``opencode.jsonc``
from a managed directory (``/etc/opencode`` on Linux, ``/Library/Application Support/opencode``
on macOS) and, on macOS only, the managed-preferences domain ``ai.opencode.managed`` (an MDM
profile).  Layers deep-merge, so what the managed layer sets wins over a user's own files.

The managed file is world-readable and shared by every user of a host: it never holds a key.
Each user's key stays in that user's own credential store (``auth.json``), which OpenCode reads
for the managed entry as long as no layer sets ``options.apiKey``.

Private to the collection; standard library only.  The planning engine is ``_opencode``'s
(:func:`plan_present` with a key-less :class:`Spec`); this module adds the allow-list, the extra
managed settings, the key checks and the macOS profile.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import plistlib
import re
import uuid

from ansible_collections.omniroute.opencode.plugins.module_utils import _opencode as oc
from ansible_collections.omniroute.opencode.plugins.module_utils._jsonc import Document

LINUX_DIR = '/etc/opencode'
MACOS_DIR = '/Library/Application Support/opencode'
# In increasing precedence, as OpenCode loads them from the managed directory.
MANAGED_NAMES = ('opencode.json', 'opencode.jsonc')
# The macOS managed-preferences domain OpenCode reads (the payload type of the profile).
PLIST_DOMAIN = 'ai.opencode.managed'
DEFAULT_PROFILE_ID = 'ai.opencode.managed.omniroute'
# Settings the planner owns; extra managed settings may not set them.
_OWNED = ('$schema', 'provider')
# A setting's name that says it carries a credential ("keybinds" is not one).
_SECRET_KEY_NAME = re.compile(
    r'(api[-_]?key|(^|[-_.])key|token|secret|password|passwd|authorization|credentials?)$', re.I)
# A value that looks like an API key whatever its name.
_SECRET_VALUE = re.compile(r'^\s*(sk|rk|pk|key)[-_][A-Za-z0-9_\-]{6,}\s*$', re.I)


def default_directory(system=None):
    """The managed config directory OpenCode reads on this OS."""
    system = system or os.uname()[0]
    return MACOS_DIR if system == 'Darwin' else LINUX_DIR


def discover(directory, exists=os.path.lexists):
    """``(target, lower)``: the managed file to edit (the one that wins) and the one below it."""
    present = [os.path.join(directory, n) for n in MANAGED_NAMES if exists(os.path.join(directory, n))]
    if not present:
        return os.path.join(directory, 'opencode.json'), []
    return present[-1], present[:-1]


# --------------------------------------------------------------------------- key checks
def find_secrets(value, path=()):
    """Dotted paths in ``value`` whose value is, or looks like, a credential.

    A string under a credential-like name (``apiKey``, ``token``, ``Authorization``...) counts
    unless it is empty; so does any string shaped like an API key (``sk-...``).  OpenCode's own
    references count too: ``{env:}`` in a shared file reads each user's environment, but
    ``{file:}`` is fatal for every user who lacks the file, and neither belongs in the managed
    layer, whose whole point is that keys stay per user.
    """
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            sub = path + (str(key),)
            if isinstance(item, str) and item.strip() and _SECRET_KEY_NAME.search(str(key)):
                found.append('.'.join(sub))
            else:
                found.extend(find_secrets(item, sub))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(find_secrets(item, path + ('[%d]' % index,)))
    elif isinstance(value, str) and _SECRET_VALUE.match(value):
        found.append('.'.join(path) or '(value)')
    return found


# --------------------------------------------------------------------------- planning
class ManagedSpec:
    """What the managed layer should hold for one gateway provider."""

    def __init__(self, name=oc.DEFAULT_NAME, display_name=oc.DEFAULT_DISPLAY_NAME,
                 base_url=oc.DEFAULT_BASE_URL, models=oc.DEFAULT_MODELS, model_labels=None,
                 model=None, small_model=None, only_gateway=False, settings=None):
        self.entry_spec = oc.Spec(name=name, display_name=display_name, base_url=base_url,
                                  api_key=None, models=models, model_labels=model_labels,
                                  model=model, small_model=small_model, key_in_config=False)
        self.name = self.entry_spec.name
        self.only_gateway = bool(only_gateway)
        settings = dict(settings or {})
        for key in settings:
            if not isinstance(key, str) or not key:
                raise oc.PlanError('managed settings must be named by non-empty strings, got %r' % (key,))
            if key in _OWNED:
                raise oc.PlanError('managed settings may not set %r: the provider entry and $schema '
                                   'are planned from the other options' % key)
        if self.only_gateway and 'enabled_providers' in settings:
            raise oc.PlanError('managed settings may not set enabled_providers together with '
                               'only_gateway, which sets it to [%s]' % self.name)
        # The entry is built key-less; these are the values an administrator hands in.
        leaks = find_secrets(settings) + find_secrets(self.entry_spec.entry(), ('provider', self.name))
        if leaks:
            raise oc.PlanError('the managed config is readable by every user and never holds a key; '
                               'refusing %s' % ', '.join(leaks))
        self.settings = settings

    @property
    def base_url(self):
        return self.entry_spec.base_url

    @property
    def model_ids(self):
        return self.entry_spec.model_ids


def _merge_setting(ed, path, value):
    """Set ``value`` at ``path``; objects merge key by key, like OpenCode's layers do."""
    current = ed.doc.get(path, oc._MISSING) if not ed.doc.empty else oc._MISSING
    if isinstance(value, dict) and isinstance(current, dict) and value:
        for key, item in value.items():
            _merge_setting(ed, path + (key,), item)
    else:
        ed.set(path, value)


def _allow_list(ed, name, only_gateway, changes):
    enabled = ed.doc.get(('enabled_providers',)) if not ed.doc.empty else None
    if only_gateway:
        if enabled != [name]:
            ed.set(('enabled_providers',), [name])
            changes.append('set enabled_providers to [%s]' % name)
    elif enabled == [name]:
        # The allow-list only_gateway writes; a longer list is the administrator's own.
        ed.delete(('enabled_providers',))
        changes.append('removed enabled_providers (only_gateway is off)')


def plan_managed(text, spec):
    """Plan the managed file: the key-less entry, the allow-list and the extra settings.

    Everything else in the file (comments, other providers, other settings) is kept byte for
    byte.  Raises PlanError (or JSONCError for invalid text) and then nothing is written.
    """
    base = oc.plan_present(text, spec.entry_spec)
    changes = list(base.changes)
    doc = Document(base.new_text)
    ed = oc._Editor(doc)
    _allow_list(ed, spec.name, spec.only_gateway, changes)
    for key, value in spec.settings.items():
        before = len(ed.ops)
        _merge_setting(ed, (key,), value)
        if len(ed.ops) != before:
            changes.append('set %s' % key)
    oc._verify(ed)
    entry = ed.doc.get(('provider', spec.name))
    leaks = find_secrets(entry, ('provider', spec.name))
    if leaks:
        raise oc.PlanError('the managed entry already holds a credential at %s; the managed config is '
                           'readable by every user: move it out, then run again' % ', '.join(leaks))
    return oc.Plan(text, ed.doc.text, changes if ed.doc.text != text else [], entry)


def plan_managed_absent(text, name):
    """Remove the entry, the top-level models that use it and the allow-list; keep the rest."""
    base = oc.plan_absent(text, name)
    changes = list(base.changes)
    if not base.new_text.strip():
        return base
    ed = oc._Editor(Document(base.new_text))
    enabled = ed.doc.get(('enabled_providers',))
    if enabled == [name]:
        ed.delete(('enabled_providers',))
        changes.append('removed enabled_providers')
    elif isinstance(enabled, list) and name in enabled:
        ed.set(('enabled_providers',), [p for p in enabled if p != name])
        changes.append('removed %s from enabled_providers' % name)
    oc._verify(ed)
    return oc.Plan(text, ed.doc.text, changes if ed.doc.text != text else [])


def plan_lower(text, name, present):
    """The managed file OpenCode loads before the target (``opencode.json`` under a
    ``opencode.jsonc``): a copy of the entry there would be merged in, so it goes."""
    return oc.plan_other(text, name, present)


def plan_user_stale(text, name):
    """A user's own config in managed scope: drop their ``provider.<name>`` copy.

    OpenCode deep-merges a user's entry under the managed one, so a stale copy would add its
    models and options to the gateway entry.  The user's top-level ``model`` is kept (the
    managed entry still offers those models) and lists that would hide the provider are
    repaired: this is :func:`_opencode.plan_other` for a file the module does not own.
    """
    return oc.plan_other(text, name, True)


def plan_user(environ, name, api_key=None, present=True, auth_path=None, who=None, keep_key=False):
    """One user's side of managed scope, as a list of ``_configure.Change`` (nothing written).

    Every global config the user's OpenCode loads (and ``~/.opencode``) loses its
    ``provider.<name>`` copy (:func:`plan_user_stale`); the user's key goes into their
    credential store (0600, other entries kept) when ``present``, and is removed from it when
    not.  With ``keep_key`` (the developer stores their own key) a present user's
    credential store is left as it is.  Run it in a process of that user: ``environ`` is theirs.
    """
    from ansible_collections.omniroute.opencode.plugins.module_utils import _configure as cfg
    who = who or cfg.where()
    home = environ.get('HOME') or None
    directory = oc.config_dir(environ, home)
    files = [os.path.join(directory, n) for n in oc.CONFIG_FILES] + oc.dot_opencode_files(environ)
    changes = []
    key = api_key if present else None
    if present and not keep_key and (not isinstance(api_key, str) or not api_key.strip() or oc.is_reference(api_key)):
        raise cfg.Failure('managed scope needs each user\'s literal key for their credential store (%s)' % who)
    auth_path = auth_path or os.path.join(oc.data_dir(environ, home), 'auth.json')
    atext, areal = cfg._read(auth_path, who)
    if present and keep_key:
        atext = key = None
    if atext is not None or key is not None:
        new_auth = cfg._plan(auth_path, atext, lambda t: oc.plan_auth(t, name, key), who)
        if new_auth != (atext or ''):
            words = ['stored the key for %s' % name] if key else ['removed the key for %s' % name]
            changes.append(cfg.Change(auth_path, areal, atext, new_auth, True, words, 'auth', name))
    for path in files:
        text, real = cfg._read(path, who)
        if text is None:
            continue
        plan = cfg._plan(path, text, lambda t: plan_user_stale(t, name), who)
        if plan.changed:
            changes.append(cfg.Change(path, real, text, plan.new_text, False, plan.changes, 'config', name))
    return changes


# --------------------------------------------------------------------------- macOS profile
def _plist_safe(value, path=()):
    if value is None:
        raise oc.PlanError('%s is null, which a macOS profile cannot carry' % ('.'.join(path) or 'the config'))
    if isinstance(value, dict):
        for key, item in value.items():
            _plist_safe(item, path + (str(key),))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _plist_safe(item, path + ('[%d]' % index,))


def mobileconfig(settings, identifier=DEFAULT_PROFILE_ID, display_name='OpenCode: OmniRoute gateway',
                 organization=None, description=None):
    """A macOS configuration profile (XML plist bytes) for the ``ai.opencode.managed`` domain.

    ``settings`` is the managed config as a mapping (``$schema`` is dropped).  The profile has
    one payload whose type is the preference domain; macOS writes its keys to
    ``/Library/Managed Preferences/ai.opencode.managed.plist`` and OpenCode strips the
    ``Payload*`` keys before merging the rest above every other layer.  UUIDs derive from
    ``identifier``, so the same input gives the same bytes (an MDM sees an update, not a new
    profile).
    """
    if not isinstance(settings, dict):
        raise oc.PlanError('the managed config must be an object to become a profile')
    config = dict((k, v) for k, v in settings.items() if k != '$schema')
    _plist_safe(config)
    leaks = find_secrets(config)
    if leaks:
        raise oc.PlanError('refusing to put a credential into a profile: %s' % ', '.join(leaks))
    reserved = [k for k in config if k.startswith('Payload')]
    if reserved:
        raise oc.PlanError('%s would collide with profile metadata' % ', '.join(reserved))
    payload = dict(config)
    payload.update({
        'PayloadType': PLIST_DOMAIN,
        'PayloadIdentifier': identifier + '.payload',
        'PayloadUUID': str(uuid.uuid5(uuid.NAMESPACE_DNS, identifier + '.payload')).upper(),
        'PayloadVersion': 1,
        'PayloadDisplayName': display_name,
    })
    profile = {
        'PayloadContent': [payload],
        'PayloadDisplayName': display_name,
        'PayloadIdentifier': identifier,
        'PayloadType': 'Configuration',
        'PayloadUUID': str(uuid.uuid5(uuid.NAMESPACE_DNS, identifier)).upper(),
        'PayloadVersion': 1,
        'PayloadScope': 'System',
        'PayloadRemovalDisallowed': True,
    }
    if organization:
        profile['PayloadOrganization'] = organization
    if description:
        profile['PayloadDescription'] = description
    return plistlib.dumps(profile, fmt=plistlib.FMT_XML, sort_keys=True)
