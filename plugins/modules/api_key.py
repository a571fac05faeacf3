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
  - The full key is only known when it is created or rotated (OmniRoute returns it once) or when
    the caller hands in the OpenCode files of the user that hold it (O(installed_configs),
    O(installed_auth)). Run the task with C(no_log=true); the RV(key) return value is the secret.
  - When an installed key is handed in, the server still knows a key of that name whose masked
    form matches it, and C(GET /v1/models) accepts it, the key is kept and nothing changes.
    Otherwise the named key is rotated, so the caller always ends up with a working key.
  - Calls for the same server and key name are serialised on the controller with a lock file,
    so concurrent runs (forks, C(strategy=free)) never create two keys with one name.
  - See docs/omniroute-keys.md for the API calls relied on and the server versions checked.
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
      - One of O(password) or O(management_key) is required.
    type: str
  management_key:
    description:
      - An OmniRoute API key with the C(manage) scope, sent as a Bearer token, for servers that
        accept management keys. Takes precedence over O(password).
    type: str
  name:
    description:
      - Name of the key as shown in the dashboard (API Manager). Unique per server.
      - One of O(name) or O(keys) is required.
    type: str
  keys:
    description:
      - Several keys at once (the role passes one per user of a host, as M(omniroute.opencode.users)
        returns them with O(omniroute.opencode.users#module:installed_keys=true)). Each is handled
        as O(name) would be; O(rotate), O(allowed_models) and O(expires_at) are defaults for them.
      - A failure of one key (an API error) does not stop the others; the module then fails and
        names each failed key by its label. Unreachable server or refused login stop everything.
    type: list
    elements: dict
    suboptions:
      name: {description: Key name on the server., type: str, required: true}
      label: {description: Name in messages and results (default the key name)., type: str}
      state: {description: As O(state)., type: str, choices: [present, absent]}
      rotate: {description: As O(rotate)., type: bool}
      installed_key: {description: The key installed for this label (kept when still valid)., type: str}
      allowed_models: {description: As O(allowed_models)., type: list, elements: str}
      expires_at: {description: As O(expires_at)., type: str}
  state:
    description:
      - V(present) creates the key when missing (and keeps an accepted installed key).
      - V(absent) revokes (deletes) every key with this name.
    type: str
    choices: [present, absent]
    default: present
  rotate:
    description: With O(state=present), regenerate the key even if the installed one is accepted.
    type: bool
    default: false
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
      - Check an installed key against C(GET /v1/models). Without it a masked match is enough.
    type: bool
    default: true
  allowed_models:
    description:
      - Models the key may use (OmniRoute C(allowedModels)). An empty list allows all models.
        Omitted, the policy is left as it is.
    type: list
    elements: str
  expires_at:
    description:
      - Expiry of the key (ISO 8601, e.g. C(2027-01-31T00:00:00Z)); empty string removes it.
        Omitted, the expiry is left as it is.
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
    description: Directory on the controller for the per-key lock files (default the temp dir).
    type: path
extends_documentation_fragment:
  - omniroute.opencode.attributes.controller
  - ansible.builtin.action_common_attributes
  - action_common_attributes.files
attributes:
  check_mode:
    support: full
    description: Reports whether a key would be created, rotated or revoked, and calls nothing that changes the server.
  diff_mode:
    support: full
    description: Shows the key's name, mask and policy before and after; never the key.
  safe_file_operations:
    support: none
    description: Writes no files; only a lock file is created in O(lock_dir).
  vault:
    support: none
    description: Reads no vaulted files itself.
notes:
  - The admin password and every key are excluded from results, diffs and error messages.
  - OmniRoute caches key validation for about 60 seconds, so a revoked key may still be accepted
    for that long by the inference endpoints.
"""

EXAMPLES = r"""
- name: Ensure a key for alice on this laptop (controller side)
  omniroute.opencode.api_key:
    url: http://127.0.0.1:20128
    password: "{{ vault_omniroute_admin_password }}"
    name: "opencode:alice@{{ inventory_hostname }}"
    allowed_models: [auto, gpt-5.5]
    expires_at: "2027-06-30T00:00:00Z"
  delegate_to: localhost
  no_log: true
  register: alice_key

- name: Revoke it
  omniroute.opencode.api_key:
    url: http://127.0.0.1:20128
    password: "{{ vault_omniroute_admin_password }}"
    name: "opencode:alice@{{ inventory_hostname }}"
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
key:
  description: The full key (created, rotated or kept installed key). Secret - use no_log.
  returned: state=present, except when a key would be created in check mode
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
  description: The key was regenerated (installed key missing/refused, or O(rotate=true)).
  returned: always
  type: bool
  sample: false
kept:
  description: The installed key was found valid and kept.
  returned: always
  type: bool
  sample: false
revoked:
  description: Ids of keys revoked.
  returned: always
  type: list
  sample: ["0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"]
policy_changed:
  description: Allowed models or expiry were updated.
  returned: always
  type: bool
  sample: true
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
  returned: always
  type: str
  sample: opencode:alice@laptop1
elapsed:
  description: Seconds the whole operation took on the controller.
  returned: success
  type: float
  sample: 0.093
keys_by_label:
  description:
    - With O(keys), label to full key for every O(keys) entry with state present. Secret - use no_log.
    - In check mode a key that would be created is given as V(check-mode-key-to-be-created).
  returned: with O(keys), on success
  type: dict
  sample: {alice: "********"}
results:
  description: With O(keys), one secret-free result per entry (label, user, name, state, id, created,
    rotated, kept, revoked, policy_changed, changed, elapsed; C(failed) and C(msg) for a failed one).
  returned: with O(keys)
  type: list
  elements: dict
  sample: [{label: alice, user: alice, name: opencode-alice@laptop1, state: present, id: k-1, created: false,
            rotated: false, kept: true, revoked: [], policy_changed: false, changed: false, elapsed: 0.04}]
error_kind:
  description: On failure, V(unreachable), V(auth), V(api) or V(internal).
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

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.omniroute.opencode.plugins.module_utils import _http
from ansible_collections.omniroute.opencode.plugins.module_utils import _redact
from ansible_collections.omniroute.opencode.plugins.module_utils._omniroute_api import (
    Client,
    OmniRouteError,
    installed_key,
    mask_key,
)

# One key to manage. ``label`` names it in messages and results (the role uses the user name).
KeyRequest = namedtuple(
    "KeyRequest", "label name state rotate installed allowed_models expires_at scopes verify_installed"
)

# In check mode a key that would be created has no value yet; this stands in for it in RV(keys).
CHECK_MODE_KEY = "check-mode-key-to-be-created"


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
    return {
        "state": "present",
        "id": rec.get("id"),
        "name": rec.get("name"),
        "key": rec.get("key") if isinstance(rec.get("key"), str) and "****" in rec.get("key") else None,
        "allowedModels": norm_models(rec.get("allowedModels")) or [],
        "expiresAt": norm_expiry(rec.get("expiresAt")),
    }


class KeyLock:
    """flock-based lock per (server, key name) on the controller."""

    def __init__(self, lock_dir, url, name):
        digest = hashlib.sha256((url + "\0" + name).encode("utf-8")).hexdigest()[:20]
        self.path = os.path.join(lock_dir or tempfile.gettempdir(), "omniroute-api-key-%s.lock" % digest)
        self.fd = None

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        return False


class KeyLocks:
    """The locks of several key names, always taken in the same (sorted) order: no deadlock."""

    def __init__(self, lock_dir, url, names):
        self.locks = [KeyLock(lock_dir, url, n) for n in sorted(set(names))]

    def __enter__(self):
        for lock in self.locks:
            lock.__enter__()
        return self

    def __exit__(self, *exc):
        for lock in reversed(self.locks):
            lock.__exit__(*exc)
        return False


def policy_changes(rec, allowed_models, expires_at):
    changes = {}
    if allowed_models is not None:
        want = norm_models(allowed_models)
        have = norm_models(rec.get("allowedModels") if rec else None) or []
        if want != have:
            changes["allowedModels"] = want
    if expires_at is not None:
        want = norm_expiry(expires_at)
        have = norm_expiry(rec.get("expiresAt") if rec else None)
        if want != have and not same_instant(want, have):
            changes["expiresAt"] = want
    return changes


def same_instant(a, b):
    if not a or not b:
        return False
    from datetime import datetime

    def parse(s):
        s = s.strip().replace("Z", "+00:00")
        try:
            return datetime.fromisoformat(s)
        except ValueError:
            return None

    pa, pb = parse(a), parse(b)
    return pa is not None and pb is not None and pa == pb


# --------------------------------------------------------------------------- one key
def new_result(req):
    return dict(changed=False, created=False, rotated=False, kept=False, revoked=[], policy_changed=False,
                name=req.name)


def revoke(client, matches, check, result):
    for m in matches:
        if not check:
            client.delete_key(m["id"])
        result["revoked"].append(m.get("id"))
    result["changed"] = bool(matches)
    if matches:
        result["id"] = matches[0].get("id")
    return {"state": "absent"}


def keep_installed(client, rec, req):
    """The installed key when the server still has it under this name and accepts it."""
    if rec is None or not req.installed or req.rotate or mask_key(req.installed) != rec.get("key"):
        return None
    if _redact.key_problem(req.installed):
        return None  # a key that cannot go into a header as it is: a new one replaces it
    if req.verify_installed and not client.key_accepted(req.installed):
        return None
    return req.installed


def create(client, req, check):
    if check:
        return {"name": req.name, "allowedModels": norm_models(req.allowed_models) or []}, None
    rec = client.create_key(req.name, allowed_models=norm_models(req.allowed_models), scopes=req.scopes)
    return rec, rec["key"]


def rotate(client, rec, req, check, result):
    """Regenerate ``rec``'s key (or replace it: create first, then revoke, both under the lock)."""
    if check:
        return rec, None
    new = client.regenerate_key(rec["id"])
    if new is not None:
        fresh = dict(rec)
        fresh.update(new)
        return fresh, fresh["key"]
    models = req.allowed_models if req.allowed_models is not None else rec.get("allowedModels")
    new = client.create_key(req.name, allowed_models=norm_models(models),
                            scopes=req.scopes if req.scopes is not None else rec.get("scopes"))
    if rec.get("expiresAt") and req.expires_at is None:
        client.update_key(new["id"], {"expiresAt": rec.get("expiresAt")})
    client.delete_key(rec["id"])
    result["revoked"].append(rec["id"])
    return new, new["key"]


def update_policy(client, rec, req, check):
    """Bring allowed models and expiry to the request; return ``(rec, changed)``."""
    changes = policy_changes(rec, req.allowed_models, req.expires_at)
    if not changes:
        return rec, False
    if not check and rec.get("id"):
        try:
            client.update_key(rec["id"], changes)
        except OmniRouteError as e:
            if e.status == 400 and "expiresAt" in changes:
                raise OmniRouteError(
                    e.kind,
                    "this OmniRoute server does not accept a key expiry (PATCH expiresAt refused: %s); "
                    "omit expires_at for it (OmniRoute 3.7.9 has no expiry in its key API)" % e.message,
                    e.status,
                )
            raise
    rec = dict(rec)
    rec.update(changes)
    return rec, True


def ensure(client, rec, req, check, result):
    """State present: keep, create or rotate, then the policy; return the diff's after view."""
    if req.installed:
        client.add_secret(req.installed)
    key = keep_installed(client, rec, req)
    result["kept"] = key is not None
    if rec is None:
        result["created"] = result["changed"] = True
        rec, key = create(client, req, check)
    elif key is None:
        result["rotated"] = result["changed"] = True
        rec, key = rotate(client, rec, req, check, result)
    rec, result["policy_changed"] = update_policy(client, rec, req, check)
    result["changed"] = result["changed"] or result["policy_changed"]
    if key is not None:
        result["key"] = key
        result["key_masked"] = mask_key(key)
        client.add_secret(key)
    elif rec.get("key") and "****" in str(rec.get("key")):
        result["key_masked"] = rec.get("key")
    if rec.get("id"):
        result["id"] = rec.get("id")
    after = record_view(rec)
    if key is not None:
        after["key"] = mask_key(key)
    elif result["created"] or result["rotated"]:
        after["key"] = "(new key)"
    return after


def manage(client, req, matches, check, warn):
    """One key request against the server's records of that name; ``(result, before, after)``."""
    if len(matches) > 1:
        warn("%d keys are named %r on the server; the oldest is managed" % (len(matches), req.name))
    rec = matches[0] if matches else None
    result = new_result(req)
    if req.state == "absent":
        after = revoke(client, matches, check, result)
    else:
        after = ensure(client, rec, req, check, result)
    return result, record_view(rec), after


def timings(client):
    return [{"method": m, "path": path, "status": status, "seconds": secs} for (m, path, status, secs) in client.calls]


def make_client(p):
    return Client(p["url"], password=p["password"], management_key=p["management_key"], timeout=p["timeout"],
                  validate_certs=p["validate_certs"])


def single_request(p):
    return KeyRequest(label=p["name"], name=p["name"], state=p["state"], rotate=p["rotate"],
                      installed=pick_installed_key(p["installed_configs"], p["installed_auth"], p["provider"]),
                      allowed_models=p["allowed_models"], expires_at=p["expires_at"], scopes=p["scopes"],
                      verify_installed=p["verify_installed"])


def run(module):
    """One named key (options O(name), O(state)...)."""
    p = module.params
    client = make_client(p)
    req = single_request(p)
    with KeyLock(p["lock_dir"], client.url, req.name):
        result, before, after = manage(client, req, client.find_keys(req.name), module.check_mode, module.warn)
    result["timings"] = timings(client)
    if module._diff:
        result["diff"] = {"before": before, "after": after, "before_header": req.name, "after_header": req.name}
    return result, client


# --------------------------------------------------------------------------- many keys, one login
def many_requests(p):
    out = []
    for item in p["keys"]:
        out.append(KeyRequest(
            label=item.get("label") or item["name"], name=item["name"], state=item.get("state") or "present",
            rotate=bool(item.get("rotate") if item.get("rotate") is not None else p["rotate"]),
            installed=item.get("installed_key"),
            allowed_models=item.get("allowed_models") if item.get("allowed_models") is not None else p["allowed_models"],
            expires_at=item.get("expires_at") if item.get("expires_at") is not None else p["expires_at"],
            scopes=p["scopes"], verify_installed=p["verify_installed"]))
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


def run_many(module):
    """Every key of O(keys) with one session and one listing of the server's keys."""
    p = module.params
    client = make_client(p)
    requests = many_requests(p)
    release_installed_keys(module)
    keys, results, problems, diffs = {}, [], [], []
    with KeyLocks(p["lock_dir"], client.url, [r.name for r in requests]):
        records = client.list_keys() if requests else []
        for req in requests:
            started = time.time()
            matches = [k for k in records if isinstance(k, dict) and k.get("name") == req.name]
            try:
                result, before, after = manage(client, req, matches, module.check_mode, module.warn)
            except OmniRouteError as e:
                if e.kind in ("unreachable", "auth"):
                    raise
                problems.append("%s: %s" % (req.label, e.message))
                results.append(dict(public_result(req, new_result(req), started), failed=True, msg=e.message))
                continue
            if req.state == "present":
                keys[req.label] = result.get("key") or CHECK_MODE_KEY
            results.append(public_result(req, result, started))
            diffs.append({"before": before, "after": after, "before_header": req.name, "after_header": req.name})
    out = dict(changed=any(r.get("changed") for r in results), keys_by_label=keys, results=results, timings=timings(client))
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
    (``key``, ``keys_by_label``) are the module's answer and stay as they are."""
    red = client.login_redactor()
    out = {}
    for name, value in result.items():
        out[name] = value if name in ("key", "keys_by_label") else red.json(value)
    return out


def _shown_args(module):
    """The arguments a result echoes: the server URL without user info or query, the login
    secrets replaced by Ansible's no_log stand-in."""
    return _redact.Redactor([module.params.get("password"), module.params.get("management_key")]).args(module.params)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True),
            password=dict(type="str", no_log=True),
            management_key=dict(type="str", no_log=True),
            name=dict(type="str"),
            keys=dict(type="list", elements="dict", no_log=False, options=dict(
                name=dict(type="str", required=True),
                label=dict(type="str"),
                state=dict(type="str", choices=["present", "absent"]),
                rotate=dict(type="bool"),
                installed_key=dict(type="str", no_log=True),
                allowed_models=dict(type="list", elements="str"),
                expires_at=dict(type="str"),
            )),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            rotate=dict(type="bool", default=False),
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
        ),
        required_one_of=[("password", "management_key"), ("name", "keys")],
        mutually_exclusive=[("name", "keys")],
        supports_check_mode=True,
    )
    started = time.time()
    for option in ("password", "management_key"):
        problem = _redact.key_problem(module.params.get(option))
        if problem:
            module.fail_json(msg="%s %s; nothing was sent to %s" % (option, problem, _redact.url(module.params["url"])),
                             error_kind="auth", invocation=dict(module_args=_shown_args(module)))
    what = "the management key" if module.params.get("management_key") else "the admin password"
    warning = _http.cleartext_warning(module.params["url"], what)
    if warning:
        module.warn(warning)
    try:
        result, client = run_many(module) if module.params["keys"] is not None else run(module)
    except OmniRouteError as e:
        module.fail_json(msg=_redact.message(e.message), error_kind=e.kind, status=e.status,
                         invocation=dict(module_args=_shown_args(module)))
    except Exception as e:  # pylint: disable=broad-except
        # Never let a secret through an unexpected traceback.
        secrets = [module.params.get("password"), module.params.get("management_key")]
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
