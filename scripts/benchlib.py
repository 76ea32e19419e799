"""Shared machinery of scripts/bench: timing whole processes, peak RSS through a child
subreaper, rows and round-robin measurement, the fake identity provider and its request
ledger, the curl token family, vault population, machine description and table rendering.

Python 3 standard library only. Not a test module; imported by scripts/bench.

Wall time is measured around spawn + wait4 of each child (perf_counter_ns). Rows are run
round-robin (run i of every row, then run i+1), so slow drift from other load on the machine
hits every row alike and the ratios stay meaningful.

Peak RSS is ru_maxrss from os.wait4. A child's ru_maxrss also counts the peak RSS of the
memory image it replaced at exec, which for a child spawned straight from Python is this
interpreter (~14 MiB). So RSS samples come from commands forked by /bin/sh with this process
as child subreaper: the command is a grandchild forked from a ~1 MiB shell, and wait4 on it
here reports its own peak. Single-process rows take the sample from a separate run; the
concurrent row from its timed rounds. Without a subreaper (not Linux), RSS falls back to the
timed runs and a value at or below this process's peak is only an upper bound.
"""

import base64
import collections
import ctypes
import datetime
import gc
import hashlib
import http.client
import json
import os
import platform
import re
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import time
import urllib.parse

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BROWSER = os.path.join(REPO, "Tests", "TokvaultTests", "Support", "scripted-browser.py")

PASSPHRASE = "benchmark passphrase, not a secret"
SECRET = "bench-client-secret-0123456789abcdef"
CLIENT_ID = "5f0c2d7e-3b1a-4c8e-9d2f-6a7b8c9d0e1f"
# A service principal with a certificate (client assertions), registered on the fake as a
# second client; the client-secret apps reuse CLIENT_ID.
CERT_CLIENT_ID = "6a1d3e8f-4c2b-4d9f-8e3a-7b8c9d0e1f2a"
# The scaling vaults never reach a provider; the flow vault's tenant is the fake's.
VAULT_TENANT = "contoso.onmicrosoft.com"
FAKE_TENANT = "00000000-0000-0000-0000-0000000000aa"
FIRST_APP = "app00000"

PR_SET_CHILD_SUBREAPER = 36

PROG = "bench"


def set_prog(name):
    global PROG
    PROG = name


def die(message):
    print(f"{PROG}: {message}", file=sys.stderr)
    sys.exit(1)


def note(message):
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def child_env():
    """The caller's environment without what would change the commands' behaviour.

    TOKVAULT_*: flags decide everything. Proxy variables: curl would route http:// through
    http_proxy, tokvault only reads HTTPS_PROXY, and neither should here. GITHUB_ENV: with it,
    `export --format github` appends the secrets to the caller's file instead of printing them.
    """
    return {k: v for k, v in os.environ.items()
            if not k.startswith("TOKVAULT_") and not k.lower().endswith("_proxy") and k != "GITHUB_ENV"}


def check_run(argv, env, stdin_text=None, what=None, timeout=None):
    """Runs a set-up command; returns stdout, or stops with its stderr."""
    try:
        proc = subprocess.run(argv, env=env, input=stdin_text, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        die(f"{what or argv[0]} timed out after {timeout} s: {' '.join(argv)}")
    if proc.returncode != 0:
        die(f"{what or argv[0]} failed (exit {proc.returncode}): {' '.join(argv)}\n{proc.stderr.strip()}")
    return proc.stdout


def scratch_path():
    scratch = os.environ.get("SCRATCH") or ".build"
    return scratch if os.path.isabs(scratch) else os.path.join(REPO, scratch)


def build(scratch, products=None):
    """Release build of the whole package, or of the named products one by one."""
    for product in products or [None]:
        argv = ["swift", "build", "-c", "release", "--static-swift-stdlib", "--scratch-path", scratch]
        if product:
            argv += ["--product", product]
        note(" ".join(argv))
        started = time.monotonic()
        proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout + proc.stderr)
            die(f"release build{' of ' + product if product else ''} failed (exit {proc.returncode})")
        note(f"built{' ' + product if product else ''} in {time.monotonic() - started:.0f} s")


def binary(scratch, name):
    path = os.path.join(scratch, "release", name)
    if not os.access(path, os.X_OK):
        die(f"no binary at {path} (build it, or drop --no-build)")
    return path


def tool(name):
    return shutil.which(name) or die(f"{name} not found (apt-get install {name})")


def write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


# ---------------------------------------------------------------------------------------
# Processes


def enable_subreaper():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def exit_code(status):
    return os.waitstatus_to_exitcode(status)


def timed_run(argv, env):
    """One direct child: (wall ns, exit code, ru_maxrss KiB)."""
    start = time.perf_counter_ns()
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter_ns() - start
    proc.returncode = exit_code(status)  # reaped here; keep Popen from waiting again
    return elapsed, proc.returncode, usage.ru_maxrss


# Forks $1 subshells that each wait on a gate (stdin, kept as fd 3) and then exec "$@", and prints
# their pids. The gate matters: dash reaps a background child that has already exited whenever it
# runs its next command, so a command that finished before the shell did would be lost to wait4
# here. Gated, none can exit before the shell has exited and they have been reparented to this
# process (child subreaper), which then opens the gate and reaps them with wait4.
SPAWN_LAUNCHER = (
    'exec 3<&0 </dev/null; n=$1; shift; i=0; while [ "$i" -lt "$n" ]; do '
    '{ read -r _ <&3; exec "$@" 3<&-; } </dev/null >/dev/null 2>&1 & echo $!; i=$((i + 1)); done'
)


class Gated:
    """`count` copies of argv forked from /bin/sh, held before exec until `release()`."""

    def __init__(self, argv, env, count):
        gate_r, self.gate_w = os.pipe()
        try:
            shell = subprocess.Popen(["/bin/sh", "-c", SPAWN_LAUNCHER, "sh", str(count), *argv], env=env,
                                     stdin=gate_r, stdout=subprocess.PIPE)
            out, _ = shell.communicate()
        finally:
            os.close(gate_r)
        pids = out.split()
        if shell.returncode != 0 or len(pids) != count or not all(p.isdigit() for p in pids):
            os.close(self.gate_w)
            die(f"could not start {argv[0]} through /bin/sh")
        self.pids = [int(p) for p in pids]

    def release(self):
        """Lets every copy exec at once (EOF on the gate)."""
        os.close(self.gate_w)


def reap(pid):
    try:
        _, status, usage = os.wait4(pid, 0)
    except ChildProcessError:
        die(f"pid {pid} was reaped by someone else; no exit status or RSS for it")
    return exit_code(status), usage.ru_maxrss


def rss_run(argv, env):
    """One grandchild forked by /bin/sh and reaped here as subreaper: (exit code, ru_maxrss KiB)."""
    gated = Gated(argv, env, 1)
    gated.release()
    return reap(gated.pids[0])


# ---------------------------------------------------------------------------------------
# Rows


def describe_grants(grants):
    return ", ".join(f"{k or '(none)'} {v}" for k, v in sorted(grants.items())) or "none"


class Ledger:
    """Attributes every token request the fake sees to the execution that caused it.

    A snapshot of /_fake/stats is taken after every execution (outside the timed window); the
    difference to the previous one must be exactly what the row declares, so a cache-hit row
    that sends a grant, or a cold row that hits the cache, stops the run and is named.
    """

    def __init__(self, fake):
        self.fake = fake
        self.start = self.last = fake.stats()
        self.expected = collections.Counter()  # by grant type, since the ledger started

    def step(self, label, grants):
        """grants: the expected requests by grant type, or None to accept (and return) any."""
        now = self.fake.stats()
        before, after = self.last["token_requests"], now["token_requests"]
        delta = {g: after.get(g, 0) - before.get(g, 0) for g in set(before) | set(after)}
        delta = {g: n for g, n in delta.items() if n}
        rotations = now["refresh_rotations"] - self.last["refresh_rotations"]
        reuse = now["reuse_detections"] - self.last["reuse_detections"]
        self.last = now
        if reuse:
            die(f"{label}: the fake detected {reuse} refresh token reuse(s)")
        if grants is not None:
            if delta != grants:
                die(f"{label}: the fake saw token requests {describe_grants(delta)}, "
                    f"expected {describe_grants(grants)}: a cache-hit row made requests, or a cold row hit the cache")
            if rotations != grants.get("refresh_token", 0):
                die(f"{label}: the fake rotated {rotations} refresh token(s), "
                    f"expected {grants.get('refresh_token', 0)}")
        self.expected.update(delta if grants is None else grants)
        return sum(delta.values()), rotations

    def totals(self):
        """Requests by grant type since the ledger started, as counted by the fake."""
        before, after = self.start["token_requests"], self.last["token_requests"]
        got = {g: after.get(g, 0) - before.get(g, 0) for g in set(before) | set(after)}
        return {g: n for g, n in got.items() if n}


class Row:
    """A single-process row: every run is one command, timed alone.

    grants: token requests one execution must cause, by grant type (checked when a ledger is
    given); after: called after every execution (timed or RSS sample); passphrase: the row
    unlocks with the passphrase, whose KDF memory keeps it out of the RSS targets.
    """

    concurrent = False

    def __init__(self, key, label, argv, after=None, grants=None, passphrase=False):
        self.key = key
        self.label = label
        self.argv = argv
        self.after = after
        self.grants = grants or {}
        self.passphrase = passphrase
        self.times_ns = []
        self.rss_kib = []

    def execute(self, env, ledger, run):
        result = run(self.argv, env)
        self.check(result[-2], env)  # both runners end with (exit code, ru_maxrss)
        if self.after:
            self.after()
        if ledger:
            ledger.step(self.label, self.grants)
        return result

    def run_once(self, env, subreaper, record, ledger=None):
        elapsed, _, maxrss = self.execute(env, ledger, timed_run)
        if subreaper:
            _, maxrss = self.execute(env, ledger, rss_run)
        if record:
            self.times_ns.append(elapsed)
            self.rss_kib.append(maxrss)

    def check(self, code, env):
        if code != 0:
            proc = subprocess.run(self.argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
            die(f"{self.label} exited {code}: {' '.join(self.argv)}\n"
                f"(re-run: exit {proc.returncode}) {proc.stderr.strip()}")

    @property
    def median_ms(self):
        return statistics.median(self.times_ns) / 1e6

    @property
    def min_ms(self):
        return min(self.times_ns) / 1e6

    @property
    def max_ms(self):
        return max(self.times_ns) / 1e6

    @property
    def rss_mib(self):
        return statistics.median(self.rss_kib) / 1024


class ConcurrentRow(Row):
    """N copies of one command at once, after `before()` (which makes the cached token expire).

    A run is a round: the wall time from releasing the N (forked and held before exec) to
    reaping the last, the token requests the fake saw during it (needs a ledger), and the
    largest ru_maxrss among the N processes.
    """

    concurrent = True

    def __init__(self, key, label, argv, procs, before):
        super().__init__(key, label, argv)
        self.procs = procs
        self.before = before
        self.typical_rss_kib = []  # median ru_maxrss of the N processes per round
        self.requests = []  # token-endpoint requests per measured round (any grant type)
        self.rotations = []  # refresh_token grants answered with a new token per measured round
        self.warmup_requests = []

    def run_once(self, env, subreaper, record, ledger=None):
        self.before()
        if subreaper:
            gated = Gated(self.argv, env, self.procs)
            start = time.perf_counter_ns()
            gated.release()
            results = [reap(pid) for pid in gated.pids]
        else:
            start = time.perf_counter_ns()
            procs = [subprocess.Popen(self.argv, env=env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                     for _ in range(self.procs)]
            results = []
            for proc in procs:
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = exit_code(status)
                results.append((proc.returncode, usage.ru_maxrss))
        elapsed = time.perf_counter_ns() - start
        failed = [code for code, _ in results if code != 0]
        if failed:
            die(f"{self.label}: {len(failed)} of {self.procs} processes failed (exit codes {sorted(set(failed))})")
        requests, rotations = ledger.step(self.label, None) if ledger else (0, 0)
        if record:
            self.times_ns.append(elapsed)
            self.rss_kib.append(max(rss for _, rss in results))
            self.typical_rss_kib.append(statistics.median(rss for _, rss in results))
            self.requests.append(requests)
            self.rotations.append(rotations)
        else:
            self.warmup_requests.append(requests)


def measure(rows, runs, warmup, env, subreaper, ledger=None):
    gc.disable()
    try:
        for row in rows:
            for _ in range(warmup):
                row.run_once(env, subreaper, record=False, ledger=ledger)
        for i in range(runs):
            for row in rows:
                row.run_once(env, subreaper, record=True, ledger=ledger)
            print(f"\r{PROG}: run {i + 1}/{runs}", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr, flush=True)
    finally:
        gc.enable()


def executions_per_run(row, subreaper):
    """Executions of one row per run: a timed one, plus the separate RSS sample."""
    return 1 if row.concurrent or not subreaper else 2


def instruction_counts(rows, tokvault, tmp, env, ledger=None):
    """Instructions each row's command executes, counted by valgrind's callgrind: independent of
    load and clock speed, so their ratios hold where wall times are noisy. Only rows that send no
    token request and change nothing are counted (a run under valgrind takes seconds, long enough
    for a cached token to matter, and must not disturb the request ledger). tokvault runs as a
    copy without debug sections, which valgrind would otherwise spend its time reading.
    With a ledger, each run is checked to have sent no request. Returns {row key: instructions}."""
    valgrind = shutil.which("valgrind")
    if not valgrind:
        die("--instructions needs valgrind (apt-get install -y valgrind)")
    stripped = os.path.join(tmp, "tokvault-nodebug")
    check_run(["strip", "--strip-debug", "-o", stripped, tokvault], env, what="strip --strip-debug")
    counts = {}
    for row in rows:
        if row.concurrent or row.grants or row.after:
            continue
        argv = [stripped if a == tokvault else a for a in row.argv]
        proc = subprocess.run([valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null"] + argv, env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        found = re.search(r"Collected : (\d+)", proc.stderr)
        if proc.returncode != 0 or not found:
            die(f"{row.label}: callgrind run failed (exit {proc.returncode}): {proc.stderr.strip()[-400:]}")
        if ledger:
            ledger.step(f"{row.label} under callgrind", {})
        counts[row.key] = int(found.group(1))
    return counts


def instruction_rows(rows, counts, reference_key):
    """Table body: row, instructions (millions), ratio to the reference row."""
    reference = counts[reference_key]
    return [[row.label, f"{counts[row.key] / 1e6:.2f}", f"{counts[row.key] / reference:.2f}x"]
            for row in rows if row.key in counts]


INSTRUCTION_HEADERS = ["command", "instructions (M)", "vs --version"]


# ---------------------------------------------------------------------------------------
# Vaults

# Clones the real first app into apps app00001.. with fresh ids. Their sealed client
# secret would not open under another row id (the id is in the AAD), so clones are
# public clients: client_secret NULL, client_auth 'none'.
CLONE_SQL = """
BEGIN;
WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {clones})
INSERT INTO app (id, name, provider, tenant, cloud, authority_host, client_id,
                 authorize_endpoint, token_endpoint, device_endpoint, redirect_uri, scope,
                 flow, client_auth, client_secret, created_at, updated_at)
SELECT lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-' ||
       lower(hex(randomblob(2))) || '-' || lower(hex(randomblob(2))) || '-' ||
       lower(hex(randomblob(6))),
       printf('app%05d', seq.n), provider, tenant, cloud, authority_host,
       lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-' ||
       lower(hex(randomblob(2))) || '-' || lower(hex(randomblob(2))) || '-' ||
       lower(hex(randomblob(6))),
       authorize_endpoint, token_endpoint, device_endpoint, redirect_uri, scope,
       flow, 'none', NULL, created_at + seq.n, updated_at + seq.n
FROM seq, app WHERE app.name = '{first}';
COMMIT;
"""


def make_scaling_vault(tokvault, sqlite3, tmp, size, env, passphrase_file):
    """A vault of `size` apps (one real confidential app, the rest clones), key file + passphrase."""
    vault = os.path.join(tmp, f"vault-{size}.db")
    key = os.path.join(tmp, f"vault-{size}.key")
    # Default KDF (ops 3 / 128 MiB): the passphrase row measures the shipped cost.
    check_run([tokvault, "init", "--vault", vault, "--new-key-file", key,
               "--new-passphrase-file", passphrase_file], env, what="tokvault init")
    check_run([tokvault, "add-app", FIRST_APP, "--vault", vault, "--tenant", VAULT_TENANT,
               "--client-id", CLIENT_ID, "--secret-stdin", "--key-file", key],
              env, stdin_text=SECRET, what="tokvault add-app")
    if size > 1:
        check_run([sqlite3, vault], env, stdin_text=CLONE_SQL.format(clones=size - 1, first=FIRST_APP),
                  what="sqlite3 (cloning apps)")
    count = check_run([sqlite3, vault, "select count(*) from app"], env).strip()
    if count != str(size):
        die(f"{vault} has {count} apps, expected {size}")
    return vault, key


class FlowVault:
    """A vault with a key file (no passphrase) whose apps get their tokens from the fake.

    adme: a confidential user app, signed in with the scripted browser (refresh token stored);
    svc: client credentials with the client secret, for cache hits; svc-cold: the same client,
    for cold grants (expiring its token after each run must not turn the next cache-hit run of
    svc into a grant); svc-cert: client credentials with a PS256 client assertion.
    """

    def __init__(self, tokvault, sqlite3, fake, tmp, env, secret_file, cert_file, cert_key_file):
        self.tokvault, self.sqlite3, self.env = tokvault, sqlite3, env
        self.vault = os.path.join(tmp, "vault-flow.db")
        self.key = os.path.join(tmp, "vault-flow.key")
        tv = [tokvault]
        unlock = ["--vault", self.vault, "--key-file", self.key]
        check_run(tv + ["init", "--vault", self.vault, "--no-passphrase", "--new-key-file", self.key], env,
                  what="tokvault init")
        check_run(tv + ["add-app", "adme", "--tenant", FAKE_TENANT, "--client-id", CLIENT_ID,
                        "--authority-host", fake.base, "--secret-file", secret_file] + unlock,
                  env, what="tokvault add-app adme")
        check_run(tv + ["login", "adme", "--port", "0"] + unlock, dict(env, BROWSER=BROWSER),
                  what="tokvault login", timeout=120)
        self.app = json.loads(check_run(tv + ["show", "adme", "--vault", self.vault, "--json"], env))
        if not self.app.get("has_refresh_token"):
            die("login stored no refresh token")
        for name in ("svc", "svc-cold"):
            check_run(tv + ["add-app", name, "--tenant", FAKE_TENANT, "--client-id", CLIENT_ID,
                            "--authority-host", fake.base, "--flow", "client-credentials",
                            "--secret-file", secret_file] + unlock, env, what=f"tokvault add-app {name}")
        check_run(tv + ["add-app", "svc-cert", "--tenant", FAKE_TENANT, "--client-id", CERT_CLIENT_ID,
                        "--authority-host", fake.base, "--flow", "client-credentials", "--certificate", cert_file,
                        "--private-key-file", cert_key_file] + unlock, env, what="tokvault add-app svc-cert")
        self.svc = json.loads(check_run(tv + ["show", "svc", "--vault", self.vault, "--json"], env))
        self.first_token = self.token("adme")
        for name in ("svc", "svc-cold", "svc-cert"):
            self.token(name)

    def argv(self, *args):
        return [self.tokvault, *args, "--vault", self.vault, "--key-file", self.key]

    def token(self, name):
        """`token NAME` once, checked to print the fake's access token and nothing else."""
        printed = check_run(self.argv("token", name), self.env, what=f"tokvault token {name}")
        token = printed.strip()
        if not token.startswith("fake-at-") or printed != token + "\n":
            die(f"token {name} printed something that is not the fake's access token")
        return token

    def expire(self, name):
        """Returns a callable that makes NAME's cached access token expired (a public column)."""
        def run():
            check_run([self.sqlite3, self.vault,
                       "update access_token set expires_at = CAST(strftime('%s', 'now') AS INTEGER) - 1 "
                       f"where app_id = (select id from app where name = '{name}')"], self.env,
                      what=f"sqlite3 (expiring the cached token of {name})")
        return run


# ---------------------------------------------------------------------------------------
# The fake identity provider and the curl token family


class FakeIdP:
    def __init__(self, binary_path, secret_file, certificate_file, env):
        self.proc = subprocess.Popen(
            [binary_path, "--tenant", FAKE_TENANT, "--client-id", CLIENT_ID, "--client-secret-file", secret_file,
             "--client-id", CERT_CLIENT_ID, "--client-certificate", certificate_file],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        prefix = "listening on http://127.0.0.1:"
        if not line.startswith(prefix):
            self.stop()
            die(f"tokvault-fake-idp did not start: {line!r} {self.proc.stderr.read().strip()}")
        self.port = int(line[len(prefix):])
        self.base = f"http://127.0.0.1:{self.port}"

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.getheader("Location"), response.read()
        finally:
            conn.close()

    def stats(self):
        status, _, data = self.request("GET", "/_fake/stats")
        if status != 200:
            die(f"GET /_fake/stats answered {status}")
        return json.loads(data)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def curl_family(fake, app):
    """Authorization code + PKCE against the fake, done here: a refresh token that is not the vault's."""
    verifier = b64url(secrets.token_bytes(32))
    challenge = b64url(hashlib.sha256(verifier.encode("ascii")).digest())
    state = b64url(secrets.token_bytes(16))
    authorize = urllib.parse.urlsplit(app["authorize_endpoint"])
    query = urllib.parse.urlencode({
        "client_id": app["client_id"], "response_type": "code", "redirect_uri": app["redirect_uri"],
        "scope": app["scope"], "state": state, "code_challenge": challenge, "code_challenge_method": "S256",
    })
    status, location, _ = fake.request("GET", f"{authorize.path}?{query}")
    if status != 302 or not location:
        die(f"authorize answered {status} without a redirect")
    answer = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    if answer.get("state") != state or "code" not in answer:
        die(f"authorize redirect carries no code for our state (error: {answer.get('error')})")
    token = urllib.parse.urlsplit(app["token_endpoint"])
    body = urllib.parse.urlencode({
        "grant_type": "authorization_code", "code": answer["code"], "redirect_uri": app["redirect_uri"],
        "code_verifier": verifier, "scope": app["scope"], "client_id": app["client_id"], "client_secret": SECRET,
    })
    status, _, data = fake.request("POST", token.path, body=body,
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    if status != 200:
        die(f"code redemption answered {status}: {data[:200]!r}")
    refresh_token = json.loads(data).get("refresh_token")
    if not refresh_token:
        die("code redemption returned no refresh token")
    return refresh_token


class CurlRotation:
    """After each curl run: take the rotated refresh token from the response for the next run."""

    def __init__(self, response_file, token_file):
        self.response_file = response_file
        self.token_file = token_file

    def __call__(self):
        with open(self.response_file, "rb") as f:
            data = f.read()
        try:
            refresh_token = json.loads(data)["refresh_token"]
        except (ValueError, KeyError):
            die(f"curl's token response has no refresh_token: {data[:200]!r}")
        write_private(self.token_file, refresh_token)  # no newline: curl's @file sends the file as is
        os.unlink(self.response_file)


def curl_refresh_argv(curl, app, token_file, secret_file, response_file):
    """The form fields tokvault sends for a client_secret_post refresh, sent by curl."""
    return [curl, "-s", "-f", "-X", "POST", app["token_endpoint"],
            "-H", "Accept: application/json", "-A", "tokvault",
            "--data-urlencode", "grant_type=refresh_token",
            "--data-urlencode", f"refresh_token@{token_file}",
            "--data-urlencode", f"scope={app['scope']}",
            "--data-urlencode", f"client_id={app['client_id']}",
            "--data-urlencode", f"client_secret@{secret_file}",
            "-o", response_file]


def curl_client_credentials_argv(curl, app, secret_file):
    return [curl, "-s", "-f", "-X", "POST", app["token_endpoint"],
            "-H", "Accept: application/json", "-A", "tokvault",
            "--data-urlencode", "grant_type=client_credentials",
            "--data-urlencode", f"scope={app['scope']}",
            "--data-urlencode", f"client_id={app['client_id']}",
            "--data-urlencode", f"client_secret@{secret_file}",
            "-o", os.devnull]


# ---------------------------------------------------------------------------------------
# Report


def load_average():
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def machine_info(env, subreaper, versions):
    """versions: (name, argv, parse) triples; parse turns the command's stdout into a version."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count()
    commit = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip() or "n/a"
    if subreaper:
        floor = rss_run(["/bin/true"], env)[1] / 1024
        rss_note = f"ru_maxrss via wait4, commands forked from /bin/sh (floor: /bin/true = {floor:.1f} MiB)"
    else:
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rss_note = f"ru_maxrss via wait4 of direct children; values <= {own:.1f} MiB are upper bounds"
    info = [
        ("date", datetime.datetime.now().astimezone().isoformat(timespec="seconds")),
        ("nproc", str(nproc)),
        ("cpu", model),
        ("kernel", f"{platform.system()} {platform.release()}"),
        ("load avg before", load_average()),
        ("commit", commit),
    ]
    info += [(name, parse(check_run(argv, env))) for name, argv, parse in versions]
    info += [("python", platform.python_version()), ("peak RSS", rss_note)]
    return info


HEADERS = ["command", "median ms", "min ms", "max ms", "vs --version", "peak RSS MiB"]


def table_rows(rows, reference):
    return [[
        row.label,
        f"{row.median_ms:.2f}",
        f"{row.min_ms:.2f}",
        f"{row.max_ms:.2f}",
        "-" if row.concurrent else f"{row.median_ms / reference.median_ms:.2f}x",
        f"{row.rss_mib:.1f}",
    ] for row in rows]


def render_text(headers, body, right_from=1):
    widths = [max(len(str(r[i])) for r in [headers] + body) for i in range(len(headers))]

    def line(cells):
        return "  ".join(c.ljust(w) if i < right_from else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in body])


def render_markdown(headers, body, right_from=1):
    aligns = [":--" if i < right_from else "--:" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(aligns) + " |"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in body]
    return "\n".join(lines)


def render_info_text(info):
    width = max(len(k) for k, _ in info)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in info)


def counts(values):
    """'1 in each of 20 rounds', or '1 x18, 2 x2 over 20 rounds', for per-round request counts."""
    distinct = sorted(set(values))
    if len(distinct) == 1:
        return f"{distinct[0]} in each of {len(values)} rounds"
    return ", ".join(f"{v} x{values.count(v)}" for v in distinct) + f" over {len(values)} rounds"
