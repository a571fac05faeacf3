# -*- coding: utf-8 -*-
# Copyright: (c) 2026, omniroute.opencode contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ask the OmniRoute gateway, from the target host, what a key may use.

Three jobs, all standard library:

* :func:`fetch_models` - one ``GET <base_url>/models`` with the user's key, classified as
  ``ok``, ``offline`` (unreachable, timeout, 5xx), ``rejected`` (401/403) or ``bad`` (any other
  answer that is not a model list, such as a 404 at a wrong path).
* :func:`build_catalog` - the OpenCode model catalog for that answer: chat models only,
  ``catalog_include``/``catalog_exclude`` globs, pinned ids from ``models`` first, each model
  with the OpenCode settings its metadata supports (``limit``, ``tool_call``, ``reasoning``,
  ``attachment``, ``modalities``).
* :func:`verify` - a probe of what OpenCode will meet for one user: reachability, status, key
  accepted, models offered and missing, the OpenCode version, the config layers that override
  the entry (``_layout`` says which).  Shared by the ``provider`` module and the per-host ``users`` module.

No key ever leaves this module: results and messages carry neither the key nor the
``Authorization`` header, and gateway error texts are scrubbed of the key before use.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import fnmatch
import json
import os
import re
import socket
import ssl
import time
from collections import namedtuple

try:  # Python 3
    from urllib.error import HTTPError, URLError
    from urllib.request import HTTPSHandler, Request, build_opener
except ImportError:  # pragma: no cover - Python 2 is not supported by the collection
    raise

from ansible_collections.omniroute.opencode.plugins.module_utils import _layout

DEFAULT_TIMEOUT = 10

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
MAX_BODY = 8 * 1024 * 1024
# What OpenCode 1.18 accepts in a model's ``modalities`` lists ("file", for one, is refused).
OPENCODE_MODALITIES = ('text', 'audio', 'image', 'video', 'pdf')
# A gateway model without ``type`` is a chat model; with one of these it is too.  Every other
# type (audio, image, embedding, moderation, rerank...) is left out of OpenCode's catalog.
CHAT_TYPES = ('chat', 'text', 'llm', 'language', 'completion')

OK, OFFLINE, REJECTED, BAD, NO_KEY = 'ok', 'offline', 'rejected', 'bad', 'no_key'
# ``{env:VAR}`` / ``{file:path}`` (compiled once, in the module process, not in each user's process).
_REFERENCE = re.compile(r'^\{(env|file):([^{}]+)\}$')

# The outcome of one GET <base_url>/models.  ``models`` is the ``data`` list (ok only);
# ``cause`` says why, in words, without the key; ``summary`` describes the body.
Answer = namedtuple('Answer', 'url outcome status models cause summary seconds')


# --------------------------------------------------------------------------- the key
def resolve_key(api_key, environ, home, config_path):
    """``(key, problem)``: the key OpenCode will send, as the module can see it.

    A literal key is itself.  ``{file:path}`` is read on this host the way OpenCode reads it
    (``~/`` is the user's home, a relative path is relative to the config file's directory,
    surrounding whitespace trimmed).  ``{env:VAR}`` is taken from ``environ`` when set there.
    Otherwise ``key`` is None and ``problem`` says why the catalog cannot be fetched.
    """
    value = (api_key or '').strip()
    match = _REFERENCE.match(value)
    if not match:
        return api_key, None
    kind, ref = match.group(1), match.group(2).strip()
    if kind == 'env':
        found = environ.get(ref)
        if found:
            return found, None
        return None, ('the key is {env:%s} and %s is not set in the environment the module runs in '
                      '(OpenCode reads it from the developer\'s shell)' % (ref, ref))
    path = ref
    if path.startswith('~/'):
        path = os.path.join(home, path[2:])
    elif not os.path.isabs(path):
        path = os.path.join(os.path.dirname(os.path.abspath(config_path)), path)
    try:
        with open(path, 'rb') as handle:
            text = handle.read().decode('utf-8').strip()
    except (IOError, OSError) as exc:
        return None, 'the key file %s named by {file:%s} cannot be read (%s)' % (
            path, ref, getattr(exc, 'strerror', None) or exc)
    except UnicodeDecodeError:
        return None, 'the key file %s named by {file:%s} is not UTF-8 text' % (path, ref)
    if not text:
        return None, 'the key file %s named by {file:%s} is empty' % (path, ref)
    return text, None


def scrub(text, key):
    """``text`` without ``key`` (gateways sometimes echo what they were sent)."""
    text = '%s' % (text,)
    if key and len(key) >= 4:
        text = text.replace(key, '********')
    return text


# --------------------------------------------------------------------------- one request
def models_url(base_url):
    return base_url.rstrip('/') + '/models'


def _opener(validate_certs):
    if validate_certs:
        return build_opener()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return build_opener(HTTPSHandler(context=ctx))


def _error_text(body, key):
    try:
        payload = json.loads(body.decode('utf-8'))
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        err = payload.get('error', payload.get('message'))
        if isinstance(err, dict):
            err = err.get('message') or err.get('code')
        if isinstance(err, str) and err.strip():
            return scrub(err.strip()[:200], key)
    text = body.decode('utf-8', 'replace').strip()
    if text.lower().startswith(('<!doctype', '<html')):
        return 'an HTML page'
    return scrub(text[:120], key) if text else 'an empty body'


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
    started = time.time()
    status = None
    body = b''

    def answer(outcome, cause, summary, models=None):
        return Answer(url, outcome, status, models, cause, summary, round(time.time() - started, 4))

    try:
        resp = _opener(validate_certs).open(Request(url, headers=headers), timeout=timeout)
        status = resp.getcode()
        body = resp.read(MAX_BODY + 1)
    except HTTPError as exc:
        status = exc.code
        try:
            body = exc.read(MAX_BODY + 1)
        except Exception:  # pylint: disable=broad-except
            body = b''
    except ssl.SSLError as exc:
        return answer(OFFLINE, 'TLS error: %s (validate_certs=false skips the check)' % exc, 'no answer')
    except socket.timeout:
        return answer(OFFLINE, 'no answer within %s s (timeout)' % timeout, 'no answer')
    except URLError as exc:
        reason = getattr(exc, 'reason', exc)
        if isinstance(reason, socket.timeout) or 'timed out' in str(reason):
            return answer(OFFLINE, 'no answer within %s s (timeout)' % timeout, 'no answer')
        if isinstance(reason, ssl.SSLError):
            return answer(OFFLINE, 'TLS error: %s (validate_certs=false skips the check)' % reason, 'no answer')
        return answer(OFFLINE, 'unreachable: %s' % scrub(reason, key), 'no answer')
    except (OSError, ValueError) as exc:
        return answer(OFFLINE, 'unreachable: %s' % scrub(exc, key), 'no answer')

    if len(body) > MAX_BODY:
        return answer(BAD, 'HTTP %s with an answer larger than %d bytes' % (status, MAX_BODY),
                      'more than %d bytes' % MAX_BODY)
    if status in (401, 403):
        return answer(REJECTED, 'HTTP %s: %s' % (status, _error_text(body, key)), 'HTTP %s' % status)
    if status >= 500:
        return answer(OFFLINE, 'HTTP %s: %s' % (status, _error_text(body, key)), 'HTTP %s' % status)
    if not 200 <= status < 300:
        return answer(BAD, 'HTTP %s: %s' % (status, _error_text(body, key)),
                      'HTTP %s: %s' % (status, _error_text(body, key)))
    try:
        payload = json.loads(body.decode('utf-8'))
    except ValueError:
        return answer(BAD, 'HTTP %s but the answer is not JSON (%s)' % (status, _error_text(body, key)),
                      'not JSON: %s' % _error_text(body, key))
    data = payload.get('data') if isinstance(payload, dict) else None
    if not isinstance(data, list):
        return answer(BAD, 'HTTP %s but the answer has no "data" list of models' % status,
                      'JSON without a "data" list')
    models = [m for m in data if isinstance(m, dict) and isinstance(m.get('id'), str) and m['id'].strip()]
    return answer(OK, None, 'a list of %d models' % len(models), models)


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


def _whole(value):
    """A positive whole number, or None (booleans and fractions are not limits)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, float) and value > 0 and value == int(value):
        return int(value)
    return None


def _modalities(values):
    if not isinstance(values, list):
        return None
    kept = []
    for value in values:
        if isinstance(value, str) and value.lower() in OPENCODE_MODALITIES and value.lower() not in kept:
            kept.append(value.lower())
    return kept or None


def model_settings(model):
    """OpenCode's settings for one gateway model, in a fixed key order.

    ``limit`` is written only when the gateway gives both ``context_length`` and
    ``max_output_tokens`` as positive whole numbers: OpenCode 1.18 refuses a ``limit`` with one
    of them missing, so with only one the model gets no ``limit`` (OpenCode then shows 0/0 and
    does not compact on its own).
    """
    settings = {}
    context = _whole(model.get('context_length'))
    output = _whole(model.get('max_output_tokens'))
    if context and output:
        settings['limit'] = {'context': context, 'output': output}
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


def build_catalog(models, pinned=(), include=(), exclude=()):
    """The catalog for a gateway answer, as ``models`` entries (dicts with ``id``).

    ``pinned`` (the module's ``models``) comes first, in its order: a string keeps the id, with
    the gateway's settings when the gateway offers it (``auto`` is not listed by OmniRoute 3.7.9
    and is kept with no settings); a dict's settings override the gateway's for its id.  Then
    every chat model the gateway offers that matches ``include`` (all when empty) and no
    ``exclude`` pattern, sorted by id so the same answer always gives the same catalog.
    """
    offered = {}
    for model in models:
        offered.setdefault(model['id'].strip(), model)
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
        settings.update(model_settings(offered[model_id]) if model_id in offered else {})
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
        settings.update(model_settings(model))
        catalog.append(settings)
    return catalog


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
    result = dict(url=models_url(base_url), reachable=False, status=None, key_accepted=None,
                  offered=[], offered_chat=[], missing=[], models_endpoint=None, cause=None,
                  opencode=None, opencode_version=None, layers=[], ready=False)
    secret, problem = resolve_key(key, environ, home, target)
    if problem:
        result['cause'] = problem
    else:
        answer = fetch_models(base_url, secret, params.get('timeout') or DEFAULT_TIMEOUT,
                              params.get('validate_certs', True))
        result.update(status=answer.status, models_endpoint=answer.summary, cause=answer.cause,
                      reachable=answer.status is not None, seconds=answer.seconds)
        if answer.outcome == REJECTED:
            result['key_accepted'] = False
        elif answer.outcome == OK:
            result['key_accepted'] = True
            ids = [m['id'].strip() for m in answer.models]
            result['offered'] = ids
            result['offered_chat'] = [m['id'].strip() for m in answer.models if is_chat(m)]
            result['missing'] = [m for m in configured if m not in ids]
    result.update(_layout.opencode_info(layout))
    # The files OpenCode loads after the target, and login files moving OpenCode's config.
    result['layers'] = _layout.overriding_layers(name, layout, target, pending)
    result['ready'] = bool(result['key_accepted'] and not result['missing'] and not result['layers'])
    for field in ('cause', 'models_endpoint'):
        if result.get(field) and secret:
            result[field] = scrub(result[field], secret)
    return result
