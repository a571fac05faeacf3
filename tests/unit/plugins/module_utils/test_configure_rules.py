# -*- coding: utf-8 -*-
"""The rules of _configure.py that mutation testing showed no test pinned, as plain calls of its
functions on files under tmp_path: what preflight counts (blocks, backups, the room for one
restore, inodes, per file system) and says, the home and trusted-directory checks, apply's checks
before a write, its rollback and the words of its Failure, the results and diffs describe and
diff_views build, the catalog gateway_catalog and _managed_catalog choose, and what plan,
plan_managed_user, plan_managed_scope and plan_managed plan. Faults are injected with monkeypatch
into the file-system calls; every message is compared whole."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import types

import pytest

from ansible_collections.omniroute.opencode.plugins.module_utils import _configure as cfg
from ansible_collections.omniroute.opencode.plugins.module_utils import _gateway as gw
from ansible_collections.omniroute.opencode.plugins.module_utils import _keys, _managed, _redact
from ansible_collections.omniroute.opencode.plugins.module_utils import _opencode as oc
from ansible_collections.omniroute.opencode.plugins.module_utils._layout import Layout
from ansible_collections.omniroute.opencode.tests.support.files import SOMEONE_ELSE, Module, fmode, raises, write
from ansible_collections.omniroute.opencode.tests.support.http_server import CLOSED

WHO = 'user alice on laptop1'
KIB = 1024


def change(path, old, new, kind='config', name='omniroute', words=('edited',)):
    """A :class:`cfg.Change` of ``path`` (its own real path)."""
    return cfg.Change(str(path), str(path), old, new, False, list(words), kind, name)


def disk(monkeypatch, free, block=4096, inodes=None, device=7):
    """Every file system ``free`` bytes and ``inodes`` inodes free, in ``block``-byte blocks (one
    device, or ``device(directory)``)."""
    monkeypatch.setattr(cfg, 'free_space', lambda directory: (
        device(directory) if callable(device) else device, free, block, inodes))


def failure(call, *args, **kwargs):
    """The Failure ``call`` raises: ``(message, details)``."""
    with pytest.raises(cfg.Failure) as info:
        call(*args, **kwargs)
    return str(info.value), info.value.details


# --------------------------------------------------------------------------- preflight: room
def enospc(path, directory, needed, parts, free):
    return ('cannot write %s (%s): not enough free space in %s: %s needed (%s), %s free: no space left on device '
            '(ENOSPC); nothing was changed' % (path, WHO, directory, needed, parts, free))


@pytest.mark.parametrize('size, words', [
    (0, '0 bytes'), (1, '1 byte'), (2, '2 bytes'), (1023, '1023 bytes'), (1024, '1 KiB'), (1025, '2 KiB'), (2048, '2 KiB'),
    (2049, '3 KiB')])
def test_sizes_below_a_kib_are_bytes_and_the_rest_whole_kib_rounded_up(size, words):
    assert cfg._kib(size) == words


@pytest.mark.parametrize('text, size', [(None, 0), ('', 0), ('abc', 3), (u'\u00e9', 2), (u'\udcff', 1), (b'\xff\xfe', 2)])
def test_the_size_of_a_text_is_its_utf8_bytes_a_lone_surrogate_one(text, size):
    assert cfg._size(text) == size


@pytest.mark.parametrize('path, directory, under', [
    ('/home/a/x', '/home/a', True), ('/home/a/x', '/home/a/', True), ('/home/a', '/home/a', False),
    ('/home/ab/x', '/home/a', False), ('/home/a/../b/x', '/home/a', False), ('/x', '/', True)])
def test_under_means_inside_the_directory_not_the_directory_or_a_longer_name(path, directory, under):
    assert cfg._under(path, directory) is under


def test_one_new_file_needs_its_blocks(tmp_path, monkeypatch):
    """5000 bytes take two 4096-byte blocks: 8 KiB, more than the 4 KiB free."""
    path = tmp_path / 'opencode.json'
    disk(monkeypatch, 4 * KIB)
    policy = cfg.Policy(who=WHO)
    msg, details = failure(cfg.preflight, [change(path, None, 'x' * 5000)], policy)
    assert msg == enospc(path, tmp_path, '8 KiB', 'the new file', '4 KiB')
    assert details == dict(path=str(path), changed=False)
    disk(monkeypatch, 8 * KIB)
    assert cfg.preflight([change(path, None, 'x' * 5000)], policy) is None


@pytest.mark.parametrize('free, fails', [(32 * KIB - 1, True), (32 * KIB, False)])
def test_two_files_need_their_blocks_their_backups_and_room_to_restore_the_larger(tmp_path, monkeypatch, free, fails):
    """New: 2 blocks + 1; backups of the old texts: 1 + 2; one restore of the larger old text: 2.
    Eight 4096-byte blocks are 32 KiB; a byte less is too little (and still shown as 32 KiB)."""
    first, second = tmp_path / 'a.json', tmp_path / 'b.json'
    changes = [change(first, 'o' * 100, 'n' * 5000), change(second, 'o' * 5000, 'n' * 100)]
    disk(monkeypatch, free)
    policy = cfg.Policy(backup=True, who=WHO)
    if not fails:
        assert cfg.preflight(changes, policy) is None
        return
    msg, details = failure(cfg.preflight, changes, policy)
    assert msg == enospc(first, tmp_path, '32 KiB', 'the new files, their backups, room to restore one of them '
                                                    'if a later write fails', '32 KiB')
    assert details == dict(path=str(first), changed=False)


@pytest.mark.parametrize('backup, kind, old, needed, parts', [
    (True, 'config', 'o' * 10, '8 KiB', 'the new file, its backup'),
    (False, 'config', 'o' * 10, '4 KiB', 'the new file'),
    (True, 'state', 'o' * 10, '4 KiB', 'the new file'),
    (True, 'config', None, '4 KiB', 'the new file'),
])
def test_a_backup_is_counted_when_kept_for_an_existing_file_that_is_no_record(tmp_path, monkeypatch, backup, kind, old,
                                                                              needed, parts):
    path = tmp_path / 'opencode.json'
    disk(monkeypatch, 1)
    msg = failure(cfg.preflight, [change(path, old, 'n', kind=kind)], cfg.Policy(backup=backup, who=WHO))[0]
    assert msg == enospc(path, tmp_path, needed, parts, '1 byte')


def test_a_removal_or_a_new_mode_needs_no_room_but_makes_the_run_several_files(tmp_path, monkeypatch):
    """The removal needs nothing itself, yet with it the run is two files: one restore is counted."""
    path, gone, same = tmp_path / 'a.json', tmp_path / 'gone.json', tmp_path / 'same.json'
    disk(monkeypatch, 0)
    assert cfg.preflight([change(gone, 'old', None), change(same, 'x', 'x')], cfg.Policy(who=WHO)) is None
    msg = failure(cfg.preflight, [change(gone, 'old', None), change(path, 'o' * 10, 'n')], cfg.Policy(who=WHO))[0]
    assert msg == enospc(path, tmp_path, '8 KiB', 'the new file, room to restore one of them if a later write '
                                                  'fails', '0 bytes')


def test_an_unknown_free_space_is_no_reason_to_refuse(tmp_path, monkeypatch):
    monkeypatch.setattr(cfg, 'free_space', lambda directory: None)
    assert cfg.preflight([change(tmp_path / 'a.json', None, 'x' * 100000)], cfg.Policy(who=WHO)) is None


def test_each_file_system_is_counted_on_its_own(tmp_path, monkeypatch):
    """Two files of one block each on two devices fit one block each; on one device they do not."""
    one, two = tmp_path / 'one' / 'a.json', tmp_path / 'two' / 'b.json'
    changes = [change(one, None, 'x'), change(two, None, 'y')]
    disk(monkeypatch, 4096, device=lambda directory: directory)
    assert cfg.preflight(changes, cfg.Policy(who=WHO)) is None
    disk(monkeypatch, 4096)
    msg = failure(cfg.preflight, changes, cfg.Policy(who=WHO))[0]
    assert msg == enospc(one, tmp_path / 'one', '8 KiB', 'the new files', '4 KiB')


@pytest.mark.parametrize('inodes, fails', [(3, True), (4, False), (None, False)])
def test_new_files_and_backups_each_need_an_inode(tmp_path, monkeypatch, inodes, fails):
    first, second = tmp_path / 'a.json', tmp_path / 'b.json'
    changes = [change(first, 'o', 'n'), change(second, 'o', 'n')]
    disk(monkeypatch, 10 ** 9, inodes=inodes)
    policy = cfg.Policy(backup=True, who=WHO)
    if not fails:
        assert cfg.preflight(changes, policy) is None
        return
    msg, details = failure(cfg.preflight, changes, policy)
    assert msg == ('cannot write %s (%s): no free inodes left in %s (4 needed, 3 free): no space left on device '
                   '(ENOSPC); nothing was changed' % (first, WHO, tmp_path))
    assert details == dict(path=str(first), changed=False)


def test_nothing_to_write_is_no_check_at_all(monkeypatch):
    monkeypatch.setattr(cfg, 'directory_problem', raises(AssertionError('not to be called')))
    assert cfg.preflight([], cfg.Policy(home='/nonexistent/home', trusted=('/nonexistent',))) is None


# --------------------------------------------------------------------------- preflight: places
def test_a_missing_home_refuses_a_file_under_it_as_named_or_resolved(tmp_path):
    home = tmp_path / 'home'
    policy = cfg.Policy(who=WHO, home=str(home))
    msg, details = failure(cfg.preflight, [change(home / '.config' / 'opencode.json', None, '{}')], policy)
    assert msg == ("the home directory %s of %s does not exist (or is not a directory); create the account's home "
                   "first; nothing was changed" % (home, WHO))
    assert details == dict(path=str(home), changed=False)
    elsewhere = str(tmp_path / 'etc' / 'opencode.json')
    resolved = cfg.Change(elsewhere, str(home / 'real.json'), None, '{}', False, [], 'config', 'omniroute')
    assert failure(cfg.preflight, [resolved], policy)[0] == msg
    named = cfg.Change(str(home / 'link.json'), elsewhere, None, '{}', False, [], 'config', 'omniroute')
    assert failure(cfg.preflight, [named], policy)[0] == msg
    assert cfg.preflight([change(elsewhere, None, '{}')], policy) is None
    home.mkdir()
    assert cfg.preflight([change(home / 'opencode.json', None, '{}')], policy) is None


def test_a_home_that_is_a_file_is_no_home(tmp_path):
    home = write(tmp_path / 'home', '')
    msg = failure(cfg.preflight, [change(tmp_path / 'home' / 'x.json', None, '{}')], cfg.Policy(who=WHO, home=home))[0]
    assert msg.startswith('the home directory %s of %s does not exist' % (home, WHO))


def test_a_trusted_directory_others_may_write_in_is_refused_before_anything(tmp_path):
    directory = tmp_path / 'managed'
    directory.mkdir()
    os.chmod(str(tmp_path), 0o755)
    directory.chmod(0o777)
    policy = cfg.Policy(who=WHO, trusted=(str(directory),))
    msg, details = failure(cfg.preflight, [change(directory / 'opencode.json', None, '{}')], policy)
    assert msg == ('refusing to write the managed config in %s as root (%s): %s is writable by its group and '
                   'others (mode 0777): another account could put a symlink there and have root write where it '
                   'points; nothing was changed' % (directory, WHO, directory))
    assert details == dict(path=str(directory), changed=False)


def test_a_directory_that_cannot_hold_the_file_is_named(tmp_path):
    blocker = write(tmp_path / 'blocker', '')
    path = tmp_path / 'blocker' / 'opencode.json'
    msg, details = failure(cfg.preflight, [change(path, None, '{}')], cfg.Policy(who=WHO))
    assert msg == 'cannot write %s (%s): %s is not a directory; nothing was changed' % (path, WHO, blocker)
    assert details == dict(path=str(path), changed=False)


def test_a_removal_in_a_directory_that_cannot_be_written_is_refused_too(tmp_path):
    blocker = write(tmp_path / 'blocker', '')
    path = tmp_path / 'blocker' / 'gone.json'
    msg = failure(cfg.preflight, [change(path, 'old', None)], cfg.Policy(who=WHO))[0]
    assert msg == 'cannot write %s (%s): %s is not a directory; nothing was changed' % (path, WHO, blocker)


def test_without_who_the_running_user_is_named(tmp_path):
    blocker = write(tmp_path / 'blocker', '')
    path = tmp_path / 'blocker' / 'x.json'
    msg = failure(cfg.preflight, [change(path, None, '{}')], cfg.Policy())[0]
    assert msg == 'cannot write %s (%s): %s is not a directory; nothing was changed' % (path, cfg.where(), blocker)


# --------------------------------------------------------------------------- apply
EIO = OSError(5, 'Input/output error')


def rename_breaks(monkeypatch, *targets):
    """``os.rename`` to ``targets[0]`` fails with EIO, then the next rename to ``targets[1]``, and
    so on (a rename to another file in between goes through)."""
    real = os.rename
    left = [str(t) for t in targets]

    def rename(src, dst):
        if left and str(dst) == left[0]:
            left.pop(0)
            raise EIO
        return real(src, dst)

    monkeypatch.setattr(os, 'rename', rename)


def test_apply_writes_creates_removes_and_sets_modes_and_returns_the_backups(tmp_path):
    """The backup is kept for an edited file but not for the managed record; created directories
    get dir_mode; mode and owner of the policy go to every written file and to an unchanged one."""
    edited = write(tmp_path / 'edited.json', 'old\n', 0o600)
    record = write(tmp_path / 'record.json', 'r1\n', 0o600)
    gone = write(tmp_path / 'gone.json', 'bye\n')
    same = write(tmp_path / 'same.json', 'same\n', 0o600)
    made = tmp_path / 'new' / 'deeper' / 'made.json'
    changes = [change(edited, 'old\n', 'new\n'), change(record, 'r1\n', 'r2\n', kind='state'), change(gone, 'bye\n', None),
               change(same, 'same\n', 'same\n'), change(made, None, 'made\n')]
    policy = cfg.Policy(backup=True, who=WHO, mode=0o644, owner=(4242, 4343), dir_mode=0o750)
    backups = cfg.apply(Module(), changes, policy)
    assert list(backups) == [edited] and open(backups[edited]).read() == 'old\n'
    assert open(edited).read() == 'new\n' and open(record).read() == 'r2\n' and made.read_text() == 'made\n'
    assert not os.path.exists(gone)
    for path in (edited, record, same, made):
        st = os.stat(str(path))
        assert (fmode(path), st.st_uid, st.st_gid) == (0o644, 4242, 4343)
    assert fmode(tmp_path / 'new') == 0o750 and fmode(tmp_path / 'new' / 'deeper') == 0o750
    assert sorted(os.listdir(str(tmp_path))) == sorted(['edited.json', os.path.basename(backups[edited]), 'record.json',
                                                        'same.json', 'new'])


def test_apply_without_policy_mode_keeps_the_files_mode_and_owner(tmp_path):
    path = write(tmp_path / 'opencode.json', 'old\n', 0o640)
    os.chown(path, 4242, 4343)
    assert cfg.apply(Module(), [change(path, 'old\n', 'new\n')], cfg.Policy(who=WHO)) == {}
    st = os.stat(path)
    assert (open(path).read(), fmode(path), st.st_uid, st.st_gid) == ('new\n', 0o640, 4242, 4343)


def test_apply_gives_created_directories_the_policy_owner(tmp_path):
    path = tmp_path / 'a' / 'b' / 'opencode.json'
    cfg.apply(Module(), [change(path, None, '{}')], cfg.Policy(who=WHO, dir_owner=(4242, 4343)))
    for directory in (tmp_path / 'a', tmp_path / 'a' / 'b'):
        st = os.stat(str(directory))
        assert (st.st_uid, st.st_gid, fmode(directory)) == (4242, 4343, 0o700)
    assert os.stat(str(path)).st_uid == 0


def test_a_created_directory_that_cannot_be_given_its_owner_fails_the_write(tmp_path, monkeypatch):
    path = tmp_path / 'a' / 'b' / 'opencode.json'
    monkeypatch.setattr(os, 'chown', raises(OSError(1, 'Operation not permitted')))
    msg, details = failure(cfg.apply, Module(), [change(path, None, '{}')], cfg.Policy(who=WHO, dir_owner=(1, 1)))
    assert msg == ('cannot write %s (%s): cannot set the owner of directory %s: operation not permitted (EPERM); '
                   'nothing was changed' % (path, WHO, tmp_path / 'a'))
    assert details == dict(path=str(path), changed=False)
    assert os.listdir(str(tmp_path)) == []  # true to its words: the directories it made are gone


@pytest.mark.parametrize('rmdir_fails', [False, True])
def test_a_trusted_directory_made_unsafe_by_the_directories_created_fails_the_write(tmp_path, monkeypatch, rmdir_fails):
    """The trusted directories are checked again once the missing ones are made (here the
    trusted one is below a directory the run creates with mode 0777). The Failure stands even
    when the directories it made cannot be removed again."""
    os.chmod(str(tmp_path), 0o755)
    if rmdir_fails:
        monkeypatch.setattr(os, 'rmdir', raises(OSError(39, 'Directory not empty')))
    directory = tmp_path / 'etc' / 'opencode'
    path = directory / 'opencode.json'
    policy = cfg.Policy(who=WHO, dir_mode=0o777, trusted=(str(directory),))
    old = os.umask(0)
    try:
        msg, details = failure(cfg.apply, Module(), [change(path, None, '{}')], policy)
    finally:
        os.umask(old)
    assert msg == ('cannot write %s (%s): %s is writable by its group and others (mode 0777): another account could '
                   'put a symlink there and have root write where it points; nothing was changed'
                   % (path, WHO, directory))
    assert details == dict(path=str(path), changed=False)
    assert not os.path.exists(str(path))
    assert os.listdir(str(tmp_path)) == (['etc'] if rmdir_fails else [])


@pytest.mark.parametrize('now, conflict', [('saved by someone\n', True), (None, True), ('dir', False)])
def test_a_file_changed_since_the_plan_stops_the_run_before_any_write(tmp_path, now, conflict):
    first = write(tmp_path / 'first.json', 'one\n')
    second = tmp_path / 'second.json'
    if now == 'dir':
        second.mkdir()
    elif now is not None:
        write(second, now)
    changes = [change(first, 'one\n', 'ONE\n'), change(second, 'two\n', 'TWO\n')]
    msg, details = failure(cfg.apply, Module(), changes, cfg.Policy(who=WHO))
    assert msg.startswith('cannot write %s (%s): ' % (second, WHO)) and msg.endswith('; nothing was changed')
    if conflict:
        assert msg == ('cannot write %s (%s): it changed while the module was running (saved by someone else?); that '
                       'change is kept: run the module again; nothing was changed' % (second, WHO))
        assert details == dict(path=str(second), changed=False, conflict=True)
    else:
        assert details == dict(path=str(second), changed=False)
    assert open(first).read() == 'one\n'


def test_a_file_planned_as_missing_that_appeared_stops_the_run(tmp_path):
    path = write(tmp_path / 'opencode.json', 'theirs\n')
    details = failure(cfg.apply, Module(), [change(path, None, 'mine\n')], cfg.Policy(who=WHO))[1]
    assert details == dict(path=path, changed=False, conflict=True) and open(path).read() == 'theirs\n'


def test_a_failed_write_after_others_rolls_them_back_and_says_what_was_restored(tmp_path, monkeypatch):
    edited = write(tmp_path / 'edited.json', 'old\n', 0o640)
    also = write(tmp_path / 'also.json', 'also\n', 0o640)
    same = write(tmp_path / 'same.json', 'same\n', 0o640)
    made = tmp_path / 'new' / 'deeper' / 'made.json'
    last = write(tmp_path / 'last.json', 'last\n')
    changes = [change(edited, 'old\n', 'new\n'), change(also, 'also\n', 'ALSO\n'), change(same, 'same\n', 'same\n'),
               change(made, None, 'made\n'), change(last, 'last\n', 'LAST\n')]
    rename_breaks(monkeypatch, last)
    msg, details = failure(cfg.apply, Module(), changes, cfg.Policy(backup=True, who=WHO, mode=0o600, owner=(4242, 4343)))
    (backup,) = [os.path.join(str(tmp_path), n) for n in os.listdir(str(tmp_path)) if n.startswith('edited.json.')]
    (backup2,) = [os.path.join(str(tmp_path), n) for n in os.listdir(str(tmp_path)) if n.startswith('also.json.')]
    assert msg == ('cannot write %s (%s): input/output error (EIO); %s was left as it was. It was not the first write '
                   'of the run: rolled back %s, %s, %s, %s (earlier content, mode and owner restored); backups kept: '
                   '%s' % (last, WHO, last, edited, also, same, made, ', '.join(sorted([backup, backup2]))))
    assert details == dict(path=last, changed=True, written=[edited, also, same, str(made)],
                           restored=[edited, also, same, str(made)], not_restored=[],
                           backup_files={edited: backup, also: backup2})
    for path, text in ((edited, 'old\n'), (same, 'same\n')):
        st = os.stat(path)
        assert (open(path).read(), fmode(path), st.st_uid, st.st_gid) == (text, 0o640, 0, 0)
    assert open(last).read() == 'last\n' and open(backup).read() == 'old\n'
    assert not (tmp_path / 'new').exists()


def test_a_rollback_leaves_a_created_directory_that_is_no_longer_empty(tmp_path, monkeypatch):
    made = tmp_path / 'new' / 'deeper' / 'made.json'
    last = write(tmp_path / 'last.json', 'last\n')
    real = os.rename

    def rename(src, dst):
        if str(dst) == last:
            write(tmp_path / 'new' / 'theirs', '')
            raise EIO
        return real(src, dst)

    monkeypatch.setattr(os, 'rename', rename)
    details = failure(cfg.apply, Module(), [change(made, None, 'made\n'), change(last, 'last\n', 'LAST\n')],
                      cfg.Policy(who=WHO))[1]
    assert details['restored'] == [str(made)]
    assert sorted(os.listdir(str(tmp_path / 'new'))) == ['theirs']


@pytest.mark.parametrize('broken, tail', [
    ('first', 'rolled back {second} (earlier content, mode and owner restored); could not roll back {first} '
              '(input/output error (EIO)), which holds the new content'),
    ('both', 'could not roll back {first} (input/output error (EIO)), {second} (input/output error (EIO)), which '
             'hold the new content'),
])
def test_what_could_not_be_rolled_back_is_named(tmp_path, monkeypatch, broken, tail):
    first = write(tmp_path / 'first.json', 'one\n')
    second = write(tmp_path / 'second.json', 'two\n')
    last = write(tmp_path / 'last.json', 'last\n')
    # The last write fails; then the rollback's own writes (second's first, then first's) fail as asked.
    rename_breaks(monkeypatch, last, *((second, first) if broken == 'both' else (first,)))
    changes = [change(first, 'one\n', 'ONE\n'), change(second, 'two\n', 'TWO\n'), change(last, 'last\n', 'LAST\n')]
    msg, details = failure(cfg.apply, Module(), changes, cfg.Policy(who=WHO))
    assert msg == ('cannot write %s (%s): input/output error (EIO); %s was left as it was. It was not the first write '
                   'of the run: ' % (last, WHO, last) + tail.format(first=first, second=second))
    failed = [first, second] if broken == 'both' else [first]
    assert details == dict(path=last, changed=True, written=[first, second], backup_files={},
                           restored=[] if broken == 'both' else [second], not_restored=failed)
    assert open(first).read() == 'ONE\n' and open(last).read() == 'last\n'


def test_a_rollback_does_not_overwrite_what_someone_saved_meanwhile(tmp_path, monkeypatch):
    first = write(tmp_path / 'first.json', 'one\n')
    last = write(tmp_path / 'last.json', 'last\n')
    real = os.rename

    def rename(src, dst):
        if str(dst) == last:
            write(tmp_path / 'first.json', 'theirs\n')
            raise EIO
        return real(src, dst)

    monkeypatch.setattr(os, 'rename', rename)
    msg, details = failure(cfg.apply, Module(), [change(first, 'one\n', 'ONE\n'), change(last, 'last\n', 'LAST\n')],
                           cfg.Policy(who=WHO))
    assert msg == ('cannot write %s (%s): input/output error (EIO); %s was left as it was. It was not the first write '
                   'of the run: could not roll back %s (it changed while the module was running (saved by someone '
                   'else?); that change is kept: run the module again), which holds the new content'
                   % (last, WHO, last, first))
    assert details['not_restored'] == [first] and open(first).read() == 'theirs\n'


def test_a_failed_removal_after_a_write_is_a_rollback_too(tmp_path, monkeypatch):
    first = write(tmp_path / 'first.json', 'one\n')
    gone = write(tmp_path / 'gone.json', 'bye\n')
    monkeypatch.setattr(os, 'unlink', raises(EIO))
    msg, details = failure(cfg.apply, Module(), [change(first, 'one\n', 'ONE\n'), change(gone, 'bye\n', None)],
                           cfg.Policy(who=WHO))
    assert msg == ('cannot write %s (%s): input/output error (EIO); %s was left as it was. It was not the first write '
                   'of the run: rolled back %s (earlier content, mode and owner restored)' % (gone, WHO, gone, first))
    assert details['changed'] is True and open(first).read() == 'one\n' and open(gone).read() == 'bye\n'


def test_the_first_write_failing_removes_the_directories_it_made_and_changes_nothing(tmp_path, monkeypatch):
    path = tmp_path / 'a' / 'b' / 'opencode.json'
    other = write(tmp_path / 'other.json', 'x\n')
    rename_breaks(monkeypatch, path)
    msg, details = failure(cfg.apply, Module(), [change(path, None, '{}'), change(other, 'x\n', 'y\n')],
                           cfg.Policy(who=WHO))
    assert msg == 'cannot write %s (%s): input/output error (EIO); nothing was changed' % (path, WHO)
    assert details == dict(path=str(path), changed=False)
    assert sorted(os.listdir(str(tmp_path))) == ['other.json'] and open(other).read() == 'x\n'


def test_a_conflict_at_the_write_itself_is_flagged(tmp_path, monkeypatch):
    """The file is saved by someone else between the checks and the rename."""
    path = write(tmp_path / 'opencode.json', 'old\n')
    real = os.rename

    def rename(src, dst):
        write(tmp_path / 'opencode.json', 'theirs\n')
        return real(src, dst)

    monkeypatch.setattr(os, 'rename', rename)
    first = write(tmp_path / 'first.json', 'one\n')
    details = failure(cfg.apply, Module(), [change(first, 'one\n', 'ONE\n'), change(path, 'old\n', 'new\n')],
                      cfg.Policy(who=WHO))[1]
    assert details['conflict'] is True and details['changed'] is True


def test_stale_temporary_files_go_last(tmp_path):
    path = write(tmp_path / 'opencode.json', 'old\n')
    stale = write(tmp_path / '.opencode.json.1.tmp', 'half')
    assert cfg.apply(Module(), [change(path, 'old\n', 'new\n')], cfg.Policy(who=WHO, stale=(stale,))) == {}
    assert os.listdir(str(tmp_path)) == ['opencode.json']


@pytest.mark.parametrize('written', [True, False])
def test_stale_files_that_cannot_be_removed_fail_the_run_and_say_what_was_written(tmp_path, monkeypatch, written):
    path = write(tmp_path / 'opencode.json', 'old\n')
    stale = str(tmp_path / '.opencode.json.1.tmp')
    monkeypatch.setattr(os, 'unlink', raises(EIO))
    changes = [change(path, 'old\n', 'new\n')] if written else []
    msg, details = failure(cfg.apply, Module(), changes, cfg.Policy(who=WHO, stale=(stale,)))
    assert msg == 'cannot tidy up (%s): cannot remove %s: input/output error (EIO); %s' % (
        WHO, stale, 'the planned files were written' if written else 'nothing else was changed')
    assert details == dict(changed=written, written=[path] if written else [], backup_files={})


# --------------------------------------------------------------------------- managed scope: a user's side
USER_KEY = 'sk-user-key-123456'
STALE = '{"provider": {"omniroute": {"models": {}}, "x": {}}}\n'
CLEANED = '{"$schema": "https://opencode.ai/config.json", "provider": {"x": {}}}\n'
CLEANED_WORDS = ['removed provider.omniroute (OpenCode would merge it into the managed entry)', 'added $schema']
OTHER = '{"other": {"type": "api", "key": "k2"}}\n'


def user_files(home, auth=None, config=STALE):
    """A user's auth.json (``auth``, None: none) and global opencode.json; their paths."""
    auth_path = str(home / '.local' / 'share' / 'opencode' / 'auth.json')
    conf = str(home / '.config' / 'opencode' / 'opencode.json')
    if auth is not None:
        write(home / '.local' / 'share' / 'opencode' / 'auth.json', auth, 0o600)
    if config is not None:
        write(home / '.config' / 'opencode' / 'opencode.json', config)
    return auth_path, conf


def test_a_managed_user_gets_the_key_stored_and_the_stale_copy_removed(tmp_path):
    """present is the default; the credential store is first, the user's configs follow; every
    config read is collected in ``texts``."""
    auth, conf = user_files(tmp_path, OTHER)
    texts = {}
    assert cfg.plan_managed_user({'HOME': str(tmp_path)}, 'omniroute', USER_KEY, texts=texts) == [
        cfg.Change(auth, auth, OTHER, '{"other": {"type": "api", "key": "k2"}, "omniroute": {"type": "api", "key": '
                   '"%s"}}\n' % USER_KEY, True, ['stored the key for omniroute'], 'auth', 'omniroute'),
        cfg.Change(conf, conf, STALE, CLEANED, False, CLEANED_WORDS, 'config', 'omniroute')]
    assert texts == {conf: STALE}


@pytest.mark.parametrize('api_key', [USER_KEY, None])
def test_a_user_leaving_managed_scope_loses_the_key_whatever_key_is_given(tmp_path, api_key):
    stored = '{"other": {"type": "api", "key": "k2"}, "omniroute": {"type": "api", "key": "%s"}}\n' % USER_KEY
    auth, conf = user_files(tmp_path, stored, config=None)
    assert cfg.plan_managed_user({'HOME': str(tmp_path)}, 'omniroute', api_key, present=False) == [
        cfg.Change(auth, auth, stored, OTHER, True, ['removed the key for omniroute'], 'auth', 'omniroute')]


@pytest.mark.parametrize('auth, present', [
    ('{"omniroute": {"type": "api", "key": "%s"}}\n' % USER_KEY, True), ('', False), ('{}', False), (None, False)])
def test_a_credential_store_that_is_already_right_is_no_change(tmp_path, auth, present):
    user_files(tmp_path, auth, config=None)
    assert cfg.plan_managed_user({'HOME': str(tmp_path)}, 'omniroute', USER_KEY, present=present) == []


def test_the_developers_own_store_is_not_planned_even_when_missing(tmp_path):
    """keep_key: no auth.json is written (not even an empty key) and none is read."""
    user_files(tmp_path, None, config=None)
    assert cfg.plan_managed_user({'HOME': str(tmp_path)}, 'omniroute', None, keep_key=True) == []
    auth = user_files(tmp_path, '{not json', config=None)[0]
    assert cfg.plan_managed_user({'HOME': str(tmp_path)}, 'omniroute', None, keep_key=True, auth_path=auth) == []


@pytest.mark.parametrize('api_key', [None, '', '  ', '{env:OMNIROUTE_KEY}', ['sk-in-a-list']])
def test_managed_scope_needs_a_literal_key_for_a_present_user(tmp_path, api_key):
    msg = failure(cfg.plan_managed_user, {'HOME': str(tmp_path)}, 'omniroute', api_key, who=WHO)[0]
    assert msg == "managed scope needs each user's literal key for their credential store (%s)" % WHO
    msg = failure(cfg.plan_managed_user, {'HOME': str(tmp_path)}, 'omniroute', api_key)[0]
    assert msg == "managed scope needs each user's literal key for their credential store (%s)" % cfg.where()


def test_a_managed_users_unreadable_files_are_named_with_the_user(tmp_path):
    auth, conf = user_files(tmp_path, '{not json', config='{"provider": [}')
    msg, details = failure(cfg.plan_managed_user, {'HOME': str(tmp_path)}, 'omniroute', USER_KEY, who=WHO)
    assert msg.startswith('cannot edit %s (%s): ' % (auth, WHO)) and details['path'] == auth
    write(tmp_path / '.local' / 'share' / 'opencode' / 'auth.json', '{}')
    msg, details = failure(cfg.plan_managed_user, {'HOME': str(tmp_path)}, 'omniroute', USER_KEY, who=WHO)
    assert msg.startswith('cannot edit %s (%s): ' % (conf, WHO)) and details['path'] == conf
    os.unlink(auth)
    os.mkdir(auth)
    msg, details = failure(cfg.plan_managed_user, {'HOME': str(tmp_path)}, 'omniroute', USER_KEY, who=WHO)
    assert msg.startswith('cannot edit %s (%s): ' % (auth, WHO)) and details == dict(path=auth)


@pytest.mark.parametrize('who', [WHO, None])
def test_a_user_side_plan_names_the_user_in_its_failures(tmp_path, who):
    params = dict(name='omniroute', state='present', api_key=None, auth_path=None)
    msg = failure(cfg.plan_managed_scope, params, {'HOME': str(tmp_path)}, who=who)[0]
    assert msg == "managed scope needs each user's literal key for their credential store (%s)" % (who or cfg.where())
    auth = user_files(tmp_path, None, config=None)[0]
    os.makedirs(auth)
    msg = failure(cfg.plan_managed_scope, dict(params, key_source='user'), {'HOME': str(tmp_path)}, who=who)[0]
    assert msg.startswith('cannot edit %s (%s): ' % (auth, who or cfg.where()))


def test_a_user_side_plan_is_a_user_plan_without_entry_or_target(tmp_path):
    auth, conf = user_files(tmp_path, None)
    # A temporary file a killed run (no such process) left next to the config.
    stale = write(tmp_path / '.config' / 'opencode' / '.opencode.json.omniroute-999999999-x1.tmp', 'half')
    params = dict(name='omniroute', state='present', api_key=USER_KEY, auth_path=None)
    new_auth = '{\n  "omniroute": {\n    "type": "api",\n    "key": "%s"\n  }\n}\n' % USER_KEY
    got = cfg.plan_managed_scope(params, {'HOME': str(tmp_path)}, who=WHO)
    assert got == cfg.UserPlan(
        None, None, [cfg.Change(auth, auth, None, new_auth, True, ['stored the key for omniroute'], 'auth', 'omniroute'),
                     cfg.Change(conf, conf, STALE, CLEANED, False, CLEANED_WORDS, 'config', 'omniroute')],
        None, [], auth, True, (stale,), None, None, str(tmp_path), {conf: STALE})


@pytest.mark.parametrize('auth, user_key, warnings', [
    ('{"omniroute": {"type": "api", "key": "%s"}}' % USER_KEY, 'present', []),
    ('{"omniroute": {"type": "api", "key": "{env:K}"}}', 'missing', [
        'no key for provider omniroute in {auth}: run `opencode auth login`, choose omniroute and paste the OmniRoute key']),
    (None, 'missing', ['no key for provider omniroute in {auth}: run `opencode auth login`, choose omniroute and paste '
                       'the OmniRoute key']),
])
def test_the_developers_own_key_is_reported_present_or_missing_never_planned(tmp_path, auth, user_key, warnings):
    path = user_files(tmp_path, auth, config=None)[0]
    params = dict(name='omniroute', state='present', api_key=None, auth_path=None, key_source='user')
    got = cfg.plan_managed_scope(params, {'HOME': str(tmp_path)}, who=WHO)
    assert (got.changes, got.user_key, got.warnings, got.auth_changed, got.auth_path) == (
        [], user_key, [w.replace('{auth}', path) for w in warnings], False, path)


def test_an_absent_developer_with_their_own_key_loses_it_and_is_not_asked_about_it(tmp_path):
    stored = '{"other": {"type": "api", "key": "k2"}, "omniroute": {"type": "api", "key": "%s"}}\n' % USER_KEY
    path = user_files(tmp_path, stored, config=None)[0]
    params = dict(name='omniroute', state='absent', api_key=None, auth_path=path, key_source='user')
    got = cfg.plan_managed_scope(params, {'HOME': str(tmp_path / 'elsewhere')}, who=WHO)
    assert (got.changes, got.user_key, got.warnings, got.auth_changed, got.auth_path) == (
        [cfg.Change(path, path, stored, OTHER, True, ['removed the key for omniroute'], 'auth', 'omniroute')], None, [],
        True, path)


# --------------------------------------------------------------------------- diffs
SECRET = 'sk-unit-diff-secret-9f8e7d'


def view(*lines):
    return ''.join(line + '\n' for line in lines)


def test_a_diff_shows_what_the_module_manages_in_file_order_with_credentials_masked():
    """The entry (a change without a provider id is the default one's) and the top-level settings
    that changed (with ``extra_keys``), as 2-space JSON that keeps non-ASCII text; the credential
    store shows only the provider's credential; a removed or new file is an empty side; a file that
    cannot be decoded is not shown; the record and a change of mode only have no diff; a profile is
    shown whole; the label prefixes each header; a secret is masked wherever it appears."""
    changes = [
        change('/m/same.json', '{}', '{}'),
        cfg.Change('/c/opencode.json', '/c/opencode.json',
                   '{"provider": {"omniroute": {"npm": "x"}, "other": {}}, "share": "a", "theme": "t"}',
                   u'{"provider": {"omniroute": {"npm": "y", "name": "Omni \u00e9"}, "other": {}}, "share": "b", '
                   u'"theme": "u", "model": "omniroute/auto"}', False, [], 'config', None),
        change('/a/auth.json', None, '{"omniroute": {"type": "api", "key": "%s"}}' % SECRET, kind='auth'),
        change('/c/gone.json', '{"provider": {"omniroute": {}}}', None),
        change('/c/bad.json', '{not json', '{}'),
        change('/m/state.json', None, '{"a": 1}', kind='state'),
        change('/p/%s.mobileconfig' % SECRET, None, '<plist>%s</plist>\n' % SECRET, kind='profile'),
    ]
    label = 'alice@laptop1: '

    def entry(path, before, after):
        return dict(before_header=label + path, after_header=label + path, before=before, after=after)

    assert cfg.diff_views(changes, [SECRET], 'alice@laptop1', extra_keys=('share',)) == [
        entry('/c/opencode.json',
              view('{', '  "provider": {', '    "omniroute": {', '      "npm": "x"', '    }', '  },', '  "share": "a"', '}'),
              view('{', '  "provider": {', '    "omniroute": {', '      "npm": "y",', u'      "name": "Omni \u00e9"', '    }',
                   '  },', '  "share": "b",', '  "model": "omniroute/auto"', '}')),
        entry('/a/auth.json', '',
              view('{', '  "omniroute": {', '    "type": "api",', '    "key": "********"', '  }', '}')),
        entry('/c/gone.json', view('{', '  "provider": {', '    "omniroute": {}', '  }', '}'), ''),
        entry('/c/bad.json', '(not shown)\n', '(not shown)\n'),
        entry('/p/********.mobileconfig', '', '<plist>********</plist>\n'),
    ]


def test_without_a_label_or_extra_keys_a_diff_names_the_file_and_shows_no_other_setting():
    old = '{"provider": {"omniroute": {"npm": "x"}}, "share": "a"}'
    new = '{"provider": {"omniroute": {"npm": "x"}}, "share": "b"}'
    same = view('{', '  "provider": {', '    "omniroute": {', '      "npm": "x"', '    }', '  }', '}')
    assert cfg.diff_views([change('/c/opencode.json', old, new)], []) == [dict(
        before_header='/c/opencode.json', after_header='/c/opencode.json', before=same, after=same)]


def test_a_removed_profile_is_an_empty_after():
    assert cfg.diff_views([change('/p/x.mobileconfig', '<plist/>\n', None, kind='profile')], []) == [dict(
        before_header='/p/x.mobileconfig', after_header='/p/x.mobileconfig', before='<plist/>\n', after='')]


# --------------------------------------------------------------------------- the catalog from the gateway
GW_KEY = 'sk-unit-gateway-5d4c3b2a'
URL = 'http://gw.example.com:20128/v1/models'
TARGET = '/nonexistent/opencode.json'
CURRENT = '{"provider": {"omniroute": {"models": {"kept-1": {}, "kept-2": {}}}}}'


def gw_params(**more):
    params = dict(cfg.PARAM_DEFAULTS, base_url='http://gw.example.com:20128', api_key=GW_KEY, catalog='gateway')
    params.update(more)
    return params


def gateway(monkeypatch, outcome='ok', models=(), cause=None, warnings=(), status=200):
    """The gateway answers ``outcome``; returns the list of the requests made."""
    asked = []

    def fetch_models(base_url, key, timeout=None, validate_certs=True):
        asked.append((base_url, key, timeout, validate_certs))
        return gw.Answer(URL, outcome, status, [dict(m) for m in models], cause, 'a list', 0.25, list(warnings))

    monkeypatch.setattr(gw, 'fetch_models', fetch_models)
    return asked


def test_the_gateways_catalog_is_pinned_models_then_every_offered_one_sorted(monkeypatch):
    asked = gateway(monkeypatch, models=[{'id': 'm2'}, {'id': 'm1'}], warnings=['dropped a bad model'])
    params = gw_params(models=['auto'], timeout=7, validate_certs=False)
    got = cfg.gateway_catalog(params, {}, TARGET, None, WHO)
    assert got == (dict(params, models=[{'id': 'auto', 'name': 'auto'}, {'id': 'm1', 'name': 'm1'}, {'id': 'm2', 'name': 'm2'}]),
                   False, dict(source='gateway', url=URL, status=200, seconds=0.25, offered=2), ['dropped a bad model'])
    assert asked == [('http://gw.example.com:20128/v1', GW_KEY, 7, False)]


def test_without_timeout_or_validate_certs_the_defaults_are_used(monkeypatch):
    asked = gateway(monkeypatch, models=[{'id': 'm1'}])
    params = dict(gw_params(timeout=None))
    del params['validate_certs']
    cfg.gateway_catalog(params, {}, TARGET, None, WHO)
    assert asked == [('http://gw.example.com:20128/v1', GW_KEY, gw.DEFAULT_TIMEOUT, True)]


def test_include_and_exclude_choose_among_the_offered_models(monkeypatch):
    gateway(monkeypatch, models=[{'id': 'gpt-a'}, {'id': 'gpt-b'}, {'id': 'claude-c'}])
    got = cfg.gateway_catalog(gw_params(catalog_include=['gpt-*'], catalog_exclude=['*-b']), {}, TARGET, None, WHO)
    assert got[0]['models'] == [{'id': 'gpt-a', 'name': 'gpt-a'}]


def test_a_gateway_offering_nothing_that_passes_is_refused(monkeypatch):
    gateway(monkeypatch, models=[{'id': 'gpt-a'}])
    msg, details = failure(cfg.gateway_catalog, gw_params(catalog_exclude=['*']), {}, TARGET, None, WHO)
    assert msg == ('the gateway at %s offers no chat model to the key of %s that passes catalog_include/catalog_exclude, '
                   'and models is empty; %s was left untouched' % (URL, WHO, TARGET))
    assert details == dict(path=TARGET)


@pytest.mark.parametrize('outcome, msg', [
    ('rejected', 'the gateway at {url} rejected the key of {who} (HTTP 401); {target} was left untouched. Create the key '
                 'in the OmniRoute dashboard (Dashboard -> API Manager), or issue one with omniroute.opencode.api_key'),
    ('bad', 'the gateway at {url} gave no model list for {who} (HTTP 401); check base_url (it must be the address '
            'OpenCode calls, ending in one /v1); {target} was left untouched'),
])
def test_a_gateway_that_refuses_or_gives_no_list_fails_the_plan(monkeypatch, outcome, msg):
    gateway(monkeypatch, outcome, cause='HTTP 401', status=401)
    got, details = failure(cfg.gateway_catalog, gw_params(), {}, TARGET, CURRENT, WHO)
    assert got == msg.format(url=URL, who=WHO, target=TARGET) and details == dict(path=TARGET)


OFFLINE = 'connection refused'
NO_ENV = ('the key is {env:OMNI_KEY} and OMNI_KEY is not set in the environment the module runs in (OpenCode reads it '
          "from the developer's shell)")


@pytest.mark.parametrize('offline', [True, False])
def test_an_unreachable_catalog_keeps_the_current_one_with_a_warning(monkeypatch, offline):
    gateway(monkeypatch, gw.OFFLINE, cause=OFFLINE, status=None)
    params = gw_params(api_key=GW_KEY if offline else '{env:OMNI_KEY}')
    got = cfg.gateway_catalog(params, {}, TARGET, CURRENT, WHO)
    what, cause = ('cannot be fetched (gateway offline)', OFFLINE) if offline else ('cannot be fetched', NO_ENV)
    info = dict(source='kept', url=URL, status=None, cause=cause)
    if offline:
        info['seconds'] = 0.25
    assert got == (dict(params, models=['kept-1', 'kept-2']), True, info, [
        'the model catalog for %s %s from %s: %s; kept the current catalog of provider.omniroute in %s'
        % (WHO, what, URL, cause, TARGET)])


@pytest.mark.parametrize('text', [None, '', '{"provider": {"omniroute": {"models": {}}}}', '{"provider": {"omniroute": '
                                  '{"models": ["a"]}}}', '{not json'])
def test_without_a_current_catalog_the_given_models_are_written_with_a_warning(monkeypatch, text):
    gateway(monkeypatch, gw.OFFLINE, cause=OFFLINE, status=None)
    params = gw_params(models=['auto'])
    assert cfg.gateway_catalog(params, {}, TARGET, text, WHO) == (
        params, False, dict(source='models', url=URL, status=None, seconds=0.25, cause=OFFLINE),
        ['the model catalog for %s cannot be fetched (gateway offline) from %s: %s; wrote the ids given in models to %s'
         % (WHO, URL, OFFLINE, TARGET)])
    msg, details = failure(cfg.gateway_catalog, gw_params(), {}, TARGET, text, WHO)
    assert msg == ('the model catalog for %s cannot be fetched (gateway offline) from %s: %s; %s has no catalog yet and '
                   'models is empty, so there is nothing to write' % (WHO, URL, OFFLINE, TARGET))
    assert details == dict(path=TARGET)


def test_catalog_offline_fail_fails_even_with_a_current_catalog(monkeypatch):
    gateway(monkeypatch, gw.OFFLINE, cause=OFFLINE, status=None)
    msg, details = failure(cfg.gateway_catalog, gw_params(catalog_offline='fail', api_key='{env:OMNI_KEY}'), {},
                           TARGET, CURRENT, WHO)
    assert msg == ('the model catalog for %s cannot be fetched from %s: %s; catalog_offline=fail, so %s was left '
                   'untouched' % (WHO, URL, NO_ENV, TARGET))
    assert details == dict(path=TARGET)


def test_the_key_is_found_as_opencode_would_find_it(tmp_path, home, monkeypatch):
    """{env:} from the user's environment; {file:~/...} in the environment's HOME, else the
    process's; a relative {file:} next to the config."""
    asked = gateway(monkeypatch, models=[{'id': 'm1'}])
    write(tmp_path / 'theirs' / 'key', 'sk-unit-from-their-home-1\n')
    write(home / 'key', 'sk-unit-from-my-home-22\n')
    write(tmp_path / 'conf' / 'key.txt', 'sk-unit-next-to-config-3\n')
    target = str(tmp_path / 'conf' / 'opencode.json')
    for api_key, environ in (('{env:OMNI_KEY}', {'OMNI_KEY': 'sk-unit-from-env-0'}),
                             ('{file:~/key}', {'HOME': str(tmp_path / 'theirs')}), ('{file:~/key}', {}),
                             ('{file:key.txt}', {})):
        cfg.gateway_catalog(gw_params(api_key=api_key), environ, target, None, WHO)
    assert [key for _url, key, _t, _v in asked] == ['sk-unit-from-env-0', 'sk-unit-from-their-home-1',
                                                    'sk-unit-from-my-home-22', 'sk-unit-next-to-config-3']


def test_a_key_to_be_made_plans_with_the_current_or_given_catalog_and_asks_nothing(monkeypatch):
    asked = gateway(monkeypatch)
    params = gw_params(api_key=_keys.CHECK_MODE_KEY)
    info = dict(source='pending', url=URL, status=None, cause=gw.KEY_TO_BE_MADE)
    assert cfg.gateway_catalog(params, {}, TARGET, CURRENT, WHO) == (
        dict(params, models=['kept-1', 'kept-2']), True, info, [])
    assert cfg.gateway_catalog(params, {}, TARGET, None, WHO) == (
        dict(params, models=['(the models offered to the new key)']), False, info, [])
    pinned = dict(params, models=['auto'])
    assert cfg.gateway_catalog(pinned, {}, TARGET, None, WHO) == (pinned, False, info, [])
    assert asked == []


def test_an_invalid_base_url_is_refused_in_the_words_of_the_check():
    msg, details = failure(cfg.gateway_catalog, gw_params(base_url='ftp://x'), {}, TARGET, None, WHO)
    assert msg == "base_url must be an http:// or https:// URL with a host, got 'ftp://x'" and details == {}


# --------------------------------------------------------------------------- the managed directory
def managed_params(tmp_path, **more):
    params = dict(name='omniroute', display_name='OmniRoute', base_url='http://gw.example.com:20128', models=['auto'],
                  model_labels={}, model=None, small_model=None, state='present', directory=str(tmp_path / 'managed'),
                  only_gateway=False, settings={}, mobileconfig=None, profile_identifier='ai.omniroute.opencode',
                  profile_organization=None, backup=False, catalog='static', catalog_key=None, catalog_include=[],
                  catalog_exclude=[], catalog_offline='keep', validate_certs=True, timeout=5, owned_only=False)
    params.update(more)
    return params


def written(tmp_path, **more):
    """The managed directory (and profile) as a first run with ``more`` leaves them; the params."""
    params = managed_params(tmp_path, **more)
    cfg.apply(Module(), cfg.plan_managed(params, WHO, root=False).changes, cfg.managed_policy(params, WHO, root=False))
    return params


@pytest.mark.parametrize('root', [True, False])
def test_the_managed_policy_is_0644_files_in_0755_directories_roots_when_run_as_root(tmp_path, root):
    params = managed_params(tmp_path, backup=True)
    directory = str(tmp_path / 'managed')
    assert cfg.managed_policy(params, WHO, root=root) == cfg.Policy(
        backup=True, who=WHO, mode=0o644, owner=(0, 0) if root else None, dir_mode=0o755,
        dir_owner=(0, 0) if root else None, trusted=(directory,) if root else ())


def test_the_managed_policy_defaults_to_the_os_directory_and_the_running_account(tmp_path, monkeypatch):
    params = managed_params(tmp_path, directory=None)
    assert cfg.managed_policy(params, WHO).trusted == ('/etc/opencode',)
    monkeypatch.setattr(os, 'geteuid', lambda: 1000)
    assert cfg.managed_policy(params, WHO) == cfg.Policy(backup=False, who=WHO, mode=0o644, dir_mode=0o755)


def test_a_managed_plan_made_as_root_by_default_gives_root_the_files(tmp_path, monkeypatch):
    params = written(tmp_path)
    path = str(tmp_path / 'managed' / 'opencode.json')
    os.chown(path, 4242, 4343)
    assert [c.words for c in cfg.plan_managed(params, WHO).changes] == [['set owner root and mode 0644']]
    monkeypatch.setattr(os, 'geteuid', lambda: 1000)
    assert cfg.plan_managed(params, WHO).changes == []


def test_a_written_managed_directory_is_planned_again_as_no_change(tmp_path):
    params = written(tmp_path, mobileconfig=str(tmp_path / 'p.mobileconfig'), profile_organization='Corp IT')
    plan = cfg.plan_managed(params, WHO, root=False)
    assert (plan.changes, plan.drift, plan.adopted, plan.profile) == ([], [], False, str(tmp_path / 'p.mobileconfig'))
    assert '<string>Corp IT</string>' in (tmp_path / 'p.mobileconfig').read_text()


@pytest.mark.parametrize('root, words', [(False, 'set mode 0644'), (True, 'set owner root and mode 0644')])
def test_a_managed_file_whose_mode_drifted_gets_its_mode_back_and_nothing_else(tmp_path, root, words):
    params = written(tmp_path, mobileconfig=str(tmp_path / 'p.mobileconfig'))
    paths = [(str(tmp_path / 'managed' / 'opencode.json'), 'config'),
             (str(tmp_path / 'managed' / 'omniroute-opencode.state.json'), 'state'),
             (str(tmp_path / 'p.mobileconfig'), 'profile')]
    for path, _kind in paths:
        os.chmod(path, 0o600)
    assert cfg.plan_managed(params, WHO, root=root).changes == [
        cfg.Change(path, path, open(path).read(), open(path).read(), False, [words], kind, 'omniroute')
        for path, kind in paths]


def test_as_root_a_file_of_another_owner_is_given_back_to_root_with_its_mode(tmp_path):
    params = written(tmp_path)
    path = str(tmp_path / 'managed' / 'opencode.json')
    os.chown(path, 0, 4343)
    assert [c.words for c in cfg.plan_managed(params, WHO, root=True).changes] == [['set owner root and mode 0644']]
    assert cfg.plan_managed(params, WHO, root=False).changes == []


def test_absent_removes_the_entry_the_record_and_the_profile(tmp_path):
    profile = str(tmp_path / 'p.mobileconfig')
    params = written(tmp_path, mobileconfig=profile)
    state = str(tmp_path / 'managed' / 'omniroute-opencode.state.json')
    plan = cfg.plan_managed(dict(params, state='absent'), WHO, root=False)
    changes = plan.changes
    assert (plan.adopted, plan.entry, plan.spec, plan.drift) == (False, None, None, [])
    assert [(c.path, c.kind, c.words, c.new is None, c.holds_secret, c.name) for c in changes] == [
        (str(tmp_path / 'managed' / 'opencode.json'), 'config', ['removed provider.omniroute'], False, False, 'omniroute'),
        (state, 'state', ['dropped the record of provider.omniroute'], True, False, 'omniroute'),
        (profile, 'profile', ['removed the profile'], True, False, 'omniroute')]
    assert changes[2] == cfg.Change(profile, profile, open(profile).read(), None, False, ['removed the profile'],
                                    'profile', 'omniroute')
    cfg.apply(Module(), changes, cfg.managed_policy(params, WHO, root=False))
    assert cfg.plan_managed(dict(params, state='absent'), WHO, root=False).changes == []


def test_a_profile_that_cannot_be_read_is_written_anew(tmp_path):
    """(A directory in its place: the write will say what is wrong; the plan writes it whole.)"""
    profile = tmp_path / 'p.mobileconfig'
    profile.mkdir()
    changes = cfg.plan_managed(managed_params(tmp_path, mobileconfig=str(profile)), WHO, root=False).changes
    assert (changes[-1].path, changes[-1].real, changes[-1].old, changes[-1].words, changes[-1].kind) == (
        str(profile), str(profile), None, ['wrote the profile'], 'profile')
    assert changes[-1].new.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')


def test_a_profile_that_cannot_carry_the_settings_is_refused_with_its_path(tmp_path):
    profile = str(tmp_path / 'p.mobileconfig')
    msg, details = failure(cfg.plan_managed, managed_params(tmp_path, mobileconfig=profile, settings={'PayloadType': 'x'}),
                           WHO, root=False)
    assert msg == 'cannot build the profile %s (%s): PayloadType would collide with profile metadata' % (profile, WHO)
    assert details == dict(path=profile)


def test_the_managed_directory_is_config_files_of_the_directory_only(tmp_path):
    """config.json is no managed file: OpenCode reads opencode.json and opencode.jsonc there."""
    write(tmp_path / 'managed' / 'config.json', '{not json')
    plan = cfg.plan_managed(managed_params(tmp_path), WHO, root=False)
    assert plan.target == str(tmp_path / 'managed' / 'opencode.json')
    assert plan.state_path == str(tmp_path / 'managed' / 'omniroute-opencode.state.json')


def test_the_managed_entry_is_built_from_every_option(tmp_path):
    params = managed_params(tmp_path, name='corp', display_name='Corp GW', models=['a', 'b'], model_labels={'a': 'A'},
                            model='a', small_model='b', only_gateway=True, settings={'share': 'disabled'})
    plan = cfg.plan_managed(params, WHO, root=False)
    data = json.loads(plan.changes[0].new)
    assert plan.entry == data['provider']['corp'] == {
        'npm': '@ai-sdk/openai-compatible', 'name': 'Corp GW', 'options': {'baseURL': 'http://gw.example.com:20128/v1'},
        'models': {'a': {'name': 'A'}, 'b': {'name': 'b'}}}
    assert (data['model'], data['small_model'], data['enabled_providers'], data['share']) == (
        'corp/a', 'corp/b', ['corp'], 'disabled')
    assert plan.changes[1].words == ['recorded what this module wrote (provider.corp)']


def test_a_managed_entry_that_cannot_be_built_names_the_run(tmp_path):
    msg, details = failure(cfg.plan_managed, managed_params(tmp_path, model='nope'), WHO, root=False)
    assert msg == "model 'nope' is not in the models catalog (auto) (%s)" % WHO and details == {}


@pytest.mark.parametrize('name', ['opencode.json', 'omniroute-opencode.state.json'])
def test_an_unreadable_managed_file_names_the_run(tmp_path, name):
    (tmp_path / 'managed' / name).mkdir(parents=True)
    msg = failure(cfg.plan_managed, managed_params(tmp_path), WHO, root=False)[0]
    assert msg.startswith('cannot edit %s (%s): ' % (tmp_path / 'managed' / name, WHO))


def test_known_texts_are_what_the_plan_read_up_to_the_limit_then_what_it_changes():
    limit = cfg.MAX_KNOWN_CHARS
    plan = cfg.UserPlan(None, '/c/a.json', [change('/c/b.json', 'b', None), change('/c/c.json', None, 'c')], None, [],
                        None, False, (), None, None, None,
                        {'/c/a.json': 'a' * limit, '/c/big.json': 'x' * (limit + 1), '/c/b.json': 'b'})
    assert cfg.known_texts(plan) == {'/c/a.json': 'a' * limit, '/c/b.json': None, '/c/c.json': 'c'}


HAND = '{"provider": {"omniroute": {"npm": "hand"}}}\n'


def test_a_hand_written_entry_is_adopted_once_then_the_record_is_the_collections(tmp_path):
    write(tmp_path / 'managed' / 'opencode.json', '{"provider": {"omniroute": {"npm": "x"}, "other": {}}}\n')
    params = managed_params(tmp_path)
    plan = cfg.plan_managed(params, WHO, root=False)
    assert plan.adopted is True
    assert [(c.kind, c.words, c.holds_secret, c.name) for c in plan.changes] == [
        ('config', ['added $schema', 'updated provider.omniroute'], False, 'omniroute'),
        ('state', ['recorded what this module wrote (provider.omniroute)'], False, 'omniroute')]
    cfg.apply(Module(), plan.changes, cfg.managed_policy(params, WHO, root=False))
    again = cfg.plan_managed(params, WHO, root=False)
    assert (again.adopted, again.changes, again.drift) == (False, [], [])


def test_a_new_managed_file_is_no_adoption(tmp_path):
    assert cfg.plan_managed(managed_params(tmp_path), WHO, root=False).adopted is False


def test_a_copy_of_the_entry_in_a_lower_managed_file_goes_and_the_record_follows_the_target(tmp_path):
    params = written(tmp_path)
    lower = str(tmp_path / 'managed' / 'opencode.json')
    target = write(tmp_path / 'managed' / 'opencode.jsonc', HAND)
    plan = cfg.plan_managed(params, WHO, root=False)
    assert plan.adopted is True and plan.target == target
    assert plan.changes[0] == cfg.Change(lower, lower, open(lower).read(), plan.changes[0].new, False,
                                         ['removed provider.omniroute (OpenCode would merge it into the managed entry)'],
                                         'config', 'omniroute')
    assert json.loads(plan.changes[0].new) == {'$schema': 'https://opencode.ai/config.json', 'provider': {}}
    assert [(c.path, c.kind, c.words) for c in plan.changes[1:]] == [
        (target, 'config', ['added $schema', 'updated provider.omniroute']),
        (str(tmp_path / 'managed' / 'omniroute-opencode.state.json'), 'state',
         ['recorded what this module wrote (provider.omniroute)'])]


def test_owned_only_removes_what_the_record_says_is_the_collections_and_names_the_rest(tmp_path):
    """The entry recorded in opencode.json goes (with the record); the hand-written one in the
    opencode.jsonc that now wins is foreign, with its file."""
    params = written(tmp_path)
    lower = str(tmp_path / 'managed' / 'opencode.json')
    target = write(tmp_path / 'managed' / 'opencode.jsonc', HAND)
    plan = cfg.plan_managed(dict(params, state='absent', owned_only=True), WHO, root=False)
    assert plan.foreign == [dict(provider='omniroute', path=target,
                                 reason='this collection recorded its entry in opencode.json, not in this file')]
    assert [(c.path, c.kind, c.words, c.name) for c in plan.changes] == [
        (lower, 'config', ['removed provider.omniroute'], 'omniroute'),
        (str(tmp_path / 'managed' / 'omniroute-opencode.state.json'), 'state',
         ['dropped the record of provider.omniroute'], 'omniroute')]


def test_owned_only_with_nothing_of_the_collections_leaves_the_directory_alone(tmp_path):
    """Not even the mode of a file is its business then."""
    target = write(tmp_path / 'managed' / 'opencode.json', HAND, 0o600)
    plan = cfg.plan_managed(managed_params(tmp_path, state='absent', owned_only=True), WHO, root=False)
    assert plan.changes == [] and [f['path'] for f in plan.foreign] == [target]
    plain = cfg.plan_managed(managed_params(tmp_path, state='absent'), WHO, root=False)
    assert [(c.path, c.words) for c in plain.changes] == [(target, ['removed provider.omniroute'])]


@pytest.mark.parametrize('state, owned_only', [('present', False), ('present', True), ('absent', False)])
def test_a_managed_file_that_is_no_json_names_the_file_and_the_run(tmp_path, owned_only, state):
    target = write(tmp_path / 'managed' / 'opencode.json', '{"provider": [}')
    msg, details = failure(cfg.plan_managed, managed_params(tmp_path, state=state, owned_only=owned_only), WHO, root=False)
    assert msg.startswith('cannot edit %s (%s): ' % (target, WHO)) and details['path'] == target


@pytest.mark.parametrize('state, owned_only', [('present', False), ('present', True), ('absent', False)])
def test_a_lower_managed_file_that_is_no_json_names_the_file_and_the_run(tmp_path, state, owned_only):
    """(With owned_only, a file that cannot be read as JSON is not the collection's: left alone.)"""
    lower = write(tmp_path / 'managed' / 'opencode.json', '{"provider": [}')
    write(tmp_path / 'managed' / 'opencode.jsonc', HAND)
    msg = failure(cfg.plan_managed, managed_params(tmp_path, state=state, owned_only=owned_only), WHO, root=False)[0]
    assert msg.startswith('cannot edit %s (%s): ' % (lower, WHO))


# --------------------------------------------------------------------------- the managed catalog
def test_a_static_managed_catalog_is_the_given_models_or_the_documented_defaults(tmp_path):
    assert cfg._managed_catalog(managed_params(tmp_path, models=None), TARGET, None, WHO) == (
        list(oc.DEFAULT_MODELS), False, dict(source='static'), [])
    assert cfg._managed_catalog(managed_params(tmp_path, models=['a']), TARGET, None, WHO) == (
        ['a'], False, dict(source='static'), [])


@pytest.mark.parametrize('key', [None, '', '  '])
def test_a_gateway_managed_catalog_needs_catalog_key(tmp_path, key):
    params = managed_params(tmp_path, catalog='gateway', catalog_key=key)
    msg, details = failure(cfg._managed_catalog, params, TARGET, None, WHO)
    assert msg == ('catalog=gateway needs catalog_key, a key the gateway accepts, to ask %s for the model list (%s); the '
                   'managed file never holds it. Nothing was changed in %s' % (URL, WHO, TARGET))
    assert details == dict(path=TARGET)
    msg, details = failure(cfg._managed_catalog, dict(params, base_url='ftp://x'), TARGET, None, WHO)
    assert msg == "base_url must be an http:// or https:// URL with a host, got 'ftp://x' (%s)" % WHO and details == {}


def test_a_catalog_key_that_cannot_be_sent_is_refused_without_showing_it(tmp_path):
    key = 'sk-unit-bad\nkey-123'
    msg, details = failure(cfg._managed_catalog, managed_params(tmp_path, catalog='gateway', catalog_key=key), TARGET,
                           None, WHO)
    assert msg == 'catalog_key (%s) %s; nothing was changed in %s' % (WHO, _redact.key_problem(key), TARGET)
    assert key not in msg and details == dict(path=TARGET)


def test_the_managed_catalog_from_the_gateway_asks_with_catalog_key_and_the_options(tmp_path, monkeypatch):
    asked = gateway(monkeypatch, models=[{'id': 'gpt-a'}, {'id': 'gpt-b'}])
    params = managed_params(tmp_path, catalog='gateway', catalog_key=GW_KEY, models=['auto'], catalog_exclude=['*-b'],
                            timeout=9, validate_certs=False)
    assert cfg._managed_catalog(params, TARGET, None, WHO) == (
        [{'id': 'auto', 'name': 'auto'}, {'id': 'gpt-a', 'name': 'gpt-a'}], False,
        dict(source='gateway', url=URL, status=200, seconds=0.25, offered=2), [])
    assert asked == [('http://gw.example.com:20128/v1', GW_KEY, 9, False)]


def test_an_offline_gateway_keeps_the_current_managed_catalog_of_that_provider(tmp_path, monkeypatch):
    gateway(monkeypatch, gw.OFFLINE, cause=OFFLINE, status=None)
    params = managed_params(tmp_path, name='corp', catalog='gateway', catalog_key=GW_KEY, models=None)
    text = '{"provider": {"omniroute": {"models": {"not-this": {}}}, "corp": {"models": {"this": {}}}}}'
    assert cfg._managed_catalog(params, TARGET, text, WHO) == (['this'], True, dict(
        source='kept', url=URL, status=None, seconds=0.25, cause=OFFLINE), [
        'the model catalog for %s cannot be fetched (gateway offline) from %s: %s; kept the current catalog of '
        'provider.corp in %s' % (WHO, URL, OFFLINE, TARGET)])
    msg = failure(cfg._managed_catalog, dict(params, catalog_offline='fail'), TARGET, text, WHO)[0]
    assert msg.startswith('the model catalog for %s cannot be fetched (gateway offline)' % WHO)


# --------------------------------------------------------------------------- depth, results
@pytest.mark.parametrize('value, depth', [
    (1, 0), ('x', 0), ({}, 1), ([], 1), ([[1]], 2), ({'a': {'b': 1}}, 2), ([{}, [[]]], 3), ({'a': [1, {'b': []}]}, 4)])
def test_the_depth_of_a_value_counts_its_nested_lists_and_objects(value, depth):
    assert cfg._depth(value) == depth


def test_an_entry_nested_deeper_than_the_limit_is_refused_at_its_line_and_column():
    for levels in (cfg.MAX_ENTRY_DEPTH, cfg.MAX_ENTRY_DEPTH + 1):
        text = '{\n  "provider": {"omniroute": ' + '[' * levels + ']' * levels + '}}'
        entry = json.loads(text)['provider']['omniroute']
        if levels == cfg.MAX_ENTRY_DEPTH:
            assert cfg._check_depth('/c/opencode.json', text, 'omniroute', entry, WHO) is None
            continue
        msg, details = failure(cfg._check_depth, '/c/opencode.json', text, 'omniroute', entry, WHO)
    assert msg == ('cannot edit /c/opencode.json (%s): provider.omniroute is nested too deeply to be edited safely (more '
                   'than 100 levels); nothing was changed' % WHO)
    assert details == dict(path='/c/opencode.json', line=2, column=29)


def test_a_too_deep_entry_that_cannot_be_located_is_refused_without_a_position():
    entry = json.loads('[' * 101 + ']' * 101)
    details = failure(cfg._check_depth, '/c/opencode.json', '{"provider": [', 'omniroute', entry, WHO)[1]
    assert details == dict(path='/c/opencode.json', line=None, column=None)


DESCRIBE_KEY = 'sk-unit-describe-1a2b3c4d'


def test_a_result_says_what_the_plan_does_without_any_key(home):
    """The key in the entry is masked by position, a given secret wherever it is (here in a model
    label); the diff carries the label; stale temporary files make a run changed."""
    stale = write(home / '.config' / 'opencode' / '.opencode.json.omniroute-999999999-x1.tmp', 'x')
    params = dict(cfg.PARAM_DEFAULTS, api_key=DESCRIBE_KEY, models=['auto'], model_labels={'auto': 'A ' + DESCRIBE_KEY})
    plan = cfg.plan(params, {'HOME': str(home)}, WHO)
    path = str(home / '.config' / 'opencode' / 'opencode.json')
    entry = {'npm': '@ai-sdk/openai-compatible', 'name': 'OmniRoute',
             'options': {'baseURL': 'http://localhost:20128/v1', 'apiKey': '********'},
             'models': {'auto': {'name': 'A ********'}}}
    got = cfg.describe(plan, [DESCRIBE_KEY, None, 7], True, 'laptop1/alice')
    assert got == dict(
        changed=True, path=path, files=[path], changes={path: ['added $schema', 'added provider.omniroute']},
        auth_path=str(home / '.local' / 'share' / 'opencode' / 'auth.json'), auth_changed=False,
        stale_temp_files=[stale], base_url='http://localhost:20128/v1', models=['auto'], entry=entry,
        catalog=dict(source='static'), diff=got['diff'])
    assert [(d['before_header'], d['before']) for d in got['diff']] == [('laptop1/alice: ' + path, '')]
    assert json.loads(got['diff'][0]['after']) == {'$schema': 'https://opencode.ai/config.json',
                                                   'provider': {'omniroute': entry}}
    assert DESCRIBE_KEY not in json.dumps(got)


def test_a_result_for_a_developers_own_key_says_whether_it_is_there(home):
    params = dict(cfg.PARAM_DEFAULTS, api_key='', key_source='user', key_store='auth', models=['auto'])
    got = cfg.describe(cfg.plan(params, {'HOME': str(home)}, WHO), [], False)
    assert got['key'] == 'missing' and 'diff' not in got and 'stale_temp_files' not in got


def test_stale_files_alone_make_a_changed_result_and_no_plan_no_change():
    plan = cfg.UserPlan(None, '/c/a.json', [], None, [], '/a/auth.json', False, ('/c/.a.json.x.tmp',))
    assert cfg.describe(plan, [], True) == dict(changed=True, path='/c/a.json', files=[], changes={},
                                                auth_path='/a/auth.json', auth_changed=False,
                                                stale_temp_files=['/c/.a.json.x.tmp'], diff=[])
    assert cfg.describe(plan._replace(stale=()), [], False)['changed'] is False


@pytest.mark.parametrize('source, store, keyed', [
    ('user', 'auth', True), ('user', 'config', False), ('given', 'auth', False), (None, 'auth', False)])
def test_the_developer_provides_the_key_only_with_key_source_user_and_the_credential_store(source, store, keyed):
    params = {'key_store': store}
    if source is not None:
        params['key_source'] = source
    assert cfg.user_keyed(params) is keyed


def test_the_developers_own_key_is_looked_up_for_the_provider_named(tmp_path):
    user_files(tmp_path, '{"omniroute": {"type": "api", "key": "%s"}}' % USER_KEY, config=None)
    params = dict(name='corp', state='present', api_key=None, auth_path=None, key_source='user')
    assert cfg.plan_managed_scope(params, {'HOME': str(tmp_path)}, who=WHO).user_key == 'missing'


def test_an_unreadable_lower_managed_file_names_the_run_with_owned_only_too(tmp_path):
    lower = tmp_path / 'managed' / 'opencode.json'
    lower.mkdir(parents=True)
    write(tmp_path / 'managed' / 'opencode.jsonc', HAND)
    msg = failure(cfg.plan_managed, managed_params(tmp_path, state='absent', owned_only=True), WHO, root=False)[0]
    assert msg.startswith('cannot edit %s (%s): ' % (lower, WHO))


def test_owned_only_names_a_foreign_entry_in_a_lower_file_and_removes_its_own_from_the_target(tmp_path):
    write(tmp_path / 'managed' / 'opencode.jsonc', '{}')
    params = written(tmp_path)
    lower = write(tmp_path / 'managed' / 'opencode.json', HAND)
    target = str(tmp_path / 'managed' / 'opencode.jsonc')
    plan = cfg.plan_managed(dict(params, state='absent', owned_only=True), WHO, root=False)
    assert plan.foreign == [dict(provider='omniroute', path=lower,
                                 reason='this collection recorded its entry in opencode.jsonc, not in this file')]
    assert [(c.path, c.words) for c in plan.changes] == [
        (target, ['removed provider.omniroute']),
        (str(tmp_path / 'managed' / 'omniroute-opencode.state.json'), ['dropped the record of provider.omniroute'])]


# --------------------------------------------------------------------------- survivors of the 2026-12-07 run
def test_a_module_used_on_first_use_is_loaded_once_and_only_when_first_used():
    calls = []

    def load():
        calls.append('loaded')
        return types.SimpleNamespace(answer=42)

    lazy = cfg.OnFirstUse(load)
    assert calls == []
    assert lazy.answer == 42
    assert lazy.imported().answer == 42 and lazy.answer == 42
    assert calls == ['loaded']
    assert cfg.mg.imported() is _managed


SHOWN_KEY = 'sk-unit-shown-9f8e7d6c'


def test_shown_arguments_mask_the_key_wherever_it_is_and_clean_the_url():
    shown = cfg.shown_params(dict(api_key=SHOWN_KEY, base_url='https://bob:pw@gw.example/v1?token=t',
                                  display_name='Team ' + SHOWN_KEY, name='omniroute'))
    assert shown == dict(api_key='VALUE_SPECIFIED_IN_NO_LOG_PARAMETER', base_url='https://gw.example/v1',
                         display_name='Team ********', name='omniroute')


@pytest.mark.parametrize('key, kind', [('{env:OMNIROUTE_KEY}', 'env'), ('{file:~/.omniroute-key}', 'file')])
def test_key_store_auth_refuses_a_reference_and_names_its_kind(key, kind):
    msg, details = failure(cfg.make_spec, dict(cfg.PARAM_DEFAULTS, key_store='auth', api_key=key))
    assert (msg, details) == ('key_store=auth needs a literal key; %s is only understood inside the config' % kind, {})
    assert cfg.make_spec(dict(cfg.PARAM_DEFAULTS, key_store='config', api_key=key)).api_key == key


def test_the_spec_carries_the_name_and_both_default_models():
    params = dict(cfg.PARAM_DEFAULTS, name='team-gw', api_key='sk-x', models=['auto', 'fast'], model='auto',
                  small_model='fast')
    spec = cfg.make_spec(params)
    assert (spec.name, spec.model, spec.small_model, spec.keep_models) == ('team-gw', 'team-gw/auto', 'team-gw/fast', False)
    assert cfg.make_spec(params, keep_models=True).keep_models is True


def test_an_xdg_directory_of_another_account_is_named_in_a_warning(tmp_path):
    xdg = tmp_path / 'xdg'
    xdg.mkdir()
    layout = Layout({'HOME': str(tmp_path / 'home'), 'XDG_CONFIG_HOME': str(xdg)}, uid=SOMEONE_ELSE)
    assert cfg._ignored_xdg(layout) == [
        'XDG_CONFIG_HOME=%s is ignored: it is not a directory of user %s (inherited from another account, e.g. '
        'through become_method su?); the default under the home directory is used' % (xdg, cfg.running_user())]


def test_a_path_that_later_files_override_is_named_with_each_of_them(tmp_path):
    folder = tmp_path / '.config' / 'opencode'
    for name in ('config.json', 'opencode.json', 'opencode.jsonc'):
        write(folder / name, '{}')
    target = str(folder / 'config.json')
    warning = ('%s is overridden by %s, %s, which OpenCode loads later; check that it does not set provider.team-gw '
               'or disabled_providers' % (target, folder / 'opencode.json', folder / 'opencode.jsonc'))
    assert cfg.config_files(dict(path=target), Layout({'HOME': str(tmp_path)}), 'team-gw') == (target, [], [warning])
    plan = cfg.plan(dict(cfg.PARAM_DEFAULTS, name='team-gw', path=target, models=['auto']), {'HOME': str(tmp_path)}, WHO)
    assert warning in plan.warnings


def test_absent_plans_no_entry_no_catalog_and_does_not_judge_the_key(home):
    """state=absent neither builds an entry nor checks a key it never sends or writes."""
    write(home / '.config' / 'opencode' / 'opencode.json', '{"provider": {"omniroute": {"name": "x"}}}\n')
    plan = cfg.plan(dict(cfg.PARAM_DEFAULTS, state='absent', api_key='sk-ends-with-a-line-break\n'),
                    {'HOME': str(home)}, WHO)
    assert (plan.spec, plan.catalog, plan.entry) == (None, None, None)
    assert [c.words for c in plan.changes] == [['removed provider.omniroute']]


def test_a_developers_own_key_is_not_judged_from_the_api_key_option(home):
    params = dict(cfg.PARAM_DEFAULTS, key_source='user', key_store='auth', api_key=' not a key ')
    assert cfg.plan(params, {'HOME': str(home)}, WHO).user_key == 'missing'


def test_a_key_with_a_line_break_is_refused_before_anything_is_read(home):
    msg, details = failure(cfg.plan, dict(cfg.PARAM_DEFAULTS, api_key='sk-ends-with-a-line-break\n'),
                           {'HOME': str(home)}, WHO)
    assert msg == ('the api_key of %s (key_store=config) ends (or starts) with a line break or another control '
                   'character, as a value copied from a vault or a file often does; remove it (the key is not '
                   'shown); nothing was changed' % WHO)
    assert details == {}


def test_the_plan_keeps_the_text_it_read_of_the_target_only(home):
    path = write(home / '.config' / 'opencode' / 'opencode.json', '{\n  "theme": "dusk"\n}\n')
    environ = {'HOME': str(home)}
    assert cfg.plan(dict(cfg.PARAM_DEFAULTS, models=['auto']), environ, WHO).texts == {
        str(path): '{\n  "theme": "dusk"\n}\n'}
    os.unlink(str(path))
    assert cfg.plan(dict(cfg.PARAM_DEFAULTS, models=['auto']), environ, WHO).texts == {}


def test_create_false_refuses_a_missing_file_and_names_it(home):
    target = str(home / '.config' / 'opencode' / 'opencode.json')
    msg, details = failure(cfg.plan, dict(cfg.PARAM_DEFAULTS, create=False), {'HOME': str(home)}, WHO)
    assert (msg, details) == ('%s does not exist and create=false (%s)' % (target, WHO), dict(path=target))


def test_an_offline_gateway_catalog_names_the_file_the_given_ids_go_to(home):
    target = str(home / '.config' / 'opencode' / 'opencode.json')
    params = dict(cfg.PARAM_DEFAULTS, catalog='gateway', base_url=CLOSED, api_key='sk-unit-offline-1234',
                  models=['auto'], timeout=5)
    plan = cfg.plan(params, {'HOME': str(home)}, WHO)
    assert plan.spec.model_ids == ['auto'] and plan.catalog['source'] == 'models'
    assert len(plan.warnings) == 1 and plan.warnings[0].startswith(
        'the model catalog for %s cannot be fetched (gateway offline) from http://127.0.0.1:9/v1/models: ' % WHO)
    assert plan.warnings[0].endswith('; wrote the ids given in models to %s' % target)


def test_a_planned_entry_nested_too_deeply_is_refused_with_its_position(home):
    target = write(home / '.config' / 'opencode' / 'opencode.json', '{\n  "provider": {\n    "team-gw": {}\n  }\n}\n')
    deep = node = {}
    for _level in range(cfg.MAX_ENTRY_DEPTH):
        node['x'] = {}
        node = node['x']
    params = dict(cfg.PARAM_DEFAULTS, name='team-gw', api_key='sk-x', models=[{'id': 'auto', 'options': deep}])
    msg, details = failure(cfg.plan, params, {'HOME': str(home)}, WHO)
    assert msg == ('cannot edit %s (%s): provider.team-gw is nested too deeply to be edited safely (more than 100 '
                   'levels); nothing was changed' % (target, WHO))
    assert details == dict(path=str(target), line=4, column=16)


def test_absent_on_a_file_that_is_not_jsonc_names_the_file_the_user_and_the_position(home):
    target = write(home / '.config' / 'opencode' / 'opencode.json', '{\n  "provider": ]\n}\n')
    msg, details = failure(cfg.plan, dict(cfg.PARAM_DEFAULTS, state='absent'), {'HOME': str(home)}, WHO)
    assert msg == 'cannot edit %s (%s): invalid JSONC: expected a value at line 2, column 15' % (target, WHO)
    assert details == dict(path=str(target), line=2, column=15)


def test_an_auth_path_that_cannot_be_read_names_the_file_and_the_user(home):
    auth = home / '.local' / 'share' / 'opencode' / 'auth.json'
    auth.mkdir(parents=True)
    msg, details = failure(cfg.plan, dict(cfg.PARAM_DEFAULTS, models=['auto']), {'HOME': str(home)}, WHO)
    assert (msg, details) == ('cannot edit %s (%s): it is a directory, not a config file' % (auth, WHO), dict(path=str(auth)))


def test_a_developers_own_key_is_found_in_auth_json_for_the_provider_named(home):
    write(home / '.local' / 'share' / 'opencode' / 'auth.json', '{"omniroute": {"type": "api", "key": "%s"}}' % USER_KEY)
    params = dict(cfg.PARAM_DEFAULTS, key_source='user', key_store='auth', api_key='', models=['auto'])
    assert cfg.plan(params, {'HOME': str(home)}, WHO).user_key == 'present'
    assert cfg.plan(dict(params, name='corp'), {'HOME': str(home)}, WHO).user_key == 'missing'


def test_an_offline_gateway_keeps_the_entrys_catalog_byte_for_byte(home):
    text = ('{\n  "$schema": "https://opencode.ai/config.json",\n  "provider": {\n    "omniroute": {\n'
            '      "npm": "@ai-sdk/openai-compatible",\n      "name": "OmniRoute",\n'
            '      "options": {"baseURL": "http://127.0.0.1:9/v1", "apiKey": "sk-unit-offline-1234"},\n'
            '      "models": {"auto": {"name": "Auto", "limit": {"context": 1000, "output": 100}}}\n    }\n  }\n}\n')
    write(home / '.config' / 'opencode' / 'opencode.json', text)
    params = dict(cfg.PARAM_DEFAULTS, catalog='gateway', base_url=CLOSED, api_key='sk-unit-offline-1234',
                  timeout=5)
    plan = cfg.plan(params, {'HOME': str(home)}, WHO)
    assert plan.changes == [] and plan.spec.keep_models is True and plan.catalog['source'] == 'kept'


def test_each_planned_config_change_is_a_config_change_of_the_provider_named(home):
    folder = home / '.config' / 'opencode'
    lower = write(folder / 'config.json', '{"provider": {"team-gw": {"name": "old"}, "other": {}}}\n')
    target = write(folder / 'opencode.json', '{}\n')
    plan = cfg.plan(dict(cfg.PARAM_DEFAULTS, name='team-gw', api_key='sk-x', models=['auto']), {'HOME': str(home)}, WHO)
    assert [(c.path, c.holds_secret, c.kind, c.name) for c in plan.changes] == [
        (str(lower), False, 'config', 'team-gw'), (str(target), True, 'config', 'team-gw')]
    plan = cfg.plan(dict(cfg.PARAM_DEFAULTS, name='team-gw', state='absent'), {'HOME': str(home)}, WHO)
    assert [(c.path, c.holds_secret, c.kind, c.name) for c in plan.changes] == [(str(lower), False, 'config', 'team-gw')]
    write(folder / 'opencode.json', '{"provider": {"team-gw": {}}}\n')
    plan = cfg.plan(dict(cfg.PARAM_DEFAULTS, name='team-gw', state='absent'), {'HOME': str(home)}, WHO)
    assert [(c.path, c.holds_secret, c.kind, c.name) for c in plan.changes] == [
        (str(lower), False, 'config', 'team-gw'), (str(target), False, 'config', 'team-gw')]
    write(folder / 'config.json', '{"provider": ]}\n')
    msg, details = failure(cfg.plan, dict(cfg.PARAM_DEFAULTS, name='team-gw', api_key='sk-x', models=['auto']),
                           {'HOME': str(home)}, WHO)
    assert (msg, details) == ('cannot edit %s (%s): invalid JSONC: expected a value at line 1, column 14' % (lower, WHO),
                              dict(path=str(lower), line=1, column=14))


def test_a_developer_without_a_key_gets_one_warning_naming_the_provider_and_the_file(home):
    auth = home / '.local' / 'share' / 'opencode' / 'auth.json'
    params = dict(cfg.PARAM_DEFAULTS, name='team-gw', key_source='user', key_store='auth', api_key='', models=['auto'])
    assert cfg.plan(params, {'HOME': str(home)}, WHO).warnings == [
        'no key for provider team-gw in %s: run `opencode auth login`, choose team-gw and paste the OmniRoute key' % auth]
    write(auth, '{"team-gw": {"type": "api", "key": "%s"}}' % USER_KEY)
    assert cfg.plan(params, {'HOME': str(home)}, WHO).warnings == []


def test_the_key_in_auth_json_is_planned_as_a_change_of_its_own_in_words(home):
    auth = home / '.local' / 'share' / 'opencode' / 'auth.json'
    target = home / '.config' / 'opencode' / 'opencode.json'
    environ = {'HOME': str(home)}
    plan = cfg.plan(dict(cfg.PARAM_DEFAULTS, key_store='auth', api_key='sk-unit-auth-1234', models=['auto']), environ, WHO)
    assert plan.auth_changed is True
    assert [(c.path, c.words, c.kind, c.holds_secret, c.name) for c in plan.changes] == [
        (str(auth), ['stored the key for omniroute'], 'auth', True, 'omniroute'),
        (str(target), ['added $schema', 'added provider.omniroute'], 'config', False, 'omniroute')]
    write(auth, '{"omniroute": {"type": "api", "key": "sk-unit-auth-1234"}, "other": {"type": "api", "key": "x"}}')
    plan = cfg.plan(dict(cfg.PARAM_DEFAULTS, state='absent'), environ, WHO)
    assert plan.auth_changed is True
    assert [(c.path, c.words, c.kind, c.holds_secret, c.name) for c in plan.changes] == [
        (str(auth), ['removed the key for omniroute'], 'auth', True, 'omniroute')]
    # An empty auth.json has nothing to remove.
    write(auth, '')
    plan = cfg.plan(dict(cfg.PARAM_DEFAULTS, state='absent'), environ, WHO)
    assert (plan.auth_changed, plan.changes) == (False, [])
    write(auth, '{"omniroute": ]')
    msg, details = failure(cfg.plan, dict(cfg.PARAM_DEFAULTS, key_store='auth', api_key='sk-x', models=['auto']),
                           environ, WHO)
    assert (msg, details) == ('cannot edit %s (%s): invalid JSONC: expected a value at line 1, column 15' % (auth, WHO),
                              dict(path=str(auth), line=1, column=15))


def test_a_file_system_that_tells_no_free_space_does_not_stop_the_count_for_the_others(tmp_path, monkeypatch):
    first, second = tmp_path / 'unknown' / 'a.json', tmp_path / 'full' / 'b.json'
    monkeypatch.setattr(cfg, 'free_space', lambda directory: None if directory.endswith('unknown') else (8, 0, 4096, None))
    msg = failure(cfg.preflight, [change(first, None, '{}'), change(second, None, '{}')], cfg.Policy(who=WHO))[0]
    assert msg == enospc(second, tmp_path / 'full', '4 KiB', 'the new file', '0 bytes')


def test_a_write_that_fails_with_an_os_error_says_it_in_words(tmp_path, monkeypatch):
    path = write(tmp_path / 'opencode.json', 'old\n')
    monkeypatch.setattr(cfg, '_write', raises(EIO))
    msg, details = failure(cfg.apply, Module(), [change(path, 'old\n', 'new\n')], cfg.Policy(who=WHO))
    assert (msg, details) == ('cannot write %s (%s): input/output error (EIO); nothing was changed' % (path, WHO),
                              dict(path=str(path), changed=False))


def test_a_failed_write_is_reported_even_when_its_new_directories_cannot_be_removed(tmp_path, monkeypatch):
    path = tmp_path / 'a' / 'b' / 'opencode.json'
    rename_breaks(monkeypatch, path)
    monkeypatch.setattr(os, 'rmdir', raises(OSError(39, 'Directory not empty')))
    msg, details = failure(cfg.apply, Module(), [change(path, None, '{}')], cfg.Policy(who=WHO))
    assert (msg, details) == ('cannot write %s (%s): input/output error (EIO); nothing was changed' % (path, WHO),
                              dict(path=str(path), changed=False))
    assert not os.path.exists(str(path))


def test_a_planners_errors_become_failures_naming_the_file_and_the_user():
    def refuses(_text):
        raise oc.PlanError('models must name at least one model id')

    def recurses(text):
        return recurses(text)

    assert failure(cfg.plan_file, '/c/opencode.json', '{}', refuses, WHO) == (
        'cannot edit /c/opencode.json (%s): models must name at least one model id' % WHO, dict(path='/c/opencode.json'))
    assert failure(cfg.plan_file, '/c/opencode.json', '{}', recurses, WHO) == (
        'cannot edit /c/opencode.json (%s): it is nested too deeply to be edited safely; nothing was changed' % WHO,
        dict(path='/c/opencode.json'))
    assert failure(cfg.plan_file, '/c/opencode.json', '{"provider": []}\n', lambda t: oc.plan_absent(t, 'omniroute'),
                   WHO) == ('cannot edit /c/opencode.json (%s): "provider" is not an object at line 1, column 14' % WHO,
                            dict(path='/c/opencode.json', line=1, column=14))
