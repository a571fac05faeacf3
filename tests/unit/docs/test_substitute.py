"""The one substitution of the docs-examples suite (tests/docs/substitute.py): gateway URLs,
key placeholders, vaulted files and variables, and the scrubber that keeps keys out of what
the suite prints."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'docs'))

import substitute as sb  # noqa: E402

PREFIX = 'sk-0123456789abcdef-'
KEYS = {'alice': PREFIX + 'aaaaaaaaaaaaaaaaaaaaaaaa', 'bob': PREFIX + 'bbbbbbbbbbbbbbbbbbbbbbbb',
        'carol': PREFIX + 'cccccccccccccccccccccccc'}
GENERIC = PREFIX + 'gggggggggggggggggggggggg'


@pytest.fixture
def subst():
    return sb.Substitution('http://127.0.0.1:20168/', KEYS, GENERIC, 'admin-password-123')


@pytest.mark.parametrize('doc, runs', [
    ('opencode_base_url: https://omniroute.example.com', 'opencode_base_url: http://127.0.0.1:20168'),
    ('base_url: https://omniroute.example.com/v1', 'base_url: http://127.0.0.1:20168/v1'),
    ('url: https://omniroute.internal/api', 'url: http://127.0.0.1:20168/api'),
    ('opencode_base_url: https://omniroute.example.internal', 'opencode_base_url: http://127.0.0.1:20168'),
    ('OMNIROUTE_BASE_URL=http://localhost:20128 make configure', 'OMNIROUTE_BASE_URL=http://127.0.0.1:20168 make configure'),
    ('http://127.0.0.1:20128/v1/models', 'http://127.0.0.1:20168/v1/models'),
    # Other hosts stay as written, and so does a longer host name that only starts alike.
    ('-U https://git.example.com/platform/x.git', '-U https://git.example.com/platform/x.git'),
    ('https://omniroute.example.com.evil.test/v1', 'https://omniroute.example.com.evil.test/v1'),
    ('http://localhost:201280', 'http://localhost:201280'),
])
def test_gateway_urls(subst, doc, runs):
    assert subst.text(doc) == runs


def test_key_placeholders_take_the_key_of_the_user_named_before_them(subst):
    doc = ('vault_opencode_api_keys: {alice: sk-..., bob: "sk-\u2026"}\n'
           'carol: sk-test-carol\n'
           'OMNIROUTE_API_KEY=sk-... make configure\n'
           "api_key: \"{{ local_api_key | default('sk_omniroute') }}\"\n")
    assert subst.text(doc) == (
        'vault_opencode_api_keys: {alice: %s, bob: "%s"}\n' % (KEYS['alice'], KEYS['bob'])
        + 'carol: %s\n' % KEYS['carol']
        + 'OMNIROUTE_API_KEY=%s make configure\n' % GENERIC
        + "api_key: \"{{ local_api_key | default('%s') }}\"\n" % GENERIC)


def test_masked_keys_and_words_that_contain_sk_stay(subst):
    doc = 'masked as sk-b1490****af60; the task-list and disk-size; {env:OMNIROUTE_API_KEY}'
    assert subst.text(doc) == doc


def test_user_names_themselves_are_not_rewritten(subst):
    assert subst.text('opencode_users: [{name: alice}, {name: bob}, {name: carol, state: absent}]') == \
        'opencode_users: [{name: alice}, {name: bob}, {name: carol, state: absent}]'


def test_shell_env_is_make_configures_defaults_substituted(subst):
    assert subst.shell_env() == {'OMNIROUTE_BASE_URL': 'http://127.0.0.1:20168', 'OMNIROUTE_API_KEY': GENERIC}


def test_vault_variables(subst):
    got = subst.vault_vars(['vault_omniroute_admin_password', 'vaulted_omniroute_keys', 'vault_opencode_api_keys',
                            'vault_key_bob', 'vault_catalog_key', 'inventory_hostname', 'developer'])
    assert got == {'vault_omniroute_admin_password': 'admin-password-123', 'vaulted_omniroute_keys': KEYS,
                   'vault_opencode_api_keys': KEYS, 'vault_key_bob': KEYS['bob'], 'vault_catalog_key': GENERIC}
    with pytest.raises(sb.SubstitutionError, match='vault_team_name'):
        subst.vault_vars(['vault_team_name'])


def test_a_user_without_a_key_is_refused():
    with pytest.raises(sb.SubstitutionError, match='carol'):
        sb.Substitution('http://x', {'alice': 'a', 'bob': 'b'}, 'g', 'p')


def test_revault_substitutes_inside_the_vault_and_encrypts_again(subst):
    from ansible.parsing.vault import VaultLib, VaultSecret

    secret = VaultSecret(b'example-only-change-me')
    vault = VaultLib([('default', secret)])
    original = vault.encrypt(b'vault_opencode_api_keys:\n  alice: sk-alice-fake-1\n  ana: sk-...\n', secret)
    assert sb.is_vaulted(original)
    again = sb.revault(original, 'example-only-change-me\n', subst)
    assert sb.is_vaulted(again) and again != original
    assert vault.decrypt(again).decode() == 'vault_opencode_api_keys:\n  alice: %s\n  ana: %s\n' % (KEYS['alice'], GENERIC)


def test_scrubber_hides_every_secret_and_the_distinct_parts_of_keys(subst):
    scrub = sb.Scrubber(subst.secrets())
    text = 'key %s, cut %s, end %s, pw admin-password-123, mask sk-01234****cccc' % (
        KEYS['alice'], KEYS['bob'][len(PREFIX):][:14], GENERIC[-13:])
    out = scrub.text(text)
    for secret in list(KEYS.values()) + [GENERIC, 'admin-password-123']:
        assert secret not in out
    assert 'aaaaaaaaaaaa' not in out and 'bbbbbbbbbbbb' not in out and 'gggggggggggg' not in out
    assert '<key:alice>' in out and '<admin password>' in out
    # The server's own mask (first 8 + last 4 characters) is not a leak.
    assert 'sk-01234****cccc' in out
    assert scrub.leaks(text) == ['admin password', 'key:alice', 'key:bob', 'key:generic']
    assert scrub.leaks('mask sk-01234****cccc and %s' % PREFIX) == []


def test_harvested_keys_join_the_scrubber():
    scrub = sb.Scrubber()
    found = sb.keys_in('{"apiKey": "sk-9999999999999999-zzzzzzzzzzzzzzzzzzzz", "x": "sk-short"}')
    assert found == ['sk-9999999999999999-zzzzzzzzzzzzzzzzzzzz']
    for key in found:
        scrub.add(key)
    assert scrub.leaks('oops sk-9999999999999999-zzzzzzzzzzzzzzzzzzzz') == ['key:1']
