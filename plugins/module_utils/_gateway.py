# -*- coding: utf-8 -*-
# Copyright: (c) 2026, omniroute.opencode contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ask the OmniRoute gateway, from the target host, what a key may use.

Three jobs, all standard library:

* :func:`fetch_models` - one ``GET <base_url>/models`` with the user's key (through the
  collection's one HTTP client, ``_http``), classified as ``ok``, ``offline`` (unreachable,
  timeout, 5xx, a broken answer), ``rejected`` (401/403) or ``bad`` (any other answer that is
  not a model list: a 404 at a wrong path, a redirect, an answer over the size cap).  The answer
  is validated: models whose id holds control or bidi characters, or is longer than
  :data:`MAX_ID`, are dropped (with a warning), and more than :data:`MAX_MODELS` is ``bad``.
* :func:`build_catalog` - the OpenCode model catalog for that answer: chat models only,
  ``catalog_include``/``catalog_exclude`` globs, pinned ids from ``models`` first, each model
  with the OpenCode settings its metadata supports (``limit``, ``tool_call``, ``reasoning``,
  ``attachment``, ``modalities``); a value OpenCode cannot use (a limit that is not a whole
  number from 1 to :data:`MAX_TOKENS`) is dropped with a warning naming the model.
* :func:`verify` - a probe of what OpenCode will meet for one user: reachability, status, key
  accepted, models offered and missing, the OpenCode version, the config layers that override
  the entry (``_layout`` says which), in the one probe shape of :func:`probe_result`.  Shared by
  the ``provider`` module and the per-host ``users`` module.

No key ever leaves this module: results and messages carry neither the key nor the
``Authorization`` header, and gateway texts are scrubbed (``_redact.Redactor``) before they are
cut.  docs/security.md lists every bound.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import fnmatch
import math
import os
import re
from collections import namedtuple

from ansible_collections.omniroute.opencode.plugins.module_utils import _http
from ansible_collections.omniroute.opencode.plugins.module_utils import _layout
from ansible_collections.omniroute.opencode.plugins.module_utils import _redact
from ansible_collections.omniroute.opencode.plugins.module_utils._keys import CHECK_MODE_KEY
from ansible_collections.omniroute.opencode.plugins.module_utils._opencode import PlanError, normalize_base_url

# Check mode of the role with keys from OmniRoute: a key this run would create has no value yet.
KEY_TO_BE_MADE = 'the key does not exist yet: this run creates it in OmniRoute (check mode)'

DEFAULT_TIMEOUT = _http.DEFAULT_TIMEOUT

# The catalog and verify options, shared by the modules that offer them (provider, users).
CATALOG_ARGUMENT_SPEC = dict(
    catalog=dict(type='str', choices=['static', 'gateway'], default='static'),
    catalog_include=dict(type='list', elements='str', default=[]),
    catalog_exclude=dict(type='list', elements='str', default=[]),
    catalog_offline=dict(type='str', choices=['keep', 'fail'], default='keep'),
    validate_certs=dict(type='bool', default=True),
    timeout=dict(type='int', default=DEFAULT_TIMEOUT),
    verify=dict(type='bool', default=False),
)
# The most of an answer that is read; a model list of thousands of models is far below this.
MAX_BODY = _http.MAX_BODY
# More models than this in one answer is not a model list OpenCode could use.
MAX_MODELS = 10000
# The longest model id kept (OmniRoute's ids are under 80 characters).
MAX_ID = 200
# A token limit is a whole number from 1 to this; anything else is dropped.
MAX_TOKENS = 10 ** 9
# The longest gateway text (an error message) shown in a cause.
MAX_TEXT = 200
# At most this many items are named in one warning ("and N more" for the rest).
MAX_NAMED = 5
# What OpenCode 1.18 accepts in a model's ``modalities`` lists ("file", for one, is refused).
OPENCODE_MODALITIES = ('text', 'audio', 'image', 'video', 'pdf')
# A gateway model without ``type`` is a chat model; with one of these it is too.  Every other
# type (audio, image, embedding, moderation, rerank...) is left out of OpenCode's catalog.
CHAT_TYPES = ('chat', 'text', 'llm', 'language', 'completion')
# What OpenCode's {file:} substitution trims from a key file: JavaScript's String.trim().
JS_WHITESPACE = (u'\t\n\x0b\x0c\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008'
                 u'\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff')
# A model id that cannot be shown or sent as it is: controls, bidi and invisible marks.
_BAD_ID = re.compile(u'[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064'
                     u'\u2066-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff]')

OK, OFFLINE, REJECTED, BAD, NO_KEY = 'ok', _http.OFFLINE, 'rejected', _http.BAD, 'no_key'

# The outcome of one GET <base_url>/models.  ``models`` is the validated ``data`` list (ok only);
# ``cause`` says why, in words, without the key; ``summary`` describes the body; ``warnings``
# name what was dropped from the answer.
Answer = namedtuple('Answer', 'url outcome status models cause summary seconds warnings')


# --------------------------------------------------------------------------- the key
def _js_trim(text):
    return text.strip(JS_WHITESPACE)


def resolve_key(api_key, environ, home, config_path):
    """``(key, problem)``: the key OpenCode will send, as the module can see it.

    A literal key is itself.  ``{file:path}`` is read on this host the way OpenCode reads it
    (``~/`` is the user's home, a relative path is relative to the config file's directory,
    surrounding whitespace trimmed as JavaScript's ``trim()`` does).  ``{env:VAR}`` is taken from
    ``environ`` when set there, as it is (OpenCode does not trim it).  Otherwise, or when the key
    could not go into a header (:func:`_redact.key_problem`), ``key`` is None and ``problem`` says
    why the catalog cannot be fetched, without the key.
    """
    if api_key == CHECK_MODE_KEY:
        return None, KEY_TO_BE_MADE
    found = _redact.reference(api_key)
    if found is None:
        problem = _redact.key_problem(api_key)
        if problem:
            return None, 'the key %s' % problem
        return api_key, None
    kind, ref = found
    if kind == 'env':
        found = environ.get(ref)
        if not found:
            return None, ('the key is {env:%s} and %s is not set in the environment the module runs in '
                          '(OpenCode reads it from the developer\'s shell)' % (ref, ref))
        problem = _redact.key_problem(found)
        if problem:
            return None, ('the key in %s (named by {env:%s}) %s; OpenCode inserts an {env:} value as it is'
                          % (ref, ref, problem))
        return found, None
    path = ref
    if path.startswith('~/'):
        path = os.path.join(home, path[2:])
    elif not os.path.isabs(path):
        path = os.path.join(os.path.dirname(os.path.abspath(config_path)), path)
    try:
        with open(path, 'rb') as handle:
            text = _js_trim(handle.read(64 * 1024).decode('utf-8'))
    except (IOError, OSError) as exc:
        return None, 'the key file %s named by {file:%s} cannot be read (%s)' % (
            path, ref, getattr(exc, 'strerror', None) or type(exc).__name__)
    except UnicodeDecodeError:
        return None, 'the key file %s named by {file:%s} is not UTF-8 text' % (path, ref)
    if not text:
        return None, 'the key file %s named by {file:%s} is empty' % (path, ref)
    problem = _redact.key_problem(text)
    if problem:
        return None, 'the key in the file %s named by {file:%s} %s' % (path, ref, problem)
    return text, None


# --------------------------------------------------------------------------- one request
def models_url(base_url):
    return base_url.rstrip('/') + '/models'


def _error_text(body, red):
    """What a gateway said in an error body, scrubbed, then cut (never the other way round)."""
    payload, problem = _http.parse_json(body)
    if problem is None and isinstance(payload, dict):
        err = payload.get('error', payload.get('message'))
        if isinstance(err, dict):
            err = err.get('message') or err.get('code')
        if isinstance(err, str) and err.strip():
            return red.text(err.strip(), MAX_TEXT)
    text = body.decode('utf-8', 'replace').strip()
    if text.lower().startswith(('<!doctype', '<html')):
        return 'an HTML page'
    return red.text(text, MAX_TEXT) if text else 'an empty body'


def named(items, more_words='more'):
    """``a, b, c and 4 more``: at most MAX_NAMED items named."""
    items = list(items)
    shown = ', '.join(items[:MAX_NAMED])
    if len(items) > MAX_NAMED:
        shown += ' and %d %s' % (len(items) - MAX_NAMED, more_words)
    return shown


def shown_id(model_id):
    """A model id as a message may show it: invisible and control characters removed, cut."""
    return repr(_redact.Redactor().text(model_id, 60))


def _valid_models(data):
    """``(models, dropped)``: the entries with a usable string id (trimmed), and the ids dropped."""
    models, dropped = [], []
    for model in data:
        if not isinstance(model, dict) or not isinstance(model.get('id'), str):
            continue
        model_id = model['id'].strip()
        if not model_id:
            continue
        if len(model_id) > MAX_ID or _BAD_ID.search(model_id):
            dropped.append(model_id)
            continue
        if model_id != model['id']:
            model = dict(model, id=model_id)
        models.append(model)
    return models, dropped


# Answers of GET <base_url>/models shared within one module run (:func:`share_answers`), by
# (url, key, timeout, validate_certs): in one user's process the catalog (catalog=gateway) and
# verify ask the same question, and the users module hands one answer to the processes of users
# who send the same key (issue 22).  Never shared between different keys.
_SHARED = []


@contextlib.contextmanager
def share_answers():
    """While active, :func:`fetch_models` asks each (url, key, timeout, validate_certs) once."""
    _SHARED.append({})
    try:
        yield _SHARED[-1]
    finally:
        _SHARED.pop()


def _answer_key(base_url, key, timeout, validate_certs):
    return (models_url(base_url), key, timeout or DEFAULT_TIMEOUT, bool(validate_certs))


def remember_answer(base_url, key, timeout, validate_certs, answer):
    """Give :func:`fetch_models` an answer another process of the same run got for the same key."""
    if _SHARED:
        _SHARED[-1][_answer_key(base_url, key, timeout, validate_certs)] = answer


def forget_answers(keep=None):
    """Drop every shared answer but those for the key ``keep`` (a user's process holds only its key)."""
    for memo in _SHARED:
        for mkey in [k for k in memo if k[1] != keep]:
            del memo[mkey]


def fetch_models(base_url, key, timeout=DEFAULT_TIMEOUT, validate_certs=True):
    """``GET <base_url>/models`` with ``Authorization: Bearer <key>``; returns an :class:`Answer`
    (one request per key and run while :func:`share_answers` is active)."""
    if not _SHARED:
        return _get_models(base_url, key, timeout, validate_certs)
    mkey = _answer_key(base_url, key, timeout, validate_certs)
    memo = _SHARED[-1]
    if mkey not in memo:
        memo[mkey] = _get_models(base_url, key, timeout, validate_certs)
    return memo[mkey]


def _get_models(base_url, key, timeout, validate_certs):
    url = models_url(base_url)
    headers = {'Accept': 'application/json', 'User-Agent': 'omniroute.opencode-ansible'}
    if key:
        headers['Authorization'] = 'Bearer ' + key
    red = _redact.Redactor([key])
    reply = _http.request('GET', url, headers, timeout=timeout, validate_certs=validate_certs,
                          max_body=MAX_BODY, secrets=red)
    status = reply.status

    def answer(outcome, cause, summary, models=None, warnings=()):
        return Answer(reply.url, outcome, status, models, cause, summary, reply.seconds, list(warnings))

    if reply.outcome != _http.ANSWERED:
        summary = 'no answer' if status is None else 'HTTP %s, not used' % status
        return answer(reply.outcome, reply.cause, summary)
    body = reply.body
    if status in (401, 403):
        return answer(REJECTED, 'HTTP %s: %s' % (status, _error_text(body, red)), 'HTTP %s' % status)
    if status >= 500:
        return answer(OFFLINE, 'HTTP %s: %s' % (status, _error_text(body, red)), 'HTTP %s' % status)
    if not 200 <= status < 300:
        text = _error_text(body, red)
        return answer(BAD, 'HTTP %s: %s' % (status, text), 'HTTP %s: %s' % (status, text))
    payload, problem = _http.parse_json(body)
    if problem:
        text = 'an HTML page' if body.lstrip()[:9].lower() in (b'<!doctype', b'<html>') or \
            body.lstrip()[:5].lower() == b'<html' else problem
        return answer(BAD, 'HTTP %s but the answer is not a model list (%s)' % (status, text), 'not JSON: %s' % text)
    data = payload.get('data') if isinstance(payload, dict) else None
    if not isinstance(data, list):
        return answer(BAD, 'HTTP %s but the answer has no "data" list of models' % status,
                      'JSON without a "data" list')
    if len(data) > MAX_MODELS:
        return answer(BAD, 'HTTP %s with %d models, more than the %d a catalog may hold' % (status, len(data), MAX_MODELS),
                      'a list of %d models (too many)' % len(data))
    models, dropped = _valid_models(data)
    warnings = []
    summary = 'a list of %d models' % len(models)
    if dropped:
        warnings.append('the gateway at %s listed %d model(s) whose id holds control, bidi or invisible characters, '
                        'or is longer than %d characters; they were left out: %s'
                        % (reply.url, len(dropped), MAX_ID, named(shown_id(m) for m in dropped)))
        summary += ' (%d more left out: unusable ids)' % len(dropped)
    return answer(OK, None, summary, models, warnings)


# --------------------------------------------------------------------------- the catalog
def is_chat(model):
    """A model OpenCode can chat with: no ``type`` or a chat type, and text out when stated."""
    kind = model.get('type')
    if kind is not None and (not isinstance(kind, str) or kind.lower() not in CHAT_TYPES):
        return False
    out = model.get('output_modalities')
    if isinstance(out, list) and out and 'text' not in out:
        return False
    return True


def whole(value, maximum=MAX_TOKENS):
    """``value`` as a whole number from 1 to ``maximum``, or None.

    Booleans, fractions, negatives, zero, NaN, infinities, numbers beyond ``maximum`` (a
    400-digit one included) and anything that is not a number are not limits.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float):
        if not math.isfinite(value) or value != math.floor(value):
            return None
        value = int(value)
    return value if 1 <= value <= maximum else None


def _modalities(values):
    if not isinstance(values, list):
        return None
    kept = []
    for value in values:
        if isinstance(value, str) and value.lower() in OPENCODE_MODALITIES and value.lower() not in kept:
            kept.append(value.lower())
    return kept or None


def _shown_value(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        text = repr(value)
        return text if len(text) <= 20 else '%s... (%d digits)' % (text[:12], len(text))
    return 'a %s' % type(value).__name__


def model_settings(model, problems=None):
    """OpenCode's settings for one gateway model, in a fixed key order.

    ``limit`` is written only when the gateway gives both ``context_length`` and
    ``max_output_tokens`` as whole numbers from 1 to MAX_TOKENS: OpenCode 1.18 refuses a
    ``limit`` with one of them missing, so with only one the model gets no ``limit`` (OpenCode
    then shows 0/0 and does not compact on its own).  A value given but unusable is named in
    ``problems`` (a list, when given).
    """
    settings = {}
    limits = {}
    for field in ('context_length', 'max_output_tokens'):
        value = model.get(field)
        limits[field] = whole(value)
        if value is not None and limits[field] is None and problems is not None:
            problems.append('%s: %s %s' % (shown_id(model.get('id', '')), field, _shown_value(value)))
    if limits['context_length'] and limits['max_output_tokens']:
        settings['limit'] = {'context': limits['context_length'], 'output': limits['max_output_tokens']}
    caps = model.get('capabilities') if isinstance(model.get('capabilities'), dict) else {}
    if isinstance(caps.get('tool_calling'), bool):
        settings['tool_call'] = caps['tool_calling']
    reasoning = [caps[k] for k in ('reasoning', 'thinking') if isinstance(caps.get(k), bool)]
    if reasoning:
        settings['reasoning'] = any(reasoning)
    inputs = _modalities(model.get('input_modalities'))
    outputs = _modalities(model.get('output_modalities'))
    if isinstance(caps.get('vision'), bool) or inputs:
        settings['attachment'] = bool(caps.get('vision')) or bool(inputs and ('image' in inputs or 'pdf' in inputs))
    if inputs or outputs:
        settings['modalities'] = dict((k, v) for k, v in (('input', inputs), ('output', outputs)) if v)
    return settings


def _matches(model_id, patterns):
    return any(fnmatch.fnmatchcase(model_id, p) for p in patterns or ())


def build_catalog(models, pinned=(), include=(), exclude=(), warnings=None):
    """The catalog for a gateway answer, as ``models`` entries (dicts with ``id``).

    ``pinned`` (the module's ``models``) comes first, in its order: a string keeps the id, with
    the gateway's settings when the gateway offers it (``auto`` is not listed by OmniRoute 3.7.9
    and is kept with no settings); a dict's settings override the gateway's for its id.  Then
    every chat model the gateway offers that matches ``include`` (all when empty) and no
    ``exclude`` pattern, sorted by id so the same answer always gives the same catalog.
    ``warnings`` (a list, when given) gets one warning naming the models whose values were
    dropped.  ``models`` are validated ones (:func:`fetch_models`).
    """
    offered = {}
    for model in models:
        offered.setdefault(model['id'].strip(), model)
    problems = []
    catalog = []
    seen = set()
    for item in pinned or ():
        if isinstance(item, dict):
            extra = dict(item)
            model_id = extra.pop('id', None)
        else:
            model_id, extra = item, {}
        if not isinstance(model_id, str) or not model_id.strip() or model_id.strip() in seen:
            if not isinstance(model_id, str):
                catalog.append(item)  # let the usual check report the bad entry
            continue
        model_id = model_id.strip()
        seen.add(model_id)
        settings = dict(id=model_id, name=model_id)
        settings.update(model_settings(offered[model_id], problems) if model_id in offered else {})
        settings.update(extra)
        catalog.append(settings)
    for model_id in sorted(offered):
        model = offered[model_id]
        if model_id in seen or not is_chat(model):
            continue
        if include and not _matches(model_id, include):
            continue
        if _matches(model_id, exclude):
            continue
        settings = dict(id=model_id, name=model_id)
        settings.update(model_settings(model, problems))
        catalog.append(settings)
    if problems and warnings is not None:
        warnings.append('the gateway gave values OpenCode cannot use (a limit must be a whole number from 1 to %d); '
                        'the models were kept without them: %s' % (MAX_TOKENS, named(problems)))
    return catalog


# --------------------------------------------------------------------------- the probe shape
def probe_result(url, **fields):
    """The one shape of a verify result (a dict with no key in it).

    ``url`` the models address probed; ``reachable`` whether it answered at all (None: not
    known); ``status`` its HTTP status; ``key_accepted`` True, False (401/403) or None;
    ``offered``/``offered_chat`` the (chat) model ids offered to the key; ``missing`` the
    configured ids not offered; ``models_endpoint`` what the address returned, in words;
    ``cause`` why it is not usable; ``opencode``/``opencode_version`` the user's OpenCode;
    ``layers`` the config files that change the entry; ``ready``.  Callers add their own fields
    (``seconds``, ``opencode_error``; managed scope: ``scope``, ``key``, ``auth_path``,
    ``managed``, ``problems``).
    """
    result = dict(url=url, reachable=False, status=None, key_accepted=None, offered=[], offered_chat=[],
                  missing=[], models_endpoint=None, cause=None, opencode=None, opencode_version=None,
                  layers=[], ready=False)
    result.update(fields)
    return result


def failed_probe(url, cause, **fields):
    """The one constructor of a probe that could not be made: not ready, reachability unknown."""
    return probe_result(url, reachable=None, cause=cause, **fields)


def probe_new_key(base_url, key, timeout=DEFAULT_TIMEOUT, validate_certs=True):
    """Whether a key OmniRoute has just issued works from this host, before it replaces a working
    one (the second phase of a rotation, docs/omniroute-keys.md): ``GET <base_url>/models`` with
    the key, through the one HTTP client (no redirect followed, one deadline, a body cap).

    Returns ``dict(url, ok, status, why)`` with no key in it; ``why`` says in words why the key
    is not taken (``None`` when it is).
    """
    try:
        base_url = normalize_base_url(base_url)
    except PlanError as exc:
        return dict(url=None, ok=False, status=None, why='the base_url is not usable: %s' % exc)
    answer = fetch_models(base_url, key, timeout or DEFAULT_TIMEOUT, validate_certs)
    status = answer.status
    if answer.outcome == OK:
        why = None
    elif answer.outcome == REJECTED:
        why = 'the gateway refused the new key from the laptop (HTTP %s)' % status
    elif answer.outcome == OFFLINE and (status is None or status < 500):
        # No whole answer (a status line may have come): unreachable, cut, too slow. The cause is
        # the HTTP client's, already scrubbed of the key and cut.
        why = 'the gateway could not be reached from the laptop (%s)' % answer.cause
    elif status is not None and 200 <= status < 300:
        why = 'the gateway answered without a model list'
    else:
        why = 'the gateway answered HTTP %s to the new key from the laptop' % status
    return dict(url=answer.url, ok=answer.outcome == OK, status=status, why=why)


# --------------------------------------------------------------------------- verify
def verify(params, key, environ, home, target=None, configured=None, pending=None):
    """What OpenCode will meet for one user; a dict with no key in it.

    ``params``: the module options (``name``, ``base_url`` normalised, ``timeout``,
    ``validate_certs``).  ``key``: the key as configured (literal or ``{env:}``/``{file:}``).
    ``target``: the config file the entry is in (for ``{file:}`` and layer order).
    ``configured``: the model ids of the entry after the plan.  ``pending``: planned file texts.
    """
    name = params.get('name') or 'omniroute'
    base_url = params['base_url']
    layout = _layout.Layout(environ, home)
    target = target or layout.discover()[0]
    configured = list(configured or [])
    result = probe_result(models_url(base_url))
    secret, problem = resolve_key(key, environ, home, target)
    if problem:
        result['cause'] = problem
        if problem == KEY_TO_BE_MADE:
            result['reachable'] = None  # not asked: there is no key to ask with yet
    else:
        answer = fetch_models(base_url, secret, params.get('timeout') or DEFAULT_TIMEOUT,
                              params.get('validate_certs', True))
        result.update(status=answer.status, models_endpoint=answer.summary, cause=answer.cause,
                      reachable=answer.status is not None, seconds=answer.seconds)
        if answer.outcome == REJECTED:
            result['key_accepted'] = False
        elif answer.outcome == OK:
            result['key_accepted'] = True
            ids = [m['id'] for m in answer.models]
            result['offered'] = ids
            result['offered_chat'] = [m['id'] for m in answer.models if is_chat(m)]
            result['missing'] = [m for m in configured if m not in ids]
    result.update(_layout.opencode_info(layout))
    # The files OpenCode loads after the target, and login files moving OpenCode's config.
    result['layers'] = _layout.overriding_layers(name, layout, target, pending)
    result['ready'] = bool(result['key_accepted'] and not result['missing'] and not result['layers'])
    # Whatever the gateway or a file said, the key does not come back.
    return _redact.Redactor([secret, key]).json(result)
