#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to omniroute.opencode
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: api_key
short_description: Manage one named API key in an OmniRoute server
description:
  - Creates, keeps, rotates or revokes one named API key through OmniRoute's management API.
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
    description: Name of the key as shown in the dashboard (API Manager). Unique per server.
    type: str
    required: true
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

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.omniroute.opencode.plugins.module_utils import _redact
from ansible_collections.omniroute.opencode.plugins.module_utils._omniroute_api import (
    Client,
    OmniRouteError,
    installed_key_from_auth,
    installed_key_from_config,
    is_real_key,
    mask_key,
)


def pick_installed_key(configs, auth_text, provider):
    """OpenCode's own precedence: the highest config that sets options.apiKey wins (even a
    placeholder); only without one does auth.json count."""
    for text in configs or []:
        value = installed_key_from_config(text, provider)
        if value is not None:
            return value if is_real_key(value) else None
    if auth_text:
        value = installed_key_from_auth(auth_text, provider)
        if value is not None and is_real_key(value):
            return value
    return None


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


def run(module):
    p = module.params
    client = Client(
        p["url"],
        password=p["password"],
        management_key=p["management_key"],
        timeout=p["timeout"],
        validate_certs=p["validate_certs"],
    )
    result = dict(
        changed=False, created=False, rotated=False, kept=False, revoked=[], policy_changed=False, name=p["name"]
    )
    check = module.check_mode
    with KeyLock(p["lock_dir"], client.url, p["name"]):
        matches = client.find_keys(p["name"])
        if len(matches) > 1:
            module.warn("%d keys are named %r on the server; the oldest is managed" % (len(matches), p["name"]))
        rec = matches[0] if matches else None
        before = record_view(rec)

        if p["state"] == "absent":
            for m in matches:
                if not check:
                    client.delete_key(m["id"])
                result["revoked"].append(m.get("id"))
            result["changed"] = bool(matches)
            if rec:
                result["id"] = rec.get("id")
            after = {"state": "absent"}
        else:
            installed = pick_installed_key(p["installed_configs"], p["installed_auth"], p["provider"])
            if installed:
                client.add_secret(installed)
            key = None
            if rec is not None and installed and not p["rotate"] and mask_key(installed) == rec.get("key"):
                if not p["verify_installed"] or client.key_accepted(installed):
                    result["kept"] = True
                    key = installed
            if rec is None:
                result["created"] = result["changed"] = True
                if not check:
                    rec = client.create_key(p["name"], allowed_models=norm_models(p["allowed_models"]), scopes=p["scopes"])
                    key = rec["key"]
                else:
                    rec = {"name": p["name"], "allowedModels": norm_models(p["allowed_models"]) or []}
            elif not result["kept"]:
                result["rotated"] = result["changed"] = True
                if not check:
                    new = client.regenerate_key(rec["id"])
                    if new is None:
                        # No regenerate endpoint: create the replacement first, then revoke the
                        # old key, both under the lock, so the name is never missing or doubled.
                        new = client.create_key(
                            p["name"],
                            allowed_models=norm_models(p["allowed_models"])
                            if p["allowed_models"] is not None
                            else norm_models(rec.get("allowedModels")),
                            scopes=p["scopes"] if p["scopes"] is not None else rec.get("scopes"),
                        )
                        if rec.get("expiresAt") and p["expires_at"] is None:
                            client.update_key(new["id"], {"expiresAt": rec.get("expiresAt")})
                        client.delete_key(rec["id"])
                        result["revoked"].append(rec["id"])
                        fresh = new
                    else:
                        fresh = dict(rec)
                        fresh.update(new)
                    key = fresh["key"]
                    rec = fresh
            changes = policy_changes(rec, p["allowed_models"], p["expires_at"])
            if changes:
                result["policy_changed"] = result["changed"] = True
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
            elif result["changed"] and (result["created"] or result["rotated"]):
                after["key"] = "(new key)"
    result["timings"] = [
        {"method": m, "path": path, "status": status, "seconds": secs} for (m, path, status, secs) in client.calls
    ]
    if module._diff:
        result["diff"] = {"before": before, "after": after, "before_header": p["name"], "after_header": p["name"]}
    return result, client


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True),
            password=dict(type="str", no_log=True),
            management_key=dict(type="str", no_log=True),
            name=dict(type="str", required=True),
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
        required_one_of=[("password", "management_key")],
        supports_check_mode=True,
    )
    started = time.time()
    client = None
    # The echoed arguments show the server URL without user info or query.
    shown = dict(invocation=dict(module_args=dict(module.params, url=_redact.url(module.params["url"]))))
    try:
        result, client = run(module)
    except OmniRouteError as e:
        module.fail_json(msg=_redact.message(e.message), error_kind=e.kind, status=e.status, **shown)
    except Exception as e:  # pylint: disable=broad-except
        # Never let a secret through an unexpected traceback.
        secrets = [module.params.get("password"), module.params.get("management_key")]
        text = _redact.message("%s: %s" % (type(e).__name__, e), secrets)
        module.fail_json(msg="unexpected error while managing the OmniRoute key: %s" % text, error_kind="internal",
                         exception=_redact.message("".join(traceback.format_exception_only(type(e), e)), secrets),
                         **shown)
    result["elapsed"] = round(time.time() - started, 4)
    module.exit_json(**dict(result, **shown))


if __name__ == "__main__":
    main()
