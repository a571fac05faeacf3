"""The key lifecycle of issue 20 against the real OmniRoute 3.7.9, through the role, on two podman
laptops that reach the gateway (step ``rotation`` of runme.sh, make test-omniroute).

Each developer (alice, bob) on each laptop has one key. The runs, with what each must leave:

  R0c check mode, first onboarding, gateway catalog: no failure, nothing made, "would create".
  R0  onboarding.
  R1  rotate every key; laptop2 is stopped right after the new keys are made: laptop1 rotates,
      laptop2's developers keep their working old keys and show "rotation pending".
  R2  both laptops up, no rotation asked: laptop2's rotation is finished (its lost new keys
      revoked, new ones made, installed, the old ones revoked); laptop1 untouched.
  R3  rotate, ansible-playbook killed right after the new keys are made: old keys stay.
  R4  finishes it.
  R5  rotate, bob's write on laptop1 fails, killed right after the install (before the revoke).
  R6  finishes it without a new key where the new one was installed; bob's again; policy set.
  R7c/R7  TTL 30 days (alice@laptop1 made 40 days ago in the server's database) and renewal 7 days
      (bob@laptop2 expiring in 3 days in the database), in check mode then for real, with an
      orphan sweep that revokes (a key of the scheme for a laptop not in the inventory).
  R8  --limit laptop1: the revoke sweep refuses; a second run of the policy changes no key.

After every run: at most one spare key per name, every developer's installed key is accepted by
/v1/models, and the key column of the report says the state. Keys seen are appended to
$OMNIROUTE_TEST_KEYS_FILE for runme.sh's leak check; nothing here prints a key.
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from urllib.error import HTTPError
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

ROOT = os.environ['ANSIBLE_COLLECTIONS_PATH'].split(os.pathsep)[0]
sys.path.insert(0, ROOT)
from ansible_collections.omniroute.opencode.plugins.module_utils._omniroute_api import Client, mask_key  # noqa: E402
from ansible_collections.omniroute.opencode.tests.support import omniroute_db  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
URL = os.environ['OMNIROUTE_URL']
PASSWORD_FILE = os.environ['OMNIROUTE_PASSWORD_FILE']
DB = omniroute_db.database(os.path.dirname(PASSWORD_FILE))
RUN = os.environ.get('OMNIROUTE_TEST_RUN', '0')
WORK = os.environ['OMNIROUTE_TEST_WORK']
PLAYBOOK = os.environ.get('ANSIBLE_PLAYBOOK', 'ansible-playbook')
IMAGE = os.environ.get('OMNIROUTE_OPENCODE_IMAGE', 'localhost/omniroute-opencode-laptop:bookworm')
LAPTOPS = {'laptop1': 'omr-rot-laptop1', 'laptop2': 'omr-rot-laptop2'}
USERS = ('alice', 'bob')
TEMPLATE = 'it-%s-rot-{user}@{host}' % RUN
REPORT = os.path.join(WORK, 'rot-report')
with open(PASSWORD_FILE) as _handle:
    PASSWORD = _handle.read().strip()
PORT = urlsplit(URL).port


def say(text):
    sys.stderr.write('rotation: %s\n' % text)
    sys.stderr.flush()


def fail(text):
    raise SystemExit('rotation: FAILED: %s' % text)


def check(cond, text):
    if not cond:
        fail(text)


def name(user, host):
    return TEMPLATE.replace('{user}', user).replace('{host}', host)


NAMES = dict(((u, h), name(u, h)) for h in LAPTOPS for u in USERS)


# --------------------------------------------------------------------------- the server
def listing():
    return [k for k in Client(URL, password=PASSWORD).list_keys() if isinstance(k, dict)]


def of_name(records, key_name):
    return [r for r in records if r.get('name') == key_name]


def accepted(key):
    req = Request(URL + '/v1/models', headers={'Authorization': 'Bearer ' + key})
    try:
        return urlopen(req, timeout=30).getcode() == 200
    except HTTPError as exc:
        return exc.code == 200


def record(*keys):
    with open(os.environ['OMNIROUTE_TEST_KEYS_FILE'], 'a') as handle:
        for key in keys:
            if key:
                handle.write(key + '\n')


def make_key(key_name):
    rec = Client(URL, password=PASSWORD).create_key(key_name)
    record(rec['key'])
    return rec


def db(sql, *args):
    conn = sqlite3.connect(DB, timeout=30)
    try:
        conn.execute(sql, args)
        conn.commit()
    finally:
        conn.close()


def stamp(days):
    return (datetime.now(timezone.utc) + timedelta(days=days)).strftime('%Y-%m-%dT%H:%M:%S.000Z')


# --------------------------------------------------------------------------- the laptops
def podman(*args, check_rc=True):
    done = subprocess.run(['podman'] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=False)
    if check_rc and done.returncode != 0:
        fail('podman %s: rc %d: %s' % (' '.join(args[:2]), done.returncode, done.stderr.strip()[-300:]))
    return done


def installed(user, host):
    """The key in the developer's OpenCode config (read inside the laptop; never printed)."""
    done = podman('exec', LAPTOPS[host], 'cat', '/home/%s/.config/opencode/opencode.json' % user)
    key = json.loads(done.stdout)['provider']['omniroute']['options']['apiKey']
    record(key)
    return key


def installed_all():
    return dict(((u, h), installed(u, h)) for h in LAPTOPS for u in USERS)


def start_laptops():
    for container in LAPTOPS.values():
        podman('rm', '-f', '-t', '0', container, check_rc=False)
        # slirp4netns with the host's loopback: the laptops reach the gateway on 127.0.0.1 as 10.0.2.2.
        podman('run', '-d', '--name', container, '--hostname', container,
               '--network', 'slirp4netns:allow_host_loopback=true', IMAGE, 'sleep', 'infinity')


def stop_laptops():
    for container in LAPTOPS.values():
        podman('rm', '-f', '-t', '0', container, check_rc=False)


# --------------------------------------------------------------------------- the runs
def inventory():
    path = os.path.join(WORK, 'rot-inventory.json')
    hosts = dict((h, {'ansible_host': c, 'opencode_users': [{'name': u} for u in USERS]})
                 for h, c in LAPTOPS.items())
    hosts['laptop1']['opencode_users'][1]['key_policy'] = {'maxSessions': 5}
    doc = {'all': {'children': {'laptops': {'hosts': hosts, 'vars': {
        'ansible_connection': 'podman_pipelined',  # runme.sh sets ANSIBLE_CONNECTION_PLUGINS
        'ansible_python_interpreter': '/usr/bin/python3',
        'opencode_api_key_source': 'omniroute',
        'opencode_base_url': 'http://10.0.2.2:%d/v1' % PORT,
        'opencode_omniroute_url': URL,
        'opencode_omniroute_password': "{{ lookup('file', '%s') }}" % PASSWORD_FILE,
        'opencode_omniroute_key_name': TEMPLATE,
        'opencode_models': ['auto'],
        'opencode_report_dir': REPORT,
    }}}}}
    with open(path, 'w') as handle:
        json.dump(doc, handle, indent=1)
    return path


# The role, then (test instrument) every laptop's secret-free key report as the run left it: what
# each run did to each key, which the report file does not record (it records the state).
SITE = '''- hosts: laptops
  gather_facts: false
  roles:
    - omniroute.opencode.opencode
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.copy:
        dest: %s
        mode: "0600"
        content: >-
          {{ dict(groups['laptops'] | zip(groups['laptops'] | map('extract', hostvars)
             | map(attribute='opencode_omniroute_key_report', default=[]))) | to_json }}
      check_mode: false
'''
ACTIONS = os.path.join(WORK, 'rot-keys.json')


def playbook(inv, label, *extra, **env):
    site = os.path.join(WORK, 'rot-site.yml')
    with open(site, 'w') as handle:
        handle.write(SITE % ACTIONS)
    if os.path.exists(ACTIONS):
        os.unlink(ACTIONS)
    # A run this test kills (SIGKILL) cannot remove its own local temp directory: each run gets
    # one of its own here, removed whatever happened.
    local = tempfile.mkdtemp(prefix='rot-local-', dir=WORK)
    environ = dict(os.environ, ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, 'callback_plugins'),
                   ANSIBLE_CALLBACKS_ENABLED='omr_cut', OMR_CUT_HOSTS='2', ANSIBLE_LOCAL_TEMP=local, **env)
    started = time.time()
    try:
        done = subprocess.run([PLAYBOOK, '-i', inv, site, '-f', '4'] + list(extra), env=environ,
                              stdout=sys.stdout, stderr=sys.stdout, check=False)
    finally:
        shutil.rmtree(local, ignore_errors=True)
    say('%s: ansible-playbook rc %d in %.0f s' % (label, done.returncode, time.time() - started))
    return done.returncode


def prepare(inv):
    path = os.path.join(WORK, 'rot-prepare.yml')
    with open(path, 'w') as handle:
        handle.write('- hosts: laptops\n  gather_facts: false\n  tasks:\n'
                     '    - ansible.builtin.user: {name: "{{ item }}", shell: /bin/bash, create_home: true}\n'
                     '      loop: [alice, bob]\n')
    done = subprocess.run([PLAYBOOK, '-i', inv, path], stdout=sys.stdout, stderr=sys.stdout, check=False)
    check(done.returncode == 0, 'preparing the laptops')


def report_rows():
    with open(os.path.join(REPORT, 'opencode-report.json')) as handle:
        return json.load(handle)


def key_states():
    """(user, host) -> the key column of each developer's row (the orphan rows left out)."""
    return dict(((r['user'], r['host']), (r.get('omniroute_key') or {})) for r in report_rows()
                if r.get('user') and r.get('state') != 'orphan')


def actions():
    """(user, host) -> the role's key report entry of the last run (action, reasons, state...)."""
    with open(ACTIONS) as handle:
        reports = json.load(handle)
    return dict(((e['user'], host), e) for host, entries in reports.items() for e in entries)


def one_key_each(want_installed=None):
    """Every name holds exactly one key, and it is the installed one (and works)."""
    records = listing()
    keys = installed_all()
    for (user, host), key_name in NAMES.items():
        mine = of_name(records, key_name)
        check(len(mine) == 1, '%s holds %d keys, not 1' % (key_name, len(mine)))
        check(mine[0].get('key') == mask_key(keys[(user, host)]), '%s: the installed key is not the server\'s' % key_name)
        check(accepted(keys[(user, host)]), '%s: the installed key is refused by /v1/models' % key_name)
    return keys, dict((k, of_name(records, n)[0]['id']) for k, n in NAMES.items())


def spares(records, key_name, count):
    mine = of_name(records, key_name)
    check(len(mine) == count, '%s holds %d keys, expected %d (never more than one spare)' % (key_name, len(mine), count))
    return mine


def main():
    os.makedirs(WORK, exist_ok=True)
    start_laptops()
    try:
        scenario()
    finally:
        stop_laptops()


def scenario():
    inv = inventory()
    prepare(inv)
    ghost = make_key(name('ghost', 'laptop9'))  # an orphan: laptop9 is in no inventory
    other = make_key('it-%s-rot-other' % RUN)  # another tool's key: never touched

    # R0c: check mode before any key exists, gateway catalog (issue 25, Wrong 3).
    rc = playbook(inv, 'R0c check mode, first onboarding', '--check', '-e', 'opencode_catalog=gateway')
    check(rc == 0, 'R0c: check mode failed on a first onboarding')
    check(not [r for r in listing() if r.get('name') in NAMES.values()], 'R0c: check mode made a key')
    done = actions()
    for who in NAMES:
        check(done[who].get('action') == 'would create', 'R0c: %s@%s not "would create": %s' % (who + (done[who],)))
        check(key_states()[who].get('state') == 'not installed', 'R0c: %s@%s not "not installed"' % who)
    rows = dict(((r['user'], r['host']), r) for r in report_rows() if r.get('user') and r.get('state') != 'orphan')
    check(all(rows[w]['key_accepted'] is not False for w in NAMES), 'R0c: a key to be made is called rejected')

    # R0: onboarding.
    check(playbook(inv, 'R0 onboarding') == 0, 'R0 failed')
    r0, ids0 = one_key_each()
    orphans = [r for r in report_rows() if r.get('state') == 'orphan']
    check([r['omniroute_key']['name'] for r in orphans] == [ghost['name']],
          'R0: the sweep found %s, not exactly the ghost' % [r['omniroute_key']['name'] for r in orphans])

    # R1: rotate every key; laptop2 stops right after the new keys are made.
    rc = playbook(inv, 'R1 rotate, laptop2 stopped', '-e', 'opencode_omniroute_rotate=true',
                  OMR_CUT='phase1:stop=laptop2=%s' % LAPTOPS['laptop2'])
    check(rc != 0, 'R1: the run did not notice the stopped laptop')
    podman('start', LAPTOPS['laptop2'])
    records = listing()
    r1 = installed_all()
    for user in USERS:
        spares(records, NAMES[(user, 'laptop1')], 1)
        check(r1[(user, 'laptop1')] != r0[(user, 'laptop1')], 'R1: %s@laptop1 was not rotated' % user)
        spares(records, NAMES[(user, 'laptop2')], 2)
        check(r1[(user, 'laptop2')] == r0[(user, 'laptop2')], 'R1: %s@laptop2 lost the old key' % user)
        check(accepted(r1[(user, 'laptop2')]), 'R1: %s@laptop2\'s old key no longer works' % user)
    states = key_states()
    for user in USERS:
        check(states[(user, 'laptop2')].get('state') == 'rotation pending',
              'R1: %s@laptop2 is %r, not rotation pending' % (user, states[(user, 'laptop2')].get('state')))
        check(states[(user, 'laptop1')].get('state') == 'ok', 'R1: %s@laptop1 not ok' % user)

    # R2: both up: laptop2's rotation is finished, laptop1 untouched.
    check(playbook(inv, 'R2 both laptops up') == 0, 'R2 failed')
    r2, ids2 = one_key_each()
    for user in USERS:
        check(r2[(user, 'laptop1')] == r1[(user, 'laptop1')], 'R2: %s@laptop1 rotated again' % user)
        check(r2[(user, 'laptop2')] not in (r0[(user, 'laptop2')],), 'R2: %s@laptop2 still has the old key' % user)
    check(all(s.get('state') == 'ok' for s in key_states().values()), 'R2: a key is not ok')

    # R3: rotate, killed right after the new keys are made.
    rc = playbook(inv, 'R3 rotate, killed after phase 1', '-e', 'opencode_omniroute_rotate=true', OMR_CUT='phase1:kill')
    check(rc != 0, 'R3: the run was not killed')
    records = listing()
    r3 = installed_all()
    for who, key_name in NAMES.items():
        spares(records, key_name, 2)
        check(r3[who] == r2[who] and accepted(r3[who]), 'R3: %s@%s lost its working key' % who)

    # R4: finishes it (the lost keys revoked, new ones made and installed, the old ones revoked).
    check(playbook(inv, 'R4 finish') == 0, 'R4 failed')
    r4, ids4 = one_key_each()
    for who in NAMES:
        check(r4[who] != r3[who], 'R4: %s@%s was not rotated' % who)
        check(actions()[who].get('action') == 'rotated', 'R4: %s@%s not "rotated"' % who)

    # R5: rotate; bob's config directory on laptop1 refuses the write; killed after the install.
    podman('exec', LAPTOPS['laptop1'], 'sh', '-c',
           'chown root /home/bob/.config/opencode && chmod 555 /home/bob/.config/opencode')
    rc = playbook(inv, 'R5 rotate, bob@laptop1 write fails, killed after phase 2',
                  '-e', 'opencode_omniroute_rotate=true', OMR_CUT='phase2:kill')
    check(rc != 0, 'R5: the run was not killed')
    podman('exec', LAPTOPS['laptop1'], 'sh', '-c',
           'chown bob /home/bob/.config/opencode && chmod 755 /home/bob/.config/opencode')
    records = listing()
    r5 = installed_all()
    for who, key_name in NAMES.items():
        spares(records, key_name, 2)
        check(accepted(r5[who]), 'R5: %s@%s has no working key' % who)
        if who == ('bob', 'laptop1'):
            check(r5[who] == r4[who], 'R5: bob@laptop1 has a new key although its write failed')
        elif who[1] == 'laptop2':
            check(r5[who] != r4[who], 'R5: %s@%s did not get the new key' % who)
    # alice@laptop1 has the new key when the users run wrote it before bob's write failed, else the old one.
    alice_new = r5[('alice', 'laptop1')] != r4[('alice', 'laptop1')]
    say('R5: alice@laptop1 %s' % ('has the new key' if alice_new else 'kept the old key'))

    # R6: finishes: no new key where one was installed; bob@laptop1 rotated again; the policy.
    # Stored and compared; not enabled, so the test does not depend on the time of day.
    schedule = {'enabled': False, 'from': '08:00', 'until': '18:00', 'days': [1, 2, 3, 4, 5], 'tz': 'Europe/Berlin'}
    policy = json.dumps({'opencode_key_policy': {'noLog': True, 'maxSessions': 2, 'isActive': True,
                                                 'accessSchedule': schedule, 'allowedModels': ['openai/*', 'auto']}})
    check(playbook(inv, 'R6 finish, policy', '-e', policy) == 0, 'R6 failed')
    r6, ids6 = one_key_each()
    for who in NAMES:
        if who == ('bob', 'laptop1') or (who == ('alice', 'laptop1') and not alice_new):
            check(r6[who] not in (r4[who], r5[who]), 'R6: %s@%s was not rotated again' % who)
        else:
            check(r6[who] == r5[who], 'R6: %s@%s got another key instead of finishing' % who)
            check(actions()[who].get('action') == 'finished the rotation (old key revoked)',
                  'R6: %s@%s: %r' % (who + (actions()[who].get('action'),)))
    for rec in listing():
        if rec.get('name') in NAMES.values():
            bob1 = rec['name'] == NAMES[('bob', 'laptop1')]
            got = (rec.get('noLog'), rec.get('maxSessions'), rec.get('isActive'), sorted(rec.get('allowedModels') or []))
            check(got == (True, 5 if bob1 else 2, True, ['auto', 'openai/*']), 'R6: policy of %s is %r' % (rec['name'], got))
            check(rec.get('accessSchedule', {}).get('days') == schedule['days'], 'R6: schedule of %s' % rec['name'])

    # R7c / R7: TTL and renewal (the dates set in the server's database), and the revoke sweep.
    db('UPDATE api_keys SET created_at = ? WHERE id = ?', stamp(-40), ids6[('alice', 'laptop1')])
    db('UPDATE api_keys SET expires_at = ? WHERE id = ?', stamp(3), ids6[('bob', 'laptop2')])
    aged = ['-e', 'opencode_key_ttl_days=30', '-e', 'opencode_key_renew_days=7', '-e', 'opencode_key_sweep=revoke',
            '-e', policy]
    check(playbook(inv, 'R7c ttl and renewal, check mode', '--check', *aged) == 0, 'R7c failed')
    check(sorted(r['id'] for r in listing() if r.get('name') in NAMES.values()) == sorted(ids6.values()),
          'R7c: check mode changed a key')
    check(any(r['id'] == ghost['id'] for r in listing()), 'R7c: check mode revoked the orphan')
    states = key_states()
    check(states[('alice', 'laptop1')].get('state') == 'expiring', 'R7c: alice@laptop1 not expiring')
    check(states[('bob', 'laptop2')].get('state') == 'expiring', 'R7c: bob@laptop2 not expiring')
    check(states[('bob', 'laptop1')].get('state') == 'ok', 'R7c: bob@laptop1 not ok')
    check(playbook(inv, 'R7 ttl and renewal', *aged) == 0, 'R7 failed')
    r7, ids7 = one_key_each()
    done = actions()
    for who in NAMES:
        rotated = who in (('alice', 'laptop1'), ('bob', 'laptop2'))
        check((r7[who] != r6[who]) == rotated, 'R7: %s@%s rotated=%s' % (who + (not rotated,)))
    check('ttl enforced by the role' in ' '.join(done[('alice', 'laptop1')].get('reasons') or []),
          'R7: alice@laptop1\'s reason does not say the role enforces the ttl')
    check('within renew_days 7' in ' '.join(done[('bob', 'laptop2')].get('reasons') or []),
          'R7: bob@laptop2 was not renewed for its expiry')
    check(key_states()[('bob', 'laptop1')].get('expiry_source') == 'ttl enforced by the role', 'R7: expiry source')
    left = listing()
    check(not [r for r in left if r['id'] == ghost['id']], 'R7: the orphan was not revoked')
    check([r for r in left if r['id'] == other['id']], 'R7: the sweep touched another tool\'s key')
    orphans = [r for r in report_rows() if r.get('state') == 'orphan']
    check(orphans == [], 'R7: the report still shows orphans %r' % [r['omniroute_key'] for r in orphans])

    # R8: --limit: the revoke sweep refuses; the same policy again changes no key.
    ghost2 = make_key(name('ghost2', 'laptop9'))
    check(playbook(inv, 'R8 --limit laptop1', '--limit', 'laptop1,localhost', *aged) == 0, 'R8 failed')
    check([r for r in listing() if r['id'] == ghost2['id']], 'R8: a limited run revoked an orphan')
    orphans = [r['omniroute_key'] for r in report_rows() if r.get('state') == 'orphan']
    check(len(orphans) == 1 and orphans[0]['state'] == 'orphan' and '--limit laptop1' in orphans[0].get('cause', ''),
          'R8: the refusal is not in the report: %r' % orphans)
    r8, ids8 = one_key_each()
    check(ids8 == ids7, 'R8: a key changed')
    laptop1 = dict(((u, h), e) for (u, h), e in actions().items() if h == 'laptop1')
    check(sorted(laptop1) == sorted(k for k in NAMES if k[1] == 'laptop1'),
          'R8: the key report names %r on laptop1, not each of its users' % sorted(laptop1))
    check(not [e for e in laptop1.values() if e.get('action') != 'kept'],
          'R8: laptop1\'s keys were not simply kept')
    Client(URL, password=PASSWORD).delete_key(ghost2['id'])
    Client(URL, password=PASSWORD).delete_key(other['id'])
    say('all runs as expected')


if __name__ == '__main__':
    main()
