"""The one place where a docs example is changed before it runs (tests/docs/README.md, rule 5).

Only three things are substituted, and only here:

1. **The gateway URL.** Every documented OmniRoute address (``DOC_GATEWAYS``: the example hosts
   and OmniRoute's local default ``http://localhost:20128``) becomes the suite's OmniRoute 3.7.9,
   ``http://127.0.0.1:<port>``; the path after it (``/v1``...) is kept. The laptops share the
   host's network, so the same address works on the controller and on every laptop.
   ``make configure``'s built-in defaults are that same local URL and placeholder key, so shell
   examples also get ``OMNIROUTE_BASE_URL`` and ``OMNIROUTE_API_KEY`` in their environment
   (``shell_env``): a command that sets them itself still wins.
2. **User names.** ``alice``, ``bob`` and ``carol`` are not rewritten: they are accounts on every
   test laptop (podman containers), created before the page runs. On the controller the only
   account is the one running the suite, with a throwaway HOME.
3. **Keys.** A key placeholder in an example (``sk-...``, ``sk-…``, OmniRoute's local
   ``sk_omniroute``, or any literal ``sk-`` key) becomes a real key made on the suite's
   OmniRoute: the key of the user named before it on the same line (``alice: sk-...``), else the
   generic key. Vaulted files under docs/examples are decrypted with the example password file
   (docs/examples/vault-password.example), substituted the same way and encrypted again.
   Variables named ``vault_*`` / ``vaulted_*`` that an example the suite runs itself (a playbook
   or task list no shell command runs) uses and that nothing on the page defines are given as
   extra variables (``vault_vars``): a password -> the OmniRoute admin password, ``..._keys`` ->
   every user's key, ``..._key_<user>`` -> that user's key, another ``..._key`` -> the generic key.

Everything else in an example runs as written.
"""

import re

USERS = ('alice', 'bob', 'carol')

# The OmniRoute addresses the docs may use, origin only (scheme, host, port).
DOC_GATEWAYS = (
    'https://omniroute.example.com',
    'https://omniroute.example.internal',
    'https://omniroute.internal',
    'http://localhost:20128',
    'http://127.0.0.1:20128',
)
_GATEWAY = re.compile(r'(?:%s)(?![\w.-])' % '|'.join(re.escape(u) for u in DOC_GATEWAYS))

# `sk-...`, `sk-…`, `sk_omniroute`, and literal keys such as `sk-test-alice` (not a masked
# display such as `sk-b1490****af60`, which is output, not input).
KEY_PLACEHOLDER = re.compile(r'sk-(?:\.\.\.|\u2026)|\bsk_omniroute\b|\bsk-[A-Za-z0-9_-]+(?![\w*])')
_USER_WORD = re.compile(r'(?<![\w-])(%s)(?![\w-])' % '|'.join(USERS))
VAULT_VAR = re.compile(r'^vault(?:ed)?_\w+$')


class SubstitutionError(ValueError):
    """An example needs a value the suite cannot give."""


class Substitution(object):
    """The values of one suite run: gateway URL, keys, admin password."""

    def __init__(self, gateway_url, user_keys, generic_key, admin_password):
        self.gateway_url = gateway_url.rstrip('/')
        self.user_keys = dict(user_keys)
        self.generic_key = generic_key
        self.admin_password = admin_password
        missing = [u for u in USERS if not self.user_keys.get(u)]
        if missing:
            raise SubstitutionError('no key for %s' % ', '.join(missing))

    # -- text ---------------------------------------------------------------------------
    def urls(self, text):
        return _GATEWAY.sub(self.gateway_url, text)

    def keys(self, text):
        """Every key placeholder -> a real key, by the user named before it on its line."""
        out = []
        for line in text.split('\n'):
            out.append(KEY_PLACEHOLDER.sub(lambda m, line=line: self._key_for(line, m.start()), line))
        return '\n'.join(out)

    def _key_for(self, line, pos):
        users = _USER_WORD.findall(line[:pos])
        if users:
            return self.user_keys[users[-1]]
        return self.generic_key

    def text(self, text):
        """An example's text as it runs: URLs and keys substituted."""
        return self.keys(self.urls(text))

    # -- environment and variables ------------------------------------------------------
    def shell_env(self):
        """make configure's defaults (http://localhost:20128, sk_omniroute), substituted."""
        return {'OMNIROUTE_BASE_URL': self.gateway_url, 'OMNIROUTE_API_KEY': self.generic_key}

    def vault_vars(self, names):
        """Values for the ``vault_*``/``vaulted_*`` variables in ``names`` (see the docstring)."""
        out = {}
        for name in names:
            if not VAULT_VAR.match(name):
                continue
            lowered = name.lower()
            if 'password' in lowered:
                out[name] = self.admin_password
            elif lowered.endswith('keys') or '_keys_' in lowered:
                out[name] = dict(self.user_keys)
            elif 'key' in lowered:
                user = [u for u in USERS if lowered.endswith('_' + u)]
                out[name] = self.user_keys[user[0]] if user else self.generic_key
            else:
                raise SubstitutionError('no substitute for the variable %s (a vaulted value that is '
                                        'neither a key, a key map nor a password)' % name)
        return out

    # -- secrets ------------------------------------------------------------------------
    def secrets(self):
        """{secret: label} of every value of this run that must never be printed."""
        out = {self.admin_password: 'admin password', self.generic_key: 'key:generic'}
        for user, key in self.user_keys.items():
            out[key] = 'key:%s' % user
        return out


def revault(data, password, substitution):
    """A vaulted file's bytes with its secrets substituted, encrypted again with ``password``
    (Ansible's own VaultLib: the same format ansible-vault writes)."""
    from ansible.parsing.vault import VaultLib, VaultSecret

    secret = VaultSecret(password.strip().encode())
    vault = VaultLib([('default', secret)])
    plain = vault.decrypt(data).decode('utf-8')
    return vault.encrypt(substitution.text(plain).encode('utf-8'), secret)


def is_vaulted(data):
    return data.lstrip().startswith(b'$ANSIBLE_VAULT;')


class Scrubber(object):
    """Replaces every known secret in text meant for people (a failure message, the report) by
    its label, and finds secrets in output (the leak check)."""

    def __init__(self, secrets=None):
        self.secrets = {}
        self.prefix = ''
        for secret, label in (secrets or {}).items():
            self.add(secret, label)

    def add(self, secret, label=None):
        if secret and len(secret) >= 8 and secret not in self.secrets:
            self.secrets[secret] = label or 'key:%d' % (len(self.secrets) + 1)
            keys = [s for s in self.secrets if s.startswith('sk-')]
            self.prefix = _common_prefix(keys) if len(keys) > 1 else ''

    def _needles(self, secret):
        """The whole secret, and for a gateway key the start and end of its own part (after the
        prefix all keys of one server share): a copy cut or masked differently is still found.
        The server's own mask (first 8 + last 4 characters) is not."""
        out = [secret]
        tail = secret[len(self.prefix):] if self.prefix and secret.startswith(self.prefix) else secret[3:]
        if len(tail) >= 16:
            out += [tail[:12], tail[-12:]]
        return out

    def text(self, text):
        for secret in sorted(self.secrets, key=len, reverse=True):
            for needle in self._needles(secret):
                text = text.replace(needle, '<%s>' % self.secrets[secret])
        return text

    def leaks(self, text):
        """Labels of the secrets found in ``text``."""
        return sorted(set(label for secret, label in self.secrets.items()
                          if any(needle in text for needle in self._needles(secret))))


def _common_prefix(values):
    values = list(values)
    first, last = min(values), max(values)
    k = 0
    while k < len(first) and k < len(last) and first[k] == last[k]:
        k += 1
    # Up to the last dash of the shared part (`sk-<machine id>-`).
    return first[:first.rfind('-', 0, k) + 1] if '-' in first[:k] else ''


KEY_IN_FILE = re.compile(r'sk-[A-Za-z0-9_-]{16,}')


def keys_in(text):
    """Real-looking keys in a file's text (harvested from laptops after a run)."""
    return sorted(set(KEY_IN_FILE.findall(text)))
