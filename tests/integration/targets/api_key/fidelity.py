"""The offline fake against the real OmniRoute 3.7.9, and the module paths only 3.7.9 can show
(issue 26). Step ``fidelity`` of runme.sh (make test-omniroute).

1. The same sequence of management calls (tests/unit/plugins/modules/omniroute_probe.py) runs
   against the live server and against the fake of the unit tests in its 3.7.9 mode; every
   observation must be equal, or the fake is kinder (or harsher) than the server it stands for.
2. The api_key paths the unit tests take on the fake in 3.7.9 mode that the other steps do not run
   live: an installed key kept without asking /v1/models (verify_installed false), two keys of one
   name (the newer one nobody holds revoked, the rotation made again; absent revokes all), one
   failing key of many (3.7.9 refusing an expiry; the others done), a rotation in check mode
   (nothing changes).
The module runs as Ansible runs it on a host: its own process, arguments from a file. Every key
seen is appended to $OMNIROUTE_TEST_KEYS_FILE for runme.sh's leak check.
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.environ['ANSIBLE_COLLECTIONS_PATH'].split(os.pathsep)[0]
sys.path.insert(0, ROOT)

from ansible_collections.omniroute.opencode.plugins.module_utils._omniroute_api import Client  # noqa: E402
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules import omniroute_fake  # noqa: E402
from ansible_collections.omniroute.opencode.tests.unit.plugins.modules.omniroute_probe import (  # noqa: E402
    differences, probe)

URL = os.environ['OMNIROUTE_URL']
with open(os.environ['OMNIROUTE_PASSWORD_FILE']) as _handle:
    PASSWORD = _handle.read().strip()
RUN = os.environ.get('OMNIROUTE_TEST_RUN', '0')
FAILS = []


def record(*keys):
    with open(os.environ['OMNIROUTE_TEST_KEYS_FILE'], 'a') as handle:
        for key in keys:
            if key:
                handle.write(key + '\n')


def check(ok, what):
    print('fidelity: %s %s' % ('ok  ' if ok else 'FAIL', what), flush=True)
    if not ok:
        FAILS.append(what)


def module(args, check_mode=False):
    """One api_key run in its own process; returns its result."""
    args = dict(args, url=URL, password=PASSWORD, lock_dir=tempfile.gettempdir())
    if check_mode:
        args['_ansible_check_mode'] = True
    with tempfile.NamedTemporaryFile('w', suffix='.json', delete=False) as handle:
        json.dump({'ANSIBLE_MODULE_ARGS': args}, handle)
    try:
        proc = subprocess.run([sys.executable, '-m', 'ansible_collections.omniroute.opencode.plugins.modules.api_key',
                               handle.name], capture_output=True, text=True, timeout=300, check=False,
                              env=dict(os.environ, PYTHONPATH=ROOT))
    finally:
        os.unlink(handle.name)
    result = json.loads(proc.stdout)
    record(result.get('key'), *(result.get('keys_by_label') or {}).values())
    return result


def fidelity():
    real = probe(URL, PASSWORD, prefix='fidelity-%s' % RUN)
    fake_server = omniroute_fake.FakeOmniRoute()
    try:
        fake = probe(fake_server.url, omniroute_fake.PASSWORD, prefix='fidelity-%s' % RUN)
    finally:
        fake_server.close()
    for step, obs in real:
        print('fidelity: 3.7.9 %-40s %s' % (step, json.dumps(obs, sort_keys=True)), flush=True)
    diffs = differences(real, fake)
    for line in diffs:
        print('fidelity: the fake differs: ' + line, flush=True)
    check(not diffs, 'the fake answers the probe sequence as 3.7.9 does (%d observations)' % len(real))


def paths():
    admin = Client(URL, password=PASSWORD)
    name = 'fid-%s-alice@laptop1' % RUN
    # An installed key kept on its mask alone.
    created = module({'name': name})
    installed = json.dumps({'provider': {'omniroute': {'options': {'apiKey': created['key']}}}})
    kept = module({'name': name, 'installed_configs': [installed], 'verify_installed': False})
    check(kept.get('kept') and not kept.get('changed') and not any(t['path'] == '/v1/models' for t in kept['timings']),
          'verify_installed false keeps a key on its mask, without asking /v1/models')
    # A rotation in check mode changes nothing.
    before = [k for k in admin.list_keys() if k.get('name') == name]
    rotated = module({'name': name, 'rotate': True}, check_mode=True)
    after = [k for k in admin.list_keys() if k.get('name') == name]
    check(rotated.get('rotated') and rotated.get('changed') and before == after and 'key' not in rotated,
          'rotate in check mode reports a rotation and changes nothing')
    # Two keys of one name, the second newer and held by nobody: the new key of a rotation cut
    # before its install (issue 20) - revoked, and the rotation made again; the installed key stays
    # valid until its replacement is installed.
    second = admin.create_key(name)
    record(second.get('key'))
    again = module({'name': name, 'installed_configs': [installed]})
    record(again.get('key'))
    check(again.get('rotated') and again.get('revoked') == [second['id']] and again.get('replaces') == [created['id']]
          and again.get('key') not in (None, created['key'], second['key']),
          'two keys of one name: the one nobody holds revoked, the rotation made again')
    left = sorted(k['id'] for k in admin.list_keys() if k.get('name') == name)
    gone = module({'name': name, 'state': 'absent'})
    check(len(left) == 2 and created['id'] in left and sorted(gone.get('revoked') or []) == left
          and not [k for k in admin.list_keys() if k.get('name') == name],
          'state absent revokes every key of the name')
    # One failing key of many: 3.7.9 refuses the expiry of one; the other is still created.
    held = admin.create_key(name + '-held')
    record(held.get('key'))
    many = module({'keys': [{'label': 'ann', 'name': name + '-ann'},
                            {'label': 'held', 'name': name + '-held', 'installed_key': held['key'],
                             'expires_at': '2031-01-31T00:00:00Z'}]})
    names = [k.get('name') for k in admin.list_keys()]
    check(many.get('failed') and many.get('msg', '').startswith('held: ') and 'does not accept a key expiry' in many['msg']
          and name + '-ann' in names and 'keys_by_label' not in many,
          'one failing key of many is named by its label, the others are done')
    for rec in admin.list_keys():
        if str(rec.get('name', '')).startswith(name):
            admin.delete_key(rec['id'])


if __name__ == '__main__':
    fidelity()
    paths()
    print('fidelity: %s' % ('passed' if not FAILS else '%d failed: %s' % (len(FAILS), '; '.join(FAILS))), flush=True)
    sys.exit(1 if FAILS else 0)
