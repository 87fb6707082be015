#!/usr/bin/env python3
"""Keepsake's Matrix test server: a real Synapse (PyPI matrix-synapse, pinned)
on SQLite, listening on 127.0.0.1 only, with no federation.

  harness.py install
      the venv with Synapse (cached: a stamp in the venv names the pin)
  harness.py seed [SNAPSHOT_DIR] [--preset default|bench] [--force]
      seed a snapshot once: a database after ANALYZE, media, signing key,
      config templates and seed.json (ids, tokens, expected counts). Cached
      by a stamp over this directory's files and the preset; built in a
      temporary directory and renamed, so a killed seed leaves no half
      snapshot. Default: <target>/servers/synapse/seed-<preset>
  harness.py start SNAPSHOT_DIR INSTANCE_DIR PORT [--cas-port N]
                   [--extra-config FILE] [--watch-pid PID]
      a fresh copy of the snapshot in INSTANCE_DIR, served on PORT (0: any
      free port); prints instance.json (base_url, port, ...) on stdout once
      /_matrix/client/versions answers. --cas-port starts the fake CAS
      identity provider too (0: any free port) and turns on SSO;
      --extra-config is one more Synapse config file whose top-level keys
      replace the template's (e.g. a strict rc_message); --watch-pid stops
      the instance when that process ends (a test that is killed leaves no
      server behind)
  harness.py stop INSTANCE_DIR      stops what start started; idempotent
  harness.py status INSTANCE_DIR    instance.json plus whether it answers
  harness.py check INSTANCE_DIR     the end-to-end checks of check.py
  harness.py paths                  the venv and default snapshot paths

The harness itself is standard library only; it runs Synapse with the
venv's python. The venv is $KEEPSAKE_SYNAPSE_VENV, else
<target>/servers/synapse/venv, target being $CARGO_TARGET_DIR (relative to
the repository root, as cargo reads it) or <repo>/target.
"""

import argparse
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
SYNAPSE_VERSION = "1.163.2"
REQUIREMENT = f"matrix-synapse=={SYNAPSE_VERSION}"
# The config templates, copied into each snapshot so that an instance is
# rendered from the templates its database was seeded with.
TEMPLATES = ["homeserver.yaml.in", "log.yaml.in", "appservice.yaml"]
# What a snapshot's content depends on: its stamp hashes these files.
STAMPED = ["harness.py", "seed.py", "mx.py", "media_files.py"] + TEMPLATES
SIGNING_KEY = "localhost.signing.key"
PROCESSES = ["watchdog", "fake_cas", "synapse"]  # stop order: the watchdog first


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def die(msg):
    log(f"harness: error: {msg}")
    sys.exit(1)


# --- paths -----------------------------------------------------------------

def target_dir():
    t = os.environ.get("CARGO_TARGET_DIR")
    return (REPO / t) if t else REPO / "target"


def venv_dir():
    v = os.environ.get("KEEPSAKE_SYNAPSE_VENV")
    return Path(v).resolve() if v else target_dir() / "servers" / "synapse" / "venv"


def venv_python():
    return venv_dir() / "bin" / "python"


def default_snapshot(preset):
    return target_dir() / "servers" / "synapse" / f"seed-{preset}"


# --- install ---------------------------------------------------------------

def install():
    venv = venv_dir()
    stamp = venv / ".keepsake-stamp"
    wanted = f"{REQUIREMENT}\n"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / ".venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel tests may all call install
        if venv_python().is_file() and stamp.is_file() and stamp.read_text() == wanted:
            return
        t0 = time.monotonic()
        if sys.version_info < (3, 10):
            die(f"Synapse {SYNAPSE_VERSION} needs Python 3.10 or newer; this is {sys.version.split()[0]}")
        if not venv_python().is_file():
            # A half-made venv is cheaper to rebuild than to diagnose.
            shutil.rmtree(venv, ignore_errors=True)
            log(f"harness: creating the venv {venv}")
            r = subprocess.run([sys.executable, "-m", "venv", str(venv)])
            if r.returncode:
                die(f"`{sys.executable} -m venv` failed: on Debian/Ubuntu install python3-venv")
        stamp.unlink(missing_ok=True)  # an interrupted install is retried
        log(f"harness: installing {REQUIREMENT} (binary wheels only: no compiler needed)")
        r = subprocess.run([str(venv_python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                            "--no-input", "--only-binary=:all:", REQUIREMENT])
        if r.returncode:
            die(f"pip install {REQUIREMENT} failed: check the access to PyPI; delete {venv} to start over")
        # The distribution's version: synapse.__version__ appends the git
        # state of the current directory when it is a repository.
        got = subprocess.run([str(venv_python()), "-c",
                              "import importlib.metadata as m; print(m.version('matrix-synapse'))"],
                             capture_output=True, text=True).stdout.strip()
        if got != SYNAPSE_VERSION:
            die(f"the venv has Synapse {got!r}, not {SYNAPSE_VERSION}")
        stamp.write_text(wanted)
        log(f"harness: Synapse {SYNAPSE_VERSION} installed in {time.monotonic() - t0:.1f} s")


# --- processes -------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _cmdline(pid):
    if not Path("/proc/self").exists():  # no /proc (macOS): ask ps
        r = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True)
        return r.stdout
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def alive(pid):
    try:
        os.waitpid(pid, os.WNOHANG)  # reaps it if it is our own child
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is dead for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _pid(directory, name):
    try:
        return int((directory / f"{name}.pid").read_text())
    except (FileNotFoundError, ValueError):
        return None


def _ours(pid, directory):
    # A pid file can outlive its process and the pid be reused: only a
    # process whose command line names this directory is ours to signal.
    # (With a trailing separator, so /tmp/i1 does not claim /tmp/i10's.)
    return alive(pid) and str(directory) + os.sep in _cmdline(pid)


def _spawn(name, argv, directory, log_name):
    # Synapse appends the git state of its own directory to its version
    # (`1.163.2 (b=main,…)`) when the venv sits in a checkout, as it does
    # under target/: keep git from finding this repository.
    env = dict(os.environ, GIT_CEILING_DIRECTORIES=str(venv_dir().parent))
    with open(directory / log_name, "ab") as out:
        # Its own session: it outlives this command, and stop can signal its
        # whole process group.
        p = subprocess.Popen(argv, cwd=directory, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                             env=env, start_new_session=True)
    (directory / f"{name}.pid").write_text(str(p.pid))
    return p


def _terminate(pid, timeout):
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            log(f"harness: pid {pid} ignored SIGTERM for {timeout} s: SIGKILL")
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            return
        time.sleep(0.05)


def stop(directory):
    """Stops the watchdog, the fake CAS and Synapse of an instance, waiting
    for each to exit. Returns the names it stopped."""
    directory = Path(directory).resolve()
    stopped = []
    for name in PROCESSES:
        pid = _pid(directory, name)
        if pid and pid != os.getpid() and _ours(pid, directory):
            _terminate(pid, 30 if name == "synapse" else 5)
            stopped.append(name)
        (directory / f"{name}.pid").unlink(missing_ok=True)
    return stopped


def running(directory):
    pid = _pid(directory, "synapse")
    return bool(pid and _ours(pid, directory))


def _tail(path, n=30):
    try:
        return "".join(path.read_text(errors="replace").splitlines(True)[-n:])
    except FileNotFoundError:
        return ""


def wait_ready(directory, port, proc, timeout=120):
    """Waits until /_matrix/client/versions answers 200 (the listener is up
    and the database open)."""
    url = f"http://127.0.0.1:{port}/_matrix/client/versions"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            stop(directory)
            die(f"Synapse exited ({proc.returncode}) while starting:\n{_tail(directory / 'stdout.log')}"
                f"{_tail(directory / 'homeserver.log')}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)
    stop(directory)
    die(f"Synapse did not answer {url} within {timeout} s:\n{_tail(directory / 'homeserver.log')}")


# --- config ----------------------------------------------------------------

def _yaml_str(s):
    return json.dumps(str(s))[1:-1]  # the inside of a YAML double-quoted scalar


CAS_BLOCK = """
# SSO through the fake CAS identity provider (fake_cas.py).
cas_config:
  enabled: true
  server_url: "http://127.0.0.1:{cas_port}"
  displayname_attribute: displayName
sso:
  # Synapse redirects straight to a redirectUrl that starts with one of
  # these (a plain prefix match); any other gets a confirmation page first.
  # The trailing colon admits any loopback port and not 127.0.0.1.evil.
  client_whitelist: ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"]
"""


def render(templates, directory, port, cas_port=None):
    values = {"data": _yaml_str(directory), "port": port,
              "cas": CAS_BLOCK.format(cas_port=cas_port) if cas_port else ""}
    for name in TEMPLATES:
        text = (templates / name).read_text()
        out = directory / name.removesuffix(".in")
        out.write_text(string.Template(text).substitute(values) if name.endswith(".in") else text)


def secrets(templates):
    hs = (templates / "homeserver.yaml.in").read_text()
    asr = (templates / "appservice.yaml").read_text()

    def get(pattern, text):
        return re.search(pattern, text, re.M).group(1)
    return {"registration_shared_secret": get(r'^registration_shared_secret:\s*"([^"]+)"', hs),
            "as_token": get(r'^as_token:\s*"([^"]+)"', asr),
            "sender_localpart": get(r"^sender_localpart:\s*(\S+)", asr)}


def _synapse_argv(directory, extra=None):
    argv = [str(venv_python()), "-m", "synapse.app.homeserver", "--config-path", str(directory / "homeserver.yaml")]
    if extra:
        # Synapse merges config files in order, later top-level keys win.
        argv += ["--config-path", str(extra)]
    return argv


def _watch(directory, pid):
    """Starts the watchdog: stops the instance when `pid` ends."""
    _spawn("watchdog", [sys.executable, str(Path(__file__).resolve()), "_watch", f"{directory}{os.sep}", str(pid)],
           directory, "watchdog.log")


# --- seed ------------------------------------------------------------------

def stamp_of(preset):
    h = hashlib.sha256(f"{REQUIREMENT}\npreset={preset}\n".encode())
    for name in STAMPED:
        h.update(name.encode() + b"\0" + (HERE / name).read_bytes() + b"\0")
    return h.hexdigest()


def analyze(db_path, checkpoint=False):
    """SQLite has no planner statistics until ANALYZE: without them a
    /messages walk of the bench room takes 35 s instead of 1.4 s (measured).
    Safe while Synapse runs (WAL; Synapse's connection reloads the
    statistics). checkpoint folds the WAL into the file, for a snapshot."""
    db = sqlite3.connect(db_path, timeout=60)
    db.execute("ANALYZE")
    db.commit()
    if checkpoint:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def seed(snapshot, preset, force=False):
    import seed as seeder  # beside this file; imported late: `install` needs nothing of it

    if preset not in seeder.PRESETS:
        die(f"unknown preset {preset!r} (one of {', '.join(seeder.PRESETS)})")
    install()
    snapshot = Path(snapshot).resolve()
    stamp = stamp_of(preset)
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    with open(snapshot.parent / f".{snapshot.name}.lock", "w") as lock:
        # Parallel tests may ask for the same snapshot: one seeds, the
        # others wait and then find it up to date.
        fcntl.flock(lock, fcntl.LOCK_EX)
        for old in snapshot.parent.glob(f".{snapshot.name}.[to][ml][pd]-*"):
            # A killed seed's directories (no seed runs: we hold the lock);
            # its watchdog stopped its Synapse, or stop does now.
            stop(old)
            shutil.rmtree(old, ignore_errors=True)
        stamp_file = snapshot / "stamp"
        if not force and stamp_file.is_file() and stamp_file.read_text().strip() == stamp:
            log(f"harness: the {preset} snapshot {snapshot} is up to date")
            return {"snapshot": str(snapshot), "seed_json": str(snapshot / "seed.json"), "cached": True}

        t0 = time.monotonic()
        tmp = snapshot.parent / f".{snapshot.name}.tmp-{os.getpid()}"
        tmp.mkdir()
        for name in TEMPLATES:
            shutil.copy2(HERE / name, tmp / name)
        port = free_port()
        render(HERE, tmp, port)
        r = subprocess.run(_synapse_argv(tmp) + ["--generate-keys"], cwd=tmp, capture_output=True, text=True)
        if r.returncode:
            die(f"synapse --generate-keys failed:\n{r.stdout}{r.stderr}")
        log(f"harness: seeding the {preset} snapshot on port {port} (in {tmp})")
        proc = _spawn("synapse", _synapse_argv(tmp), tmp, "stdout.log")
        _watch(tmp, os.getpid())
        try:
            wait_ready(tmp, port, proc)
            result = seeder.run(f"http://127.0.0.1:{port}", preset, secrets(HERE), log,
                                lambda: analyze(tmp / "homeserver.db"))
        finally:
            stop(tmp)
        t = time.monotonic()
        analyze(tmp / "homeserver.db", checkpoint=True)
        result["timings"]["analyze_s"] = round(time.monotonic() - t, 2)
        for name in ["homeserver.yaml", "log.yaml", "instance.json", "stdout.log", "watchdog.log",
                     "homeserver.db-wal", "homeserver.db-shm"]:
            (tmp / name).unlink(missing_ok=True)
        (tmp / "homeserver.log").rename(tmp / "seed.log")
        result["timings"]["seed_total_s"] = round(time.monotonic() - t0, 2)
        result["synapse_version"] = SYNAPSE_VERSION
        result["stamp"] = stamp
        (tmp / "seed.json").write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
        (tmp / "stamp").write_text(stamp + "\n")  # last: a snapshot without it is not one

        old = snapshot.parent / f".{snapshot.name}.old-{os.getpid()}"
        if snapshot.exists():
            snapshot.rename(old)
        tmp.rename(snapshot)
        shutil.rmtree(old, ignore_errors=True)
        log(f"harness: seeded {snapshot} in {time.monotonic() - t0:.1f} s "
            f"({result['timings']['history_events']} events at {result['timings']['history_events_per_s']}/s)")
        return {"snapshot": str(snapshot), "seed_json": str(snapshot / "seed.json"), "cached": False,
                "timings": result["timings"]}


# --- start / stop ----------------------------------------------------------

def start(snapshot, instance, port, cas_port=None, extra_config=None, watch_pid=None):
    t0 = time.monotonic()
    snapshot, instance = Path(snapshot).resolve(), Path(instance).resolve()
    if not (snapshot / "stamp").is_file():
        die(f"{snapshot} is not a seeded snapshot: run `harness.py seed {snapshot}` first")
    if not venv_python().is_file():
        die(f"no Synapse venv at {venv_dir()}: run `harness.py install` (or `cargo xtask synapse install`)")
    if running(instance):
        die(f"an instance is already running in {instance}: stop it first")
    stop(instance)  # what a crashed instance left (its fake CAS, its watchdog)
    if instance.exists():
        # Wiped for the fresh copy, but only if it is empty or an earlier
        # instance: a mistyped path must not cost anyone a directory.
        if any(instance.iterdir()) and not (instance / "homeserver.yaml").exists():
            die(f"{instance} is neither empty nor a harness instance: refusing to wipe it")
        shutil.rmtree(instance)
    instance.mkdir(parents=True)

    # A fresh copy: a test that writes (sends, uploads, logs out) disturbs
    # nobody else. The media is small; the bench database is ~100 MB.
    for name in ["homeserver.db", SIGNING_KEY, "seed.json"]:
        shutil.copy2(snapshot / name, instance / name)
    shutil.copytree(snapshot / "media_store", instance / "media_store")

    port = port or free_port()
    if not port_is_free(port):
        die(f"port {port} on 127.0.0.1 is in use")
    if cas_port is not None:
        cas_port = cas_port or free_port()
    render(snapshot, instance, port, cas_port)
    extra = None
    if extra_config:
        extra = instance / "extra.yaml"
        shutil.copy2(extra_config, extra)
    if cas_port:
        _spawn("fake_cas", [sys.executable, str(HERE / "fake_cas.py"), str(cas_port), f"{instance}{os.sep}"],
               instance, "fake_cas.log")
    proc = _spawn("synapse", _synapse_argv(instance, extra), instance, "stdout.log")
    if watch_pid:
        _watch(instance, watch_pid)
    wait_ready(instance, port, proc)
    info = {
        "base_url": f"http://127.0.0.1:{port}",
        "port": port,
        "server_name": "localhost",
        "cas_url": f"http://127.0.0.1:{cas_port}" if cas_port else None,
        "instance": str(instance),
        "snapshot": str(snapshot),
        "seed_json": str(instance / "seed.json"),
        "pid": proc.pid,
        "start_ms": round((time.monotonic() - t0) * 1000),
    }
    (instance / "instance.json").write_text(json.dumps(info, indent=1) + "\n")
    log(f"harness: Synapse up on {info['base_url']} after {info['start_ms']} ms (pid {proc.pid})")
    return info


def status(instance):
    instance = Path(instance).resolve()
    try:
        info = json.loads((instance / "instance.json").read_text())
    except FileNotFoundError:
        info = {"instance": str(instance)}
    info["running"] = running(instance)
    info["answers"] = False
    if info["running"] and "base_url" in info:
        try:
            with urllib.request.urlopen(info["base_url"] + "/_matrix/client/versions", timeout=5) as r:
                info["answers"] = r.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
    return info


def _watchdog(instance, pid):
    instance = Path(instance)
    while alive(pid):
        if not (instance / "synapse.pid").exists():
            return  # stopped by someone else
        time.sleep(0.5)
    log(f"harness: watchdog: process {pid} ended; stopping {instance}")
    stop(instance)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("install")
    p = sub.add_parser("seed")
    p.add_argument("snapshot", nargs="?")
    p.add_argument("--preset", default="default")
    p.add_argument("--force", action="store_true", help="seed again even when the stamp matches")
    p = sub.add_parser("start")
    p.add_argument("snapshot")
    p.add_argument("instance")
    p.add_argument("port", type=int)
    p.add_argument("--cas-port", type=int)
    p.add_argument("--extra-config")
    p.add_argument("--watch-pid", type=int)
    for name in ("stop", "status", "check"):
        sub.add_parser(name).add_argument("instance")
    sub.add_parser("paths")
    p = sub.add_parser("_watch")
    p.add_argument("instance")
    p.add_argument("pid", type=int)
    a = ap.parse_args()

    if a.cmd == "install":
        install()
    elif a.cmd == "seed":
        print(json.dumps(seed(a.snapshot or default_snapshot(a.preset), a.preset, a.force), indent=1))
    elif a.cmd == "start":
        print(json.dumps(start(a.snapshot, a.instance, a.port, a.cas_port, a.extra_config, a.watch_pid), indent=1))
    elif a.cmd == "stop":
        t0 = time.monotonic()
        stopped = stop(a.instance)
        log(f"harness: stopped {', '.join(stopped) or 'nothing'} in {(time.monotonic() - t0) * 1000:.0f} ms")
    elif a.cmd == "status":
        info = status(a.instance)
        print(json.dumps(info, indent=1))
        sys.exit(0 if info["answers"] else 3)
    elif a.cmd == "check":
        import check
        check.run(Path(a.instance).resolve())
    elif a.cmd == "paths":
        print(json.dumps({"venv": str(venv_dir()), "python": str(venv_python()),
                          "snapshots": {p: str(default_snapshot(p)) for p in ("default", "bench")}}, indent=1))
    elif a.cmd == "_watch":
        _watchdog(a.instance, a.pid)


if __name__ == "__main__":
    main()
