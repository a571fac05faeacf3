# -*- coding: utf-8 -*-
# Copyright: (c) 2026, omniroute.opencode contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lifecycle of the keys the ``opencode`` role issues in OmniRoute (docs/omniroute-keys.md).

Plain functions, no I/O, standard library only: the ``api_key`` module (controller) and the
role's filters call them, and tests call them without Ansible.

- **Names**: one key per developer and host, named from a template with ``{user}`` and
  ``{host}`` (:func:`key_name`); :func:`scheme` recognises a name the template made.
- **Which key is installed**: the server lists keys masked (first 8 and last 4 characters);
  :func:`classify` splits the keys of one name into the installed one (its mask is the
  installed key's mask), older ones (a rotation whose last step did not run) and newer ones
  (a rotation whose new key was lost with a cut run).
- **Two-phase rotation**: :func:`plan` says what one key needs: create, keep, or rotate (make a
  new key now, revoke the replaced one only after the new one is installed and verified), and
  which keys nobody holds and can go at once.
- **Expiry**: :func:`expiry` is the server's ``expiresAt``, else ``createdAt`` plus the TTL (the
  role enforces it: OmniRoute 3.7.9 cannot store an expiry on an inference key).
- **Policy**: :func:`check_policy` validates the per-key settings OmniRoute 3.7.9 accepts in
  ``PATCH /api/keys/{id}``; :func:`policy_drift` is the one PATCH that corrects a key.
- **Sweep**: :func:`sweep` lists the keys that carry the scheme and belong to no developer.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from datetime import datetime, timedelta

try:
    from datetime import timezone
    UTC = timezone.utc
except ImportError:  # pragma: no cover - Python 3.8+ has it
    raise

# The per-key settings OmniRoute 3.7.9 accepts in PATCH /api/keys/{id} (each checked against
# the real server by make test-omniroute), with the value a new key has.
POLICY_DEFAULTS = {
    'allowedModels': [],
    'noLog': False,
    'maxSessions': 0,
    'accessSchedule': None,
    'isActive': True,
}
POLICY_FIELDS = tuple(sorted(POLICY_DEFAULTS))
SCHEDULE_FIELDS = ('days', 'enabled', 'from', 'tz', 'until')
_HHMM = re.compile(r'^([01][0-9]|2[0-3]):[0-5][0-9]$')
# What the report says of an expiry the role enforces from createdAt.
TTL_SOURCE = 'ttl enforced by the role'
SERVER_SOURCE = 'server'
# In check mode a key that would be made has no value yet: this stands in for it, and the users
# module's gateway calls recognise it (no request is sent with it; the key is "to be created").
CHECK_MODE_KEY = 'check-mode-key-to-be-created'
# Key states in results and the report.
OK, EXPIRING, PENDING, REVOKED, ORPHAN, NOT_INSTALLED = (
    'ok', 'expiring', 'rotation pending', 'revoked', 'orphan', 'not installed')
_MAX_TIME_TEXT = 64


class PolicyError(ValueError):
    """A key policy that OmniRoute would refuse (the message names the field, never a key)."""


# --------------------------------------------------------------------------- time
def now():
    return datetime.now(UTC)


def parse_time(value):
    """An aware UTC datetime from the server's ISO 8601 text (``2026-12-06T02:14:59.937Z``), else None."""
    if not isinstance(value, str) or not value or len(value) > _MAX_TIME_TEXT:
        return None
    text = value.strip()
    if text.endswith(('Z', 'z')):
        text = text[:-1] + '+00:00'
    match = re.match(r'^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(\.\d+)?([+-]\d{2}:?\d{2})?$', text)
    if not match:
        return None
    day, clock, frac, offset = match.groups()
    if len(clock) == 5:
        clock += ':00'
    frac = (frac or '.0')[1:7].ljust(6, '0')
    offset = (offset or '+00:00').replace(':', '')
    try:
        stamp = datetime.strptime('%sT%s.%s%s' % (day, clock, frac, offset), '%Y-%m-%dT%H:%M:%S.%f%z')
    except ValueError:
        return None
    return stamp.astimezone(UTC)


def fmt(stamp):
    """``2026-12-06T02:14:59Z`` (what results and the report show)."""
    return stamp.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ') if stamp else None


def _days(value):
    return ('%g' % value) if value is not None else None


# --------------------------------------------------------------------------- names
def key_name(template, user, host):
    """The server name of a developer's key on a host: ``{user}`` and ``{host}`` replaced."""
    return ('%s' % template).replace('{user}', '%s' % user).replace('{host}', '%s' % host)


def scheme(template):
    """A compiled pattern matching every name ``template`` makes (named groups user, host), or
    None when the template does not name both the user and the host (then no name can be told
    apart from another tool's key, and the sweep refuses)."""
    if not isinstance(template, str) or '{user}' not in template or '{host}' not in template:
        return None
    parts = re.split(r'(\{user\}|\{host\})', template)
    out, seen = [], set()
    for part in parts:
        if part in ('{user}', '{host}'):
            group = part[1:-1]
            out.append('(?P<%s>.+?)' % group if group not in seen else '(?P=%s)' % group)
            seen.add(group)
        else:
            out.append(re.escape(part))
    return re.compile('^%s$' % ''.join(out), re.S)


def parse_name(pattern, name):
    """``(user, host)`` of a name the scheme made, else None."""
    match = pattern.match(name) if pattern is not None and isinstance(name, str) else None
    return (match.group('user'), match.group('host')) if match else None


# --------------------------------------------------------------------------- policy
def _schedule(value, where):
    if value is None:
        return None
    if not isinstance(value, dict):
        raise PolicyError('%s accessSchedule must be null or a mapping with %s' % (where, ', '.join(SCHEDULE_FIELDS)))
    unknown = sorted(set(value) - set(SCHEDULE_FIELDS))
    missing = sorted(set(SCHEDULE_FIELDS) - set(value))
    if unknown or missing:
        raise PolicyError('%s accessSchedule needs exactly %s (%s)' % (
            where, ', '.join(SCHEDULE_FIELDS),
            '; '.join(filter(None, ['unknown: ' + ', '.join(unknown) if unknown else '',
                                    'missing: ' + ', '.join(missing) if missing else '']))))
    if not isinstance(value['enabled'], bool):
        raise PolicyError('%s accessSchedule.enabled must be true or false' % where)
    for field in ('from', 'until'):
        if not isinstance(value[field], str) or not _HHMM.match(value[field]):
            raise PolicyError('%s accessSchedule.%s must be a time HH:MM' % (where, field))
    days = value['days']
    if (not isinstance(days, list) or not days or len(days) > 7
            or any(isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 6 for d in days)):
        raise PolicyError('%s accessSchedule.days must be 1 to 7 day numbers from 0 (Sunday) to 6' % where)
    tz = value['tz']
    if not isinstance(tz, str) or not 0 < len(tz) <= 100:
        raise PolicyError('%s accessSchedule.tz must be a time zone name such as Europe/Berlin' % where)
    return {'enabled': value['enabled'], 'from': value['from'], 'until': value['until'],
            'days': sorted(set(days)), 'tz': tz}


def check_policy(policy, where='key policy'):
    """``policy`` validated and normalised (models and days sorted), or PolicyError.

    Only the fields OmniRoute 3.7.9 accepts in ``PATCH /api/keys/{id}``: allowedModels (model
    ids or globs; empty allows every model), noLog, maxSessions (0 = unlimited, up to 10000),
    accessSchedule (null, or enabled/from/until/days/tz) and isActive.
    """
    if policy is None:
        return {}
    if not isinstance(policy, dict):
        raise PolicyError('%s must be a mapping of %s' % (where, ', '.join(POLICY_FIELDS)))
    unknown = sorted('%s' % k for k in policy if k not in POLICY_DEFAULTS)
    if unknown:
        raise PolicyError('%s: %s %s not a setting OmniRoute 3.7.9 accepts on a key (use %s)' % (
            where, ', '.join(unknown), 'is' if len(unknown) == 1 else 'are', ', '.join(POLICY_FIELDS)))
    out = {}
    for field, value in policy.items():
        if field == 'allowedModels':
            if value is None:
                value = []
            if not isinstance(value, list) or any(not isinstance(m, str) or not m.strip() for m in value):
                raise PolicyError('%s allowedModels must be a list of model ids or globs' % where)
            if len(value) > 1000:
                raise PolicyError('%s allowedModels may hold at most 1000 entries' % where)
            out[field] = sorted(set(m.strip() for m in value))
        elif field in ('noLog', 'isActive'):
            if not isinstance(value, bool):
                raise PolicyError('%s %s must be true or false' % (where, field))
            out[field] = value
        elif field == 'maxSessions':
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10000:
                raise PolicyError('%s maxSessions must be a whole number from 0 (unlimited) to 10000' % where)
            out[field] = value
        else:
            out[field] = _schedule(value, where)
    return out


def merge_policy(*policies):
    """Later policies win field by field (role level, then group, then the developer)."""
    out = {}
    for policy in policies:
        out.update(policy or {})
    return out


def policy_of(record):
    """The policy fields of a listed key, normalised like :func:`check_policy` output."""
    record = record if isinstance(record, dict) else {}
    out = {}
    for field, default in POLICY_DEFAULTS.items():
        value = record.get(field)
        if field == 'allowedModels':
            value = sorted(set(m for m in value if isinstance(m, str))) if isinstance(value, list) else []
        elif field in ('noLog', 'isActive'):
            value = value if isinstance(value, bool) else default
        elif field == 'maxSessions':
            value = value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
        else:
            try:
                value = _schedule(value, 'listed') if isinstance(value, dict) else None
            except PolicyError:
                value = {'unreadable': True}  # never equal to a wanted schedule: the PATCH corrects it
        out[field] = value
    return out


def policy_drift(record, policy):
    """The fields of ``policy`` (checked) that differ on ``record``: the body of one PATCH."""
    have = policy_of(record)
    return dict((field, value) for field, value in sorted(policy.items()) if have.get(field) != value)


def policy_text(policy):
    """A short, secret-free text of the settings that differ from a new key's (for the report)."""
    parts = []
    for field in ('allowedModels', 'noLog', 'maxSessions', 'accessSchedule', 'isActive'):
        value = (policy or {}).get(field, POLICY_DEFAULTS[field])
        if value == POLICY_DEFAULTS[field]:
            continue
        if field == 'allowedModels':
            parts.append('models %s' % ', '.join(value))
        elif field == 'accessSchedule':
            parts.append('schedule %s %s-%s days %s%s' % (
                value.get('tz'), value.get('from'), value.get('until'),
                ','.join('%s' % d for d in value.get('days') or []), '' if value.get('enabled') else ' (off)'))
        elif field == 'maxSessions':
            parts.append('max %s sessions' % value)
        elif field == 'noLog':
            parts.append('no log')
        elif field == 'isActive':
            parts.append('inactive')
    return '; '.join(parts) or 'default'


# --------------------------------------------------------------------------- expiry
def expiry(record, ttl_days=None):
    """``(when, source)``: the server's ``expiresAt``, else ``createdAt`` + ``ttl_days`` (the role
    enforces it), else ``(None, None)``."""
    record = record if isinstance(record, dict) else {}
    server = parse_time(record.get('expiresAt'))
    if server is not None:
        return server, SERVER_SOURCE
    if ttl_days:
        created = parse_time(record.get('createdAt'))
        if created is not None:
            return created + timedelta(days=ttl_days), TTL_SOURCE
    return None, None


def due(record, at, ttl_days=None, renew_days=None):
    """Why ``record`` must be rotated at ``at`` because of its age or expiry, else None."""
    when, source = expiry(record, ttl_days)
    if when is None:
        return None
    renew = timedelta(days=renew_days or 0)
    if at < when - renew:
        return None
    if source == TTL_SOURCE:
        if at >= when:
            return 'created %s, older than the ttl of %s days (%s)' % (
                fmt(parse_time(record.get('createdAt'))), _days(ttl_days), TTL_SOURCE)
        return 'reaches the ttl of %s days on %s, within renew_days %s (%s)' % (
            _days(ttl_days), fmt(when), _days(renew_days), TTL_SOURCE)
    if at >= when:
        return 'expired on %s' % fmt(when)
    return 'expires on %s, within renew_days %s' % (fmt(when), _days(renew_days))


def lacks_age(record):
    """True when a listed key carries neither an expiry nor a creation time the TTL can use."""
    return parse_time(record.get('expiresAt')) is None and parse_time(record.get('createdAt')) is None


# --------------------------------------------------------------------------- one key
def _created(record):
    return parse_time(record.get('createdAt')) if isinstance(record, dict) else None


def _order(records):
    """Oldest first; a key without a readable creation time counts as the newest."""
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(records, key=lambda r: (_created(r) or far, '%s' % r.get('id')))


def classify(records, installed_mask):
    """Split the server's keys of one name by the installed key's mask.

    ``current``: the one key whose mask is the installed key's (None when no key or several
    match); ``older``: keys made before it (or in the same instant) (the old key of a rotation whose last step did not
    run, so nobody holds it any more); ``newer``: keys made after it, or that cannot be placed
    (the new key of a rotation cut before it was installed: its value is lost); ``ambiguous``:
    every key when several share the installed key's mask; ``others``: every key when nothing
    matches.
    """
    records = _order([r for r in records if isinstance(r, dict)])
    matches = [r for r in records if installed_mask and r.get('key') == installed_mask]
    out = dict(current=None, older=[], newer=[], ambiguous=[], others=[])
    if len(matches) == 1:
        current = matches[0]
        out['current'] = current
        created = _created(current)
        for rec in records:
            if rec is current:
                continue
            when = _created(rec)
            # A key made in the same instant (3.7.9 lists whole seconds) counts as older: it is
            # revoked either way, and the installed key is not rotated again for it.
            if created is not None and when is not None and when <= created:
                out['older'].append(rec)
            else:
                out['newer'].append(rec)
    elif matches:
        out['ambiguous'] = matches
        out['others'] = [r for r in records if r not in matches]
    else:
        out['others'] = records
    return out


def plan(request, records, at, ttl_days=None, renew_days=None, installed_mask=None, installed_known=True):
    """What one present key needs, given the server's keys of its name.

    ``request``: ``rotate`` (bool). ``installed_mask``: the installed key's mask (None: nothing
    installed). ``installed_known``: False when the caller did not say what is installed (the
    standalone module without O(installed_configs)): an existing key is then kept as it is.

    Returns a dict: ``action`` (create, rotate, keep), ``current`` (the key kept or replaced),
    ``revoke_now`` (keys nobody holds: revoked at once), ``replace`` (keys revoked only after the
    new key is installed and verified), ``reasons`` (why a new key is made), ``finishing``
    (True when an older key of a cut rotation is revoked now).
    """
    records = [r for r in records if isinstance(r, dict)]
    out = dict(action='keep', current=None, revoke_now=[], replace=[], reasons=[], finishing=False)
    if not installed_known:
        ordered = _order(records)
        if not ordered:
            out.update(action='create', reasons=['no key of this name on the server'])
            return out
        current = ordered[-1]
        out['current'] = current
        reasons = (['rotation requested'] if request.get('rotate') else []) + list(
            filter(None, [due(current, at, ttl_days, renew_days)]))
        if reasons:
            # Nobody said which key is installed: the replaced keys go at once, as asked.
            out.update(action='rotate', reasons=reasons, revoke_now=ordered)
        return out
    parts = classify(records, installed_mask)
    current = parts['current']
    if current is not None:
        out['current'] = current
        out['revoke_now'] = parts['older'] + parts['newer']
        out['finishing'] = bool(parts['older'])
        reasons = []
        if request.get('rotate'):
            reasons.append('rotation requested')
        reason = due(current, at, ttl_days, renew_days)
        if reason:
            reasons.append(reason)
        if parts['newer']:
            reasons.append('a rotation is pending: its new key existed only in a run that was cut before '
                           'installing it, so that key is revoked and a new one made')
        if current.get('revokedAt'):
            reasons.append('the installed key was revoked on the server')
        if reasons:
            out.update(action='rotate', reasons=reasons, replace=[current])
        return out
    if parts['ambiguous']:
        out.update(action='rotate', replace=parts['ambiguous'], revoke_now=parts['others'],
                   current=parts['ambiguous'][-1],
                   reasons=['%d keys of this name share the installed key\'s mask, so which one is installed '
                            'cannot be told' % len(parts['ambiguous'])])
        return out
    # Nothing installed, or an installed key that is not this name's key: every key of the
    # name is held by nobody, so it goes at once.
    out.update(action='create', revoke_now=parts['others'],
               reasons=['no key is installed' if installed_mask is None
                        else 'the installed key is not a key of this name on the server'])
    return out


# --------------------------------------------------------------------------- the sweep
def sweep(records, owners, template, unused_days=None, at=None):
    """The keys that carry ``template``'s scheme and belong to no owner, and (with
    ``unused_days``) the scheme's keys not used for that long.

    ``owners``: every key name a developer of the inventory holds. Keys the scheme does not
    match are never listed. Returns ``(orphans, unused)``, each a list of records.
    """
    pattern = scheme(template)
    if pattern is None:
        return [], []
    owned = set(owners or ())
    mine = [r for r in records if isinstance(r, dict) and isinstance(r.get('name'), str)
            and pattern.match(r['name'])]
    orphans = [r for r in mine if r['name'] not in owned]
    unused = []
    if unused_days:
        limit = (at or now()) - timedelta(days=unused_days)
        for rec in mine:
            last = parse_time(rec.get('lastUsedAt')) or _created(rec)
            if last is not None and last < limit:
                unused.append(rec)
    return _order(orphans), _order(unused)


def record_view(record, template=None, ttl_days=None):
    """What results and the report show of a listed key: never the key, not even its mask."""
    record = record if isinstance(record, dict) else {}
    when, source = expiry(record, ttl_days)
    view = dict(id=record.get('id'), name=record.get('name'),
                created_at=fmt(parse_time(record.get('createdAt'))),
                last_used_at=fmt(parse_time(record.get('lastUsedAt'))),
                expires_at=fmt(when), expiry_source=source, policy=policy_text(policy_of(record)))
    who = parse_name(scheme(template), record.get('name')) if template else None
    if who:
        view.update(user=who[0], host=who[1])
    return view
