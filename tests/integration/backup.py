"""Backup and restore (scripts/backup.sh: make backup, make restore FILE=...): a snapshot
taken while the stack serves, put back into the stopped stack, brings the count back to
the snapshot's value and keeps it (Redis loads the AOF the restore rebuilt from it); a
running stack, or a missing or damaged file, is refused with a clear message and the data
is left as it was."""
import datetime
import hashlib
import os
import re
import stat
import subprocess

from integration.suite import test
from lib.http_client import http_get
from lib.pagecheck import visits_on
from lib.results import Errors, expect
from lib.stack import REPO, clean_env

BACKUP_SH = os.path.join(REPO, "scripts", "backup.sh")
NAME_RE = re.compile(r"khalid-(\d{8}T\d{6}Z)\.rdb")


def backup_sh(st, *args, backup_dir=None):
    """scripts/backup.sh ARGS for the stack st, as `make backup`/`make restore` run it."""
    env = clean_env({"STATE_DIR": st.state_dir})
    if backup_dir:
        env["BACKUP_DIR"] = backup_dir
    return subprocess.run([BACKUP_SH] + list(args), env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def count(st, n):
    """n visits through the site; the number the last page showed."""
    shown = None
    for _ in range(n):
        r = http_get(st.port, "/count")
        expect(r.status == 200, "/count answered %d" % r.status)
        shown = visits_on(r.text)
    return shown


def take_backup(ctx, st):
    """A backup of the running stack into a temp dir; its path, checked to be what the
    script printed, named by its UTC time, private, and a valid RDB file."""
    r = backup_sh(st, "backup", backup_dir=ctx.tmpdir("kt-backups-"))
    expect(r.returncode == 0, "backup failed (%d): %s" % (r.returncode, r.stderr.strip()))
    path = r.stdout.strip()
    m = NAME_RE.fullmatch(os.path.basename(path))
    expect(m and os.path.isfile(path), "backup printed %r: not a khalid-YYYYMMDDTHHMMSSZ.rdb file" % r.stdout)
    taken = datetime.datetime.strptime(m.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    age = datetime.datetime.now(datetime.timezone.utc) - taken
    expect(datetime.timedelta(0) <= age < datetime.timedelta(minutes=2), "backup named %s, %s ago" % (m.group(1), age))
    mode = stat.S_IMODE(os.stat(path).st_mode)
    expect(mode == 0o600, "the backup's mode is %o, not 600" % mode)
    check = subprocess.run(["redis-check-rdb", path], capture_output=True, text=True, timeout=30)
    expect(check.returncode == 0, "redis-check-rdb rejects the backup: %s" % check.stdout[-300:])
    return path


def data_fingerprint(st):
    """Every file under the stack's state directory's redis* directories, with its bytes'
    hash: what a restore would change."""
    out = {}
    for top in sorted(os.listdir(st.state_dir)):
        if top.startswith("redis"):
            for root, _, files in os.walk(os.path.join(st.state_dir, top)):
                for name in files:
                    path = os.path.join(root, name)
                    with open(path, "rb") as f:
                        out[os.path.relpath(path, st.state_dir)] = hashlib.sha256(f.read()).hexdigest()
            out.setdefault(top + "/", "dir")
    return out


@test("backup while serving, restore into the stopped stack: the count is the backup's, "
      "the old data kept aside, and the count goes on from there across restarts")
def t_backup_restore(ctx):
    st = ctx.stack()
    expect(count(st, 5) == 5, "the first 5 visits did not show 5")
    backup = take_backup(ctx, st)
    expect(count(st, 3) == 8, "3 more visits after the backup did not show 8")
    st.stop()
    r = backup_sh(st, "restore", backup)
    expect(r.returncode == 0, "restore failed (%d): %s" % (r.returncode, r.stderr.strip()))
    aside = [d for d in os.listdir(st.state_dir) if d.startswith("redis.before-restore-")]
    expect(len(aside) == 1 and os.path.isdir(os.path.join(st.state_dir, aside[0], "appendonlydir")),
           "the previous data is not in one redis.before-restore-* directory: %s" % sorted(os.listdir(st.state_dir)))
    expect(aside[0] in r.stderr, "restore did not say where the previous data went: %s" % r.stderr.strip())
    st.start()
    v = st.visits()
    expect(v == 5, "after the restore visits is %d, the backup had 5 (8 before the restore)" % v)
    expect(count(st, 1) == 6, "the first /count after the restore did not show 6")
    # Redis loads its AOF on start: the count must go on from the restored one, not from
    # what was there before or an empty data set.
    st.stop()
    st.start()
    v = st.visits()
    expect(v == 6, "after a restart visits is %d, 6 before it" % v)


@test("restore refused while the stack runs: a clear message, nothing moved, the count goes on")
def t_restore_running(ctx):
    st = ctx.stack()
    count(st, 4)
    backup = take_backup(ctx, st)
    count(st, 2)
    r = backup_sh(st, "restore", backup)
    expect(r.returncode != 0, "restore into the running stack succeeded: %s" % r.stderr.strip())
    expect("running" in r.stderr and "nothing was changed" in r.stderr,
           "restore's refusal does not say the stack is running and nothing changed: %r" % r.stderr.strip())
    moved = [d for d in os.listdir(st.state_dir) if d.startswith("redis.")]
    expect(not moved, "a refused restore left %s" % moved)
    expect(count(st, 1) == 7, "after the refused restore /count did not show 7")


@test("restore refuses a missing, empty, truncated or byte-flipped file with a clear "
      "message, and the data is left as it was")
def t_restore_bad_files(ctx):
    st = ctx.stack()
    count(st, 6)
    backup = take_backup(ctx, st)
    count(st, 1)
    st.stop()
    with open(backup, "rb") as f:
        good = f.read()
    expect(len(good) > 64, "the backup is only %d bytes" % len(good))
    tmp = ctx.tmpdir()
    flipped = bytearray(good)
    for i in range(len(good) // 2, len(good) // 2 + 3):
        flipped[i] ^= 0xFF
    bad = {"truncated": good[:len(good) // 2], "byte-flipped": bytes(flipped), "empty": b""}
    files = {}
    for what, data in bad.items():
        files[what] = os.path.join(tmp, what + ".rdb")
        with open(files[what], "wb") as f:
            f.write(data)
    files["missing"] = os.path.join(tmp, "no-such-backup.rdb")
    before = data_fingerprint(st)
    e = Errors()
    for what, path in files.items():
        r = backup_sh(st, "restore", path)
        msg = "no such file" if what == "missing" else "not a valid Redis snapshot"
        e.check(r.returncode != 0, "restoring the %s file succeeded" % what)
        e.check(path in r.stderr and msg in r.stderr and "nothing was changed" in r.stderr,
                "restoring the %s file: the message does not name the file and say %r and that nothing "
                "was changed: %r" % (what, msg, r.stderr.strip()[-300:]))
        after = data_fingerprint(st)
        e.check(after == before, "restoring the %s file changed the data: %s"
                % (what, sorted(set(after.items()) ^ set(before.items()))[:6]))
    e.raise_if_any()
    st.start()
    v = st.visits()
    expect(v == 7, "after the refused restores visits is %d, it was 7" % v)
