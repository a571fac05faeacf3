#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to omniroute.opencode
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: api_key
short_description: Manage named API keys in an OmniRoute server
description:
  - Creates, keeps, rotates or revokes one named API key through OmniRoute's management API, or
    with O(keys) several keys in one session (one login, one listing of the server's keys).
  - "Runs on the controller (use C(delegate_to: localhost) in a play that targets laptops)."
  - The full key is only known when it is created (OmniRoute returns it once) or when the caller
    hands in what the developer has installed (O(installed_configs) and O(installed_auth), or
    C(installed_key) in O(keys)). Run the task with C(no_log=true); RV(key) is the secret.
  - "Rotation never leaves a gap: a new key is made and returned, and the replaced key stays valid
    (RV(replaces)) until the caller has installed the new one; the next call that hands in the new
    installed key revokes it, or the caller revokes it with C(revoke_ids) in O(keys). A key of the
    name that nobody holds (not the installed one) is revoked at once, so there is never more than
    one spare key. See docs/omniroute-keys.md for the states and the server versions checked."
  - Without O(installed_configs) and O(installed_auth) the module cannot know what is installed,
    so an existing key is kept as it is (its value is not returned), and the task is idempotent.
  - Calls for the same server and key name are serialised on the controller with a lock file,
    removed again when the call is done, so concurrent runs (forks, C(strategy=free)) never create
    two keys with one name.
version_added: 0.1.0
author:
  - OmniRoute OpenCode maintainers (@omniroute)
options:
  url:
    description:
      - Base URL of the OmniRoute server (dashboard/management root, e.g. C(http://127.0.0.1:20128)).
        A trailing C(/v1) is removed.
    type: str
    required: true
  password:
    description:
      - Dashboard admin password; the module logs in (C(POST /api/auth/login)) and uses the session.
      - One of O(password), O(management_key) or O(session) is required.
    type: str
  management_key:
    description:
      - An OmniRoute API key with the C(manage) scope, sent as a Bearer token, for servers that
        accept management keys. Takes precedence over O(password).
    type: str
  session:
    description:
      - The RV(session) an earlier call of the same play returned (O(keep_session=true)), used
        instead of a login. A session the server refuses is replaced by a login with O(password).
    type: str
  keep_session:
    description: Return RV(session) and RV(records) so that later calls of the same play need no login and no listing.
    type: bool
    default: false
  records:
    description:
      - The server's keys as RV(records) of an earlier call returned them (masked, no secret); the
        module then does not list the keys itself. Only the keys named in O(name) or O(keys) matter.
    type: list
    elements: dict
  name:
    description:
      - Name of the key as shown in the dashboard (API Manager).
      - One of O(name), O(keys) or O(sweep) is required.
    type: str
  keys:
    description:
      - Several keys at once (the role passes one per user of a host, as M(omniroute.opencode.users)
        returns them with O(omniroute.opencode.users#module:installed_keys=true)). Each is handled
        as O(name) would be, with the installed key in C(installed_key) (null - nothing is
        installed); O(rotate), O(allowed_models), O(expires_at) and O(policy) are defaults for them.
      - A failure of one key (an API error) does not stop the others; the module then fails and
        names each failed key by its label. Unreachable server or refused login stop everything.
    type: list
    elements: dict
    suboptions:
      name: {description: Key name on the server., type: str, required: true}
      label: {description: Name in messages and results (default the key name)., type: str}
      state: {description: As O(state)., type: str, choices: [present, absent]}
      rotate: {description: As O(rotate)., type: bool}
      installed_key: {description: The key installed for this label (null - none)., type: str}
      allowed_models: {description: As O(allowed_models)., type: list, elements: str}
      expires_at: {description: As O(expires_at)., type: str}
      policy: {description: Merged over O(policy) field by field., type: dict}
      revoke_ids:
        description:
          - The second phase of a rotation - only revoke these ids (C(replaces) in RV(results) of
            the first phase) now that their replacement is installed and verified. Nothing else is done.
        type: list
        elements: str
  state:
    description:
      - V(present) creates the key when missing (and keeps an accepted installed key).
      - V(absent) revokes (deletes) every key with this name.
    type: str
    choices: [present, absent]
    default: present
  rotate:
    description: With O(state=present), make a new key even if the installed one is accepted (two-phase, see above).
    type: bool
    default: false
  ttl:
    description:
      - Days a key may live. A key older than this (from the server's C(createdAt)) is rotated.
        Fractions are allowed.
      - A server that stores an expiry gets C(expiresAt) on each new key, and that expiry counts
        from then on. OmniRoute 3.7.9 cannot store one on an inference key, so there the TTL is
        enforced by this module from C(createdAt) (results say C(ttl enforced by the role)).
      - A server that lists neither C(expiresAt) nor C(createdAt) is refused before any change.
    type: float
  renew_days:
    description:
      - Rotate a key whose expiry (the server's C(expiresAt), else C(createdAt) + O(ttl)) is less
        than this many days away.
    type: float
    default: 0
  policy:
    description:
      - Settings of each key that OmniRoute 3.7.9 accepts - C(allowedModels) (model ids or globs;
        empty allows all), C(noLog), C(maxSessions) (0 - unlimited), C(accessSchedule) (null, or
        C(enabled), C(from), C(until) as HH:MM, C(days) 0-6, C(tz)) and C(isActive). Fields left out
        are left as they are. A key that differs is corrected with one PATCH (RV(policy_changed)).
      - A new key made by a rotation carries the replaced key's settings, then these.
    type: dict
  sweep:
    description:
      - The orphan sweep - the keys whose names the role's scheme made and that belong to no
        developer. Keys the scheme does not match are never touched.
    type: dict
    suboptions:
      mode: {description: V(report) lists the orphans; V(revoke) revokes them too., type: str, choices: [report, revoke], default: report}
      template: {description: 'The name scheme, with C({user}) and C({host}) (the role''s O(name) template).', type: str, required: true}
      owners: {description: Every key name a developer of the whole inventory holds., type: list, elements: str, default: []}
      refuse:
        description: Why a V(revoke) sweep must not revoke (for example a limited run); the orphans are then only listed.
        type: str
      unused_days: {description: Also list the scheme's keys not used (C(lastUsedAt)) for this many days., type: float}
  installed_configs:
    description:
      - Texts of the user's OpenCode config files (JSON or JSONC), highest precedence first. The
        installed key is C(provider.<provider>.options.apiKey) of the first file that sets it.
    type: list
    elements: str
    default: []
  installed_auth:
    description: Text of the user's OpenCode C(auth.json); used when no config sets C(options.apiKey).
    type: str
  provider:
    description: OpenCode provider id whose key is looked up in the installed files.
    type: str
    default: omniroute
  verify_installed:
    description:
      - Check an installed key against C(GET /v1/models); a refused one is replaced. Without it a
        masked match is enough (the role checks the key from the laptop instead).
    type: bool
    default: true
  allowed_models:
    description:
      - Models the key may use (OmniRoute C(allowedModels)). An empty list allows all models.
        Omitted, the policy is left as it is. C(allowedModels) in O(policy) wins over it.
    type: list
    elements: str
  expires_at:
    description:
      - Expiry of the key (ISO 8601, e.g. C(2027-01-31T00:00:00Z)); empty string removes it.
        Omitted, the expiry is left as it is. OmniRoute 3.7.9 refuses it (use O(ttl) there).
    type: str
  scopes:
    description: Scopes given to a newly created key (e.g. C([manage]) for a management key).
    type: list
    elements: str
  timeout:
    description: Seconds to wait for each HTTP call.
    type: int
    default: 30
  validate_certs:
    description: Verify TLS certificates for https URLs.
    type: bool
    default: true
  lock_dir:
    description: Directory on the controller for the per-key lock files (default the temp dir); each is removed after use.
    type: path
extends_documentation_fragment:
  - omniroute.opencode.attributes.controller
  - ansible.builtin.action_common_attributes
  - action_common_attributes.files
attributes:
  check_mode:
    support: full
    description: Reports which keys would be created, rotated or revoked, and calls nothing that changes the server.
  diff_mode:
    support: full
    description: Shows the key's name, mask and policy before and after; never the key.
  safe_file_operations:
    support: none
    description: Writes no files; only a short-lived lock file in O(lock_dir).
  vault:
    support: none
    description: Reads no vaulted files itself.
notes:
  - The admin password, the session and every key are excluded from results, diffs and error messages.
  - OmniRoute caches key validation for about 60 seconds, so a revoked key may still be accepted
    for that long by the inference endpoints.
"""

EXAMPLES = r"""
- name: Ensure a key for alice on this laptop (controller side; kept as it is on later runs)
  omniroute.opencode.api_key:
    url: http://127.0.0.1:20128
    password: "{{ vault_omniroute_admin_password }}"
    name: "opencode-alice@{{ inventory_hostname }}"
    policy:
      allowedModels: ["openai/gpt-4o*"]
      maxSessions: 2
  delegate_to: localhost
  no_log: true
  register: alice_key

- name: Revoke it
  omniroute.opencode.api_key:
    url: http://127.0.0.1:20128
    password: "{{ vault_omniroute_admin_password }}"
    name: "opencode-alice@{{ inventory_hostname }}"
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
key:
  description: The key to install (new, or the kept installed key). Secret - use no_log.
  returned: state=present, when the module knows it (not in check mode for a new key)
  type: str
  sample: sk-0123456789abcdef0123456789abcdef
id:
  description: Server id of the key.
  returned: when the key exists (or was revoked)
  type: str
  sample: "4f6c1e2a-9b7d-4c3e-8a1f-2d5b6c7e8f90"
key_masked:
  description: The key as the server masks it (first 8 characters, ****, last 4).
  returned: state=present
  type: str
  sample: sk-01234****cdef
created:
  description: A new key was created.
  returned: always
  type: bool
  sample: true
rotated:
  description: A new key was made to replace the installed one (RV(replaces) is revoked once it is installed).
  returned: always
  type: bool
  sample: false
kept:
  description: The installed key was found valid and kept.
  returned: always
  type: bool
  sample: false
revoked:
  description: Ids of keys revoked by this call.
  returned: always
  type: list
  sample: ["0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"]
replaces:
  description: Ids of the keys the new key replaces; they stay valid until the new key is installed.
  returned: always
  type: list
  sample: ["0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"]
key_state:
  description: V(ok), V(expiring) (check mode - due for rotation), V(rotation pending) (a new key
    exists; the replaced one stays valid until it is installed) or V(revoked).
  returned: always
  type: str
  sample: ok
reasons:
  description: Why a new key was made (rotation requested, older than the ttl, expiring, a pending rotation...).
  returned: always
  type: list
  sample: ["created 2026-10-01T00:00:00Z, older than the ttl of 30 days (ttl enforced by the role)"]
policy_changed:
  description: The key's settings (policy, expiry) were updated.
  returned: always
  type: bool
  sample: true
key_info:
  description: What the report shows of the key - id, name, created_at, expires_at, expiry_source
    (V(server) or V(ttl enforced by the role)), last_used_at, policy (text). Never the key.
  returned: state=present
  type: dict
  sample: {id: k-1, name: opencode-alice@laptop1, created_at: "2026-12-06T02:14:59Z", expires_at: null,
           expiry_source: null, last_used_at: null, policy: default}
timings:
  description: Seconds spent in each management/inference call, for operators measuring a run.
  returned: always
  type: list
  sample:
    - {method: POST, path: /api/auth/login, status: 200, seconds: 0.041}
    - {method: GET, path: /api/keys, status: 200, seconds: 0.012}
    - {method: POST, path: /api/keys, status: 201, seconds: 0.019}
  elements: dict
name:
  description: The key name managed.
  returned: with O(name)
  type: str
  sample: opencode-alice@laptop1
elapsed:
  description: Seconds the whole operation took on the controller.
  returned: success
  type: float
  sample: 0.093
keys_by_label:
  description:
    - With O(keys), label to the key to install for every entry with state present whose key the
      module knows. Secret - use no_log.
    - In check mode a key that would be created is given as V(check-mode-key-to-be-created).
  returned: with O(keys), on success
  type: dict
  sample: {alice: "********"}
results:
  description: With O(keys), one secret-free result per entry (label, user, name, state, id, created,
    rotated, kept, revoked, replaces, key_state, reasons, key_info, policy_changed, changed, elapsed;
    C(failed) and C(msg) for a failed one).
  returned: with O(keys)
  type: list
  elements: dict
  sample: [{label: alice, user: alice, name: opencode-alice@laptop1, state: present, id: k-1, created: false,
            rotated: false, kept: true, revoked: [], replaces: [], key_state: ok, policy_changed: false,
            changed: false, elapsed: 0.04}]
session:
  description: With O(keep_session=true), the dashboard session for O(session) of later calls. Secret - use no_log.
  returned: with O(keep_session=true) and a password login
  type: str
records:
  description: With O(keep_session=true), the server's keys as listed (masked by the server), for O(records) of later calls.
  returned: with O(keep_session=true)
  type: list
  elements: dict
sweep:
  description:
    - With O(sweep), C(mode), C(template), C(orphans) (id, name, user, host, created_at,
      last_used_at of each key the scheme made that no developer holds), C(revoked) (ids),
      C(refused) (why nothing was revoked, or null) and C(unused).
  returned: with O(sweep)
  type: dict
error_kind:
  description: On failure, V(unreachable), V(auth), V(api), V(refused) or V(internal).
  returned: failure
  type: str
  sample: auth
"""

import fcntl
import hashlib
import os
import tempfile
import time
import traceback
from collections import namedtuple
from datetime import timedelta

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.omniroute.opencode.plugins.module_utils import _http
from ansible_collections.omniroute.opencode.plugins.module_utils import _keys
from ansible_collections.omniroute.opencode.plugins.module_utils import _redact
from ansible_collections.omniroute.opencode.plugins.module_utils._omniroute_api import (
    Client,
    OmniRouteError,
    listed_mask,
    mask_key,
)
from ansible_collections.omniroute.opencode.plugins.module_utils._opencode import installed_key

# One key to manage. ``label`` names it in messages and results (the role uses the user name).
KeyRequest = namedtuple(
    "KeyRequest", "label name state rotate installed installed_known allowed_models expires_at policy scopes "
                  "verify_installed revoke_ids")

# In check mode a key that would be created has no value yet; this stands in for it in RV(keys_by_label).
CHECK_MODE_KEY = _keys.CHECK_MODE_KEY
# How often a new key is made again when its mask equals another key's of the same name.
MASK_RETRIES = 3


class Refused(Exception):
    """A request refused before any change (the message names what to fix)."""


def pick_installed_key(configs, auth_text, provider):
    """OpenCode's own precedence (see _opencode.installed_key)."""
    return installed_key(configs or [], auth_text, provider)


def norm_models(value):
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    return sorted(set(str(v) for v in value if v))


def norm_expiry(value):
    return value if value else None


def record_view(rec):
    """What the diff shows of a key record: never a key, only its mask."""
    if rec is None:
        return {"state": "absent"}
    view = {
        "state": "present",
        "id": rec.get("id"),
        "name": rec.get("name"),
        "key": listed_mask(rec.get("key")),
        "expiresAt": norm_expiry(rec.get("expiresAt")),
    }
    view.update(_keys.policy_of(rec))
    return view


class KeyLock:
    """flock-based lock per (server, key name) on the controller; the file goes when released.

    A waiter that wins the lock on a file another holder has already removed sees that the
    path no longer leads to its file and tries again, so two holders never overlap.
    """

    def __init__(self, lock_dir, url, name):
        digest = hashlib.sha256((url + "\0" + name).encode("utf-8")).hexdigest()[:20]
        self.path = os.path.join(lock_dir or tempfile.gettempdir(), "omniroute-api-key-%s.lock" % digest)
        self.fd = None

    def __enter__(self):
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                mine = os.fstat(fd)
                try:
                    there = os.stat(self.path)
                except OSError:
                    there = None
                if there is not None and (there.st_dev, there.st_ino) == (mine.st_dev, mine.st_ino):
                    self.fd = fd
                    return self
            except Exception:
                os.close(fd)
                raise
            os.close(fd)

    def __exit__(self, *exc):
        try:
            os.unlink(self.path)
        except OSError:
            pass
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        return False


class KeyLocks:
    """The locks of several key names, always taken in the same (sorted) order: no deadlock."""

    def __init__(self, lock_dir, url, names):
        self.locks = [KeyLock(lock_dir, url, n) for n in sorted(set(names))]

    def __enter__(self):
        taken = []
        try:
            for lock in self.locks:
                lock.__enter__()
                taken.append(lock)
        except BaseException:
            for lock in reversed(taken):
                lock.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        for lock in reversed(self.locks):
            lock.__exit__(*exc)
        return False


class Run:
    """What every key of one module run shares: the client, check mode, the TTL and the clock."""

    def __init__(self, client, check, warn, ttl=None, renew_days=None, policy=None):
        self.client = client
        self.check = check
        self.warn = warn
        self.ttl = ttl
        self.renew_days = renew_days or 0
        self.policy = policy or {}
        self.now = _keys.now()
        # Whether the server stores an expiry on a key: unknown until a new key is made with a TTL.
        self.expiry_supported = None


# --------------------------------------------------------------------------- one key
def new_result(req):
    return dict(changed=False, created=False, rotated=False, kept=False, revoked=[], replaces=[],
                policy_changed=False, name=req.name, key_state=_keys.OK, reasons=[], new_key=False,
                finished=False)


def wanted_policy(run, req):
    """The request's policy, checked: module O(policy), then the entry's, then legacy allowed_models."""
    where = "key %s: policy" % req.label
    try:
        policy = _keys.merge_policy(_keys.check_policy(run.policy, "policy"), _keys.check_policy(req.policy, where))
    except _keys.PolicyError as e:
        raise Refused("%s" % e)
    if req.allowed_models is not None and "allowedModels" not in policy:
        policy["allowedModels"] = norm_models(req.allowed_models)
    return policy


def revoke(run, records, result):
    for rec in records:
        if not run.check:
            run.client.delete_key(rec["id"])
        result["revoked"].append(rec.get("id"))
    if records:
        result["changed"] = True


def revoke_ids(run, req, result):
    """Second phase of a rotation: the replacement is installed and verified; the old keys go."""
    for key_id in req.revoke_ids:
        if not run.check:
            run.client.delete_key(key_id)
        result["revoked"].append(key_id)
    result["changed"] = bool(req.revoke_ids)
    result["finished"] = bool(req.revoke_ids)


def installed_refused(run, rec, req, policy):
    """Why the installed key (masked match) cannot be kept, or None when it can: a key that
    cannot go into a header as it is, or one that /v1/models refuses."""
    if rec is None or not req.installed:
        return None
    problem = _redact.key_problem(req.installed)
    if problem:
        return "the installed key %s" % problem
    if not req.verify_installed:
        return None
    if policy.get("isActive") is False or rec.get("isActive") is False:
        return None  # an inactive key is refused by design; the policy decides, not a rotation
    return None if run.client.key_accepted(req.installed) else "the installed key is refused by GET /v1/models"


def create_new(run, req, others):
    """POST a new key whose mask differs from every other key of the name (so the next run can
    tell them apart); a clash (1 in 65536) is deleted and made again."""
    masks = set(r.get("key") for r in others if isinstance(r, dict))
    for _attempt in range(MASK_RETRIES):
        rec = run.client.create_key(req.name, scopes=req.scopes)
        if mask_key(rec["key"]) not in masks:
            return rec
        run.client.delete_key(rec["id"])
    raise OmniRouteError("api", "key %s: %d new keys in a row had the mask of another key of the name"
                         % (req.label, MASK_RETRIES))


def settle_new(run, req, rec, base_policy, policy):
    """The new key's settings: the replaced key's, then the wanted ones, in one PATCH; then its
    expiry (O(expires_at), else O(ttl) where the server stores one)."""
    fresh = dict(_keys.POLICY_DEFAULTS)
    desired = _keys.merge_policy(base_policy, policy)
    changes = dict((f, v) for f, v in sorted(desired.items()) if fresh.get(f) != v)
    after = dict(rec, createdAt=_keys.fmt(run.now), expiresAt=None, lastUsedAt=None)
    after.update(fresh, allowedModels=[])
    if changes:
        if not run.check:
            run.client.update_key(rec["id"], changes)
        after.update(changes)
    expires = norm_expiry(req.expires_at)
    if expires:
        set_expiry(run, req, rec.get("id"), expires)
        after["expiresAt"] = expires
    elif run.ttl and run.expiry_supported is not False and not run.check:
        when = _keys.fmt(run.now + timedelta(days=run.ttl))
        run.expiry_supported = run.client.set_expiry(rec["id"], when)
        if run.expiry_supported:
            after["expiresAt"] = when
    return after


def set_expiry(run, req, key_id, when):
    if run.check or not key_id:
        return
    if not run.client.set_expiry(key_id, when):
        raise OmniRouteError(
            "api", "key %s: this OmniRoute server does not accept a key expiry (PATCH expiresAt refused with "
                   "HTTP 400); omit expires_at for it (OmniRoute 3.7.9 has no expiry in its key API - use ttl, "
                   "which the module then enforces from each key's createdAt)" % req.label, 400)


def correct(run, req, rec, policy, result):
    """Policy drift and a changed O(expires_at) on a kept key: one PATCH, then the expiry alone."""
    changes = _keys.policy_drift(rec, policy)
    after = dict(rec)
    if changes:
        if not run.check:
            run.client.update_key(rec["id"], changes)
        after.update(changes)
        result["policy_changed"] = True
    if req.expires_at is not None:
        want, have = norm_expiry(req.expires_at), norm_expiry(rec.get("expiresAt"))
        if want != have and not same_instant(want, have):
            set_expiry(run, req, rec.get("id"), want)
            after["expiresAt"] = want
            result["policy_changed"] = True
    return after


def same_instant(a, b):
    pa, pb = _keys.parse_time(a), _keys.parse_time(b)
    return pa is not None and pb is not None and pa == pb


def ensure(run, req, matches, result):
    """State present: keep, create or rotate (two-phase), then the policy; returns the after record."""
    client = run.client
    if req.installed:
        client.add_secret(req.installed)
    policy = wanted_policy(run, req)
    plan = _keys.plan({"rotate": req.rotate}, matches, run.now, run.ttl, run.renew_days,
                      installed_mask=mask_key(req.installed) if req.installed else None,
                      installed_known=req.installed_known)
    current = plan["current"]
    refused = installed_refused(run, current, req, policy) \
        if plan["action"] == "keep" and current is not None and req.installed_known else None
    if refused:
        plan = dict(plan, action="rotate", replace=[current], reasons=[refused])
    result["reasons"] = list(plan["reasons"])
    # Keys nobody holds go first: there is never more than one spare key of a name. Without the
    # installed files nobody can say who holds the replaced key: it goes only once the new one exists.
    later = plan["revoke_now"] if plan["action"] == "rotate" and not req.installed_known else []
    revoke(run, [r for r in plan["revoke_now"] if r not in later], result)
    result["finished"] = plan["finishing"]
    if plan["action"] == "keep":
        after = correct(run, req, current, policy, result) if current is not None else None
        key = req.installed if req.installed_known else None
        result["kept"] = req.installed_known
        result["changed"] = result["changed"] or result["policy_changed"]
        result["key_state"] = _keys.OK
        return after, key
    # create or rotate: a new key; the replaced one stays valid until the new one is installed.
    result["changed"] = True
    result["new_key"] = True
    result["created"] = plan["action"] == "create"
    result["rotated"] = plan["action"] == "rotate"
    result["replaces"] = [r.get("id") for r in plan["replace"]]
    base = _keys.policy_of(current) if current is not None else {}
    if run.check:
        after = settle_new(run, req, {"id": None, "name": req.name}, base, policy)
        key = None
        due = _keys.due(current, run.now, run.ttl, run.renew_days) if current is not None else None
        result["key_state"] = _keys.EXPIRING if due else _keys.OK if current is not None else _keys.NOT_INSTALLED
    else:
        rec = create_new(run, req, matches)
        after = settle_new(run, req, rec, base, policy)
        key = rec["key"]
        result["key_state"] = _keys.PENDING if result["replaces"] else _keys.OK
    result["policy_changed"] = bool(_keys.policy_drift({}, _keys.merge_policy(base, policy)))
    revoke(run, later, result)
    return after, key


def manage(run, req, matches):
    """One key request against the server's records of that name; ``(result, before, after, key)``."""
    result = new_result(req)
    before = record_view(_keys.classify(matches, mask_key(req.installed) if req.installed else None)["current"]
                         or (matches[-1] if matches else None))
    if req.revoke_ids:
        revoke_ids(run, req, result)
        # Phase two lists nothing: what it knows is that the key of the name stays and the keys it
        # replaced go.
        return result, {"state": "present", "replaced": list(req.revoke_ids)}, {"state": "present", "replaced": []}, None
    if req.state == "absent":
        revoke(run, matches, result)
        result["key_state"] = _keys.REVOKED
        if matches:
            result["id"] = matches[0].get("id")
        return result, before, {"state": "absent"}, None
    after, key = ensure(run, req, matches, result)
    if after is not None:
        if after.get("id"):
            result["id"] = after.get("id")
        result["key_info"] = _keys.record_view(after, ttl_days=run.ttl)
    if key is not None:
        result["key"] = key
        result["key_masked"] = mask_key(key)
        run.client.add_secret(key)
    elif after is not None and listed_mask(after.get("key")) and not result["new_key"]:
        result["key_masked"] = listed_mask(after.get("key"))
    view = record_view(after)
    if key is not None:
        view["key"] = mask_key(key)
    elif result["new_key"]:
        view["key"] = "(new key)"
    return result, before, view, key


def timings(client):
    return [{"method": m, "path": path, "status": status, "seconds": secs} for (m, path, status, secs) in client.calls]


def make_client(p):
    client = Client(p["url"], password=p["password"], management_key=p["management_key"], timeout=p["timeout"],
                    validate_certs=p["validate_certs"])
    if p["session"] and not p["management_key"]:
        client.resume(p["session"])
    return client


def refuse_without_age(run, requests, records):
    """With a TTL or renewal, every existing key must carry an expiry or a creation time."""
    if not (run.ttl or run.renew_days):
        return
    wanted = set(r.name for r in requests if r.state == "present" and not r.revoke_ids)
    blind = sorted(set(r.get("name") for r in records if isinstance(r, dict) and r.get("name") in wanted
                       and _keys.lacks_age(r)))
    if blind:
        raise Refused("this OmniRoute server lists neither expiresAt nor createdAt for %s, so ttl and "
                      "renew_days cannot be enforced; nothing was changed (unset ttl and renew_days for it)"
                      % ", ".join(blind))


def new_run(module, client):
    p = module.params
    if p["ttl"] is not None and not p["ttl"] > 0:
        raise Refused("ttl must be a positive number of days, got %s" % p["ttl"])
    if p["renew_days"] is not None and p["renew_days"] < 0:
        raise Refused("renew_days must not be negative, got %s" % p["renew_days"])
    return Run(client, module.check_mode, module.warn, ttl=p["ttl"], renew_days=p["renew_days"], policy=p["policy"])


def single_request(p):
    known = bool(p["installed_configs"]) or p["installed_auth"] is not None
    return KeyRequest(label=p["name"], name=p["name"], state=p["state"], rotate=p["rotate"],
                      installed=pick_installed_key(p["installed_configs"], p["installed_auth"], p["provider"]),
                      installed_known=known, allowed_models=p["allowed_models"], expires_at=p["expires_at"],
                      policy=None, scopes=p["scopes"], verify_installed=p["verify_installed"], revoke_ids=[])


def listed(run, p):
    return p["records"] if p["records"] is not None else run.client.list_keys()


def run_one(module):
    """One named key (options O(name), O(state)...)."""
    p = module.params
    client = make_client(p)
    run = new_run(module, client)
    req = single_request(p)
    wanted_policy(run, req)
    with KeyLock(p["lock_dir"], client.url, req.name):
        records = listed(run, p)
        matches = [k for k in records if isinstance(k, dict) and k.get("name") == req.name]
        refuse_without_age(run, [req], matches)
        if len(matches) > 1 and not req.installed_known:
            module.warn("%d keys are named %r on the server; the newest is managed" % (len(matches), req.name))
        result, before, after, _key = manage(run, req, matches)
    result["timings"] = timings(client)
    if module._diff:
        result["diff"] = {"before": before, "after": after, "before_header": req.name, "after_header": req.name}
    return result, client


# --------------------------------------------------------------------------- many keys, one login
def many_requests(p):
    out = []
    for item in p["keys"] or []:
        out.append(KeyRequest(
            label=item.get("label") or item["name"], name=item["name"], state=item.get("state") or "present",
            rotate=bool(item.get("rotate") if item.get("rotate") is not None else p["rotate"]),
            installed=item.get("installed_key"), installed_known=True,
            allowed_models=item.get("allowed_models") if item.get("allowed_models") is not None else p["allowed_models"],
            expires_at=item.get("expires_at") if item.get("expires_at") is not None else p["expires_at"],
            policy=item.get("policy"), scopes=p["scopes"], verify_installed=p["verify_installed"],
            revoke_ids=[str(i) for i in item.get("revoke_ids") or []]))
    return out


def release_installed_keys(module):
    """Let kept keys come back in RV(keys_by_label).

    Ansible masks every value of a no_log option wherever it appears in a module's result, so a
    kept installed key would come back as a mask. Once the requests are built, the option values
    are replaced by the mask in the module's own copy (the invocation still shows no key) and
    released from the masking list. The caller's task is no_log, as for every returned key.
    """
    for item in module.params["keys"] or []:
        value = item.get("installed_key")
        if value:
            item["installed_key"] = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
            module.no_log_values.discard(value)


def public_result(req, result, started):
    """A key's result without the key: what RV(results) lists."""
    out = dict((k, v) for k, v in result.items() if k != "key")
    out.update(label=req.label, user=req.label, state=req.state, elapsed=round(time.time() - started, 4))
    return out


def do_sweep(run, p, records, locked):
    """The orphan sweep over ``records``; returns ``(sweep result, records left)``. ``locked``:
    the names whose locks the caller holds already."""
    spec = p["sweep"]
    template = spec["template"]
    out = dict(mode=spec["mode"], template=template, orphans=[], revoked=[], refused=None, unused=[], check=run.check)
    if _keys.scheme(template) is None:
        out["refused"] = ("the key name template %r does not contain both {user} and {host}, so the role's keys "
                          "cannot be told from other keys; nothing is swept" % template)
        return out, records
    orphans, unused = _keys.sweep(records, spec["owners"], template, spec["unused_days"], run.now)
    out["orphans"] = [_keys.record_view(r, template) for r in orphans]
    out["unused"] = [_keys.record_view(r, template) for r in unused]
    if unused:
        run.warn("%d key(s) of the scheme %s unused for %g days or more: %s" % (
            len(unused), template, spec["unused_days"], ", ".join("%s" % r.get("name") for r in unused)))
    if spec["mode"] == "revoke" and orphans:
        if spec["refuse"]:
            out["refused"] = spec["refuse"]
            run.warn("the orphan sweep revoked nothing: %s" % spec["refuse"])
        else:
            with KeyLocks(p["lock_dir"], run.client.url, [r["name"] for r in orphans if r["name"] not in locked]):
                for rec in orphans:
                    if not run.check:
                        run.client.delete_key(rec["id"])
                    out["revoked"].append(rec.get("id"))
            gone = set(out["revoked"])
            records = [r for r in records if not (isinstance(r, dict) and r.get("id") in gone)]
    elif spec["refuse"]:
        out["refused"] = spec["refuse"]
    return out, records


def run_many(module):
    """Every key of O(keys) (and the sweep) with one session and one listing of the server's keys."""
    p = module.params
    client = make_client(p)
    run = new_run(module, client)
    requests = many_requests(p)
    release_installed_keys(module)
    keys, results, problems, diffs = {}, [], [], []
    out = dict(changed=False)
    names = [r.name for r in requests]
    need_listing = p["keep_session"] or p["sweep"] is not None or any(not r.revoke_ids for r in requests)
    for req in requests:
        if req.state == "present" and not req.revoke_ids:
            wanted_policy(run, req)  # every policy is checked before anything changes
    with KeyLocks(p["lock_dir"], client.url, names):
        records = listed(run, p) if need_listing else []
        refuse_without_age(run, requests, records)
        if p["sweep"] is not None:
            out["sweep"], records = do_sweep(run, p, records, names)
        for req in requests:
            started = time.time()
            matches = [k for k in records if isinstance(k, dict) and k.get("name") == req.name]
            try:
                result, before, after, key = manage(run, req, matches)
            except OmniRouteError as e:
                if e.kind in ("unreachable", "auth"):
                    raise
                problems.append("%s: %s" % (req.label, e.message))
                results.append(dict(public_result(req, new_result(req), started), failed=True, msg=e.message))
                continue
            if req.state == "present" and not req.revoke_ids:
                if key is not None:
                    keys[req.label] = key
                elif result["new_key"] and run.check:
                    keys[req.label] = CHECK_MODE_KEY
            results.append(public_result(req, result, started))
            diffs.append({"before": before, "after": after, "before_header": req.name, "after_header": req.name})
    out.update(changed=any(r.get("changed") for r in results) or bool((out.get("sweep") or {}).get("revoked")),
               keys_by_label=keys, results=results, timings=timings(client))
    if p["keep_session"]:
        out["session"] = client.session()
        out["records"] = [r for r in records if isinstance(r, dict)]
    if module._diff:
        out["diff"] = diffs
    if problems:
        out["failed"] = True
        out["msg"] = "; ".join(problems)
        del out["keys_by_label"]
    return out, client


def public_output(result, client):
    """The result with every text the server sent scrubbed of the login secrets (password,
    management key, session cookie) and of control characters; the issued keys themselves
    (``key``, ``keys_by_label``), the session handed on (``session``) and the listing handed on
    (``records``, for O(records) of later calls, checked again there) are the module's answer and
    stay as they are: a server's masks share the first 8 characters (``sk-<machineId>``) of every
    key of the server, the management key's too, so scrubbing would blank every mask."""
    red = client.login_redactor()
    out = {}
    for name, value in result.items():
        out[name] = value if name in ("key", "keys_by_label", "session", "records") else red.json(value)
    return out


def _shown_args(module):
    """The arguments a result echoes: the server URL without user info or query, the login
    secrets and the session replaced by Ansible's no_log stand-in, the records only counted."""
    p = module.params
    shown = _redact.Redactor([p.get("password"), p.get("management_key"), p.get("session")]).args(p)
    if p.get("session"):
        shown["session"] = _redact.NO_LOG
    if p.get("records") is not None:
        shown["records"] = "(%d keys)" % len(p["records"])
    return shown


ARGUMENT_SPEC = dict(
    url=dict(type="str", required=True),
    password=dict(type="str", no_log=True),
    management_key=dict(type="str", no_log=True),
    session=dict(type="str", no_log=True),
    keep_session=dict(type="bool", default=False),
    records=dict(type="list", elements="dict"),
    name=dict(type="str"),
    keys=dict(type="list", elements="dict", no_log=False, options=dict(
        name=dict(type="str", required=True),
        label=dict(type="str"),
        state=dict(type="str", choices=["present", "absent"]),
        rotate=dict(type="bool"),
        installed_key=dict(type="str", no_log=True),
        allowed_models=dict(type="list", elements="str"),
        expires_at=dict(type="str"),
        policy=dict(type="dict"),
        revoke_ids=dict(type="list", elements="str"),
    )),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    rotate=dict(type="bool", default=False),
    ttl=dict(type="float"),
    renew_days=dict(type="float", default=0),
    policy=dict(type="dict"),
    sweep=dict(type="dict", options=dict(
        mode=dict(type="str", default="report", choices=["report", "revoke"]),
        template=dict(type="str", required=True),
        owners=dict(type="list", elements="str", default=[]),
        refuse=dict(type="str"),
        unused_days=dict(type="float"),
    )),
    installed_configs=dict(type="list", elements="str", default=[], no_log=True),
    installed_auth=dict(type="str", no_log=True),
    provider=dict(type="str", default="omniroute"),
    verify_installed=dict(type="bool", default=True),
    allowed_models=dict(type="list", elements="str"),
    expires_at=dict(type="str"),
    scopes=dict(type="list", elements="str"),
    timeout=dict(type="int", default=30),
    validate_certs=dict(type="bool", default=True),
    lock_dir=dict(type="path"),
)


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        required_one_of=[("password", "management_key", "session"), ("name", "keys", "sweep")],
        mutually_exclusive=[("name", "keys")],
        supports_check_mode=True,
    )
    started = time.time()
    for option in ("password", "management_key"):
        problem = _redact.key_problem(module.params.get(option))
        if problem:
            module.fail_json(msg="%s %s; nothing was sent to %s" % (option, problem, _redact.url(module.params["url"])),
                             error_kind="auth", invocation=dict(module_args=_shown_args(module)))
    what = ("the management key" if module.params.get("management_key")
            else "the admin password" if module.params.get("password") else "the admin session")
    warning = _http.cleartext_warning(module.params["url"], what)
    if warning:
        module.warn(warning)
    try:
        result, client = run_one(module) if module.params["name"] is not None else run_many(module)
    except Refused as e:
        module.fail_json(msg=_redact.message("%s" % e), error_kind="refused",
                         invocation=dict(module_args=_shown_args(module)))
    except OmniRouteError as e:
        module.fail_json(msg=_redact.message(e.message), error_kind=e.kind, status=e.status,
                         invocation=dict(module_args=_shown_args(module)))
    except Exception as e:  # pylint: disable=broad-except
        # Never let a secret through an unexpected traceback.
        secrets = [module.params.get("password"), module.params.get("management_key"), module.params.get("session")]
        text = _redact.message("%s: %s" % (type(e).__name__, e), secrets)
        module.fail_json(msg="unexpected error while managing the OmniRoute key: %s" % text, error_kind="internal",
                         exception=_redact.message("".join(traceback.format_exception_only(type(e), e)), secrets),
                         invocation=dict(module_args=_shown_args(module)))
    result = public_output(result, client)
    result["elapsed"] = round(time.time() - started, 4)
    shown = dict(invocation=dict(module_args=_shown_args(module)))
    if result.pop("failed", False):
        module.fail_json(error_kind="api", **dict(result, **shown))
    module.exit_json(**dict(result, **shown))


if __name__ == "__main__":
    main()
