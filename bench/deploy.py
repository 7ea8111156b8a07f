#!/usr/bin/python3
"""make bench-deploy: the Docker Compose and Swarm deployments measured beside the native stack, in one run.

With make bench's wrk settings and pages ((a) /nginx-ping, the nginx ceiling; (b) /;
(c) /count), one after the other on the same machine:
  native     the native stack (scripts/stack.sh), as make bench measures it;
  inside     the compose deployment from inside the nginx container's own network
             namespace: the host's wrk run under `nsenter -t <nginx pid> -n`, aimed at
             127.0.0.1:8080 there, so no Docker relay is in the path;
  published  the compose deployment through its port published on 127.0.0.1, which
             Docker relays through its userland docker-proxy for local clients;
  swarm-inside, swarm-published
             the same two for the stack `docker stack deploy` makes of compose.yml
             (scripts/swarm.sh, what make swarm-deploy runs), whose published port is
             Swarm's routing mesh (the ingress network and IPVS), or on a kernel without
             IPVS the node's own (PUBLISH_MODE=host, relayed as compose's is), when the
             engine is a swarm manager or swarm mode can be initialised (this run then
             leaves it).
The difference between inside and published is the relay's own cost. Every load goes to a
loopback address. Each /count run is checked as make bench checks it (visits rose by
exactly nginx's 200s, at least one 200, no fewer 200s than wrk received less its
errors); the compose nginx's access log is its container log.

The compose stack runs under its own project name on a free port with as many workers as
the native stack has, and FCGI_THREADS, FASTCGI_KEEPALIVE and NGINX_WORKER_PROCESSES as
given (defaults: compose.yml's, the same as the native stack's). Its images are built
before anything is measured. Everything it started is removed at the end, also on
failure or SIGTERM: containers, networks, volumes, the images built, and the base image
debian:bookworm-slim when this run made it (tests/make-base-image.sh).

Results: bench/results/deploy.md, deploy.json, and a row per deployment in
deploy-history.csv. Exits 1 when a count check fails, 2 when a stack cannot be set up.

The stack runs on a node labelled khalid.redis=true (this node is labelled when no node is,
and unlabelled at the end) under its own name, with images tagged for this run; its
services, networks, secrets, volumes and images are removed at the end.
"""
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402
from bench import REPO, RESULTS  # noqa: E402
from lib.free_subnet import free_subnet as lib_free_subnet  # noqa: E402
from lib.stack import StackError, free_port  # noqa: E402

COMPOSE_FILE = os.path.join(REPO, "compose.yml")
# Only for this measurement: see the file for why.
OVERRIDE_FILE = os.path.join(HERE, "compose.bench.yml")
BASE_IMAGE = "debian:bookworm-slim"
NGINX_PORT_INSIDE = 8080
# Order of the columns: the relay's cost is the step from inside to published. The swarm
# ones only when a swarm could be had.
DEPLOYMENTS = (("native", "native stack"),
               ("inside", "compose, inside nginx's network namespace"),
               ("published", "compose, published port on 127.0.0.1"),
               ("swarm-inside", "swarm, inside nginx's network namespace"),
               ("swarm-published", "swarm, published port on 127.0.0.1"))


def kind(dep):
    """The settings a deployment's column reports: native, compose or swarm."""
    return "native" if dep == "native" else "swarm" if dep.startswith("swarm") else "compose"


class DeployError(Exception):
    pass


def docker(*args, check=True):
    r = subprocess.run(["docker"] + list(args), capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise DeployError("docker %s: %s" % (" ".join(args[:2]), (r.stderr or r.stdout).strip()[-500:]))
    return r.stdout


def dangling_images():
    return set(docker("images", "-q", "--no-trunc", "--filter", "dangling=true").split())


def compose_command():
    if os.environ.get("COMPOSE"):
        return os.environ["COMPOSE"].split()
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise DeployError("neither 'docker compose' nor docker-compose is installed")


class Compose:
    """The compose deployment under a project name of its own, published on 127.0.0.1."""

    def __init__(self, env):
        self.dc = compose_command()
        self.project = "ktbench%d" % os.getpid()
        self.tmp = tempfile.mkdtemp(prefix="kt-bench-deploy-")
        self.port = free_port()
        self.envf = os.path.join(self.tmp, "bench.env")
        with open(self.envf, "w") as f:
            f.write("HTTP_PORT=127.0.0.1:%d\n" % self.port)
            # compose.yml publishes the HTTPS port too: on loopback, not on 5443 everywhere.
            f.write("HTTPS_PORT=127.0.0.1:%d\n" % free_port())
            # wrk is one client: nginx's rate limit would measure only itself.
            f.write("RATE_LIMIT=0\n")
            # The monitoring network's subnet is fixed: one no other network here uses.
            f.write("MONITORING_SUBNET=%s\n" % free_subnet())
            for k, v in env.items():
                f.write("%s=%s\n" % (k, v))
        # The classic builder uses the local base image; BuildKit may try to resolve FROM
        # remotely. Settings a developer exported must not reach the measured stack.
        self.env = {k: v for k, v in os.environ.items() if k not in (
            "COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "HTTP_PORT", "REDIS_PASSWORD", "REDIS_PASSWORD_SECRET_FILE",
            "APP_NAME", "FCGI_THREADS", "REDIS_TIMEOUT_MS", "SHOW_SERVED_BY", "GITHUB_URL", "LINKEDIN_URL",
            "NGINX_WORKER_PROCESSES", "FASTCGI_KEEPALIVE", "TLS", "TLS_CERT", "TLS_KEY", "TLS_CHAIN",
            "HTTPS_PORT", "HSTS_MAX_AGE", "SERVER_NAME", "RATE_LIMIT", "RATE_BURST", "RATE_LIMIT_EXEMPT")}
        self.env.update(DOCKER_BUILDKIT="0", COMPOSE_DOCKER_CLI_BUILD="0")
        self.v1 = self.compose("version", "--short", check=False).startswith("1.")
        self.dangling_before = dangling_images()
        self.base_made = None
        self.built = False
        self.started = False

    def compose(self, *args, check=True, log=None):
        argv = self.dc + ["--env-file", self.envf, "-p", self.project, "-f", COMPOSE_FILE,
                          "-f", OVERRIDE_FILE] + list(args)
        out = open(log, "a") if log else subprocess.PIPE
        try:
            r = subprocess.run(argv, env=self.env, stdout=out, stderr=subprocess.STDOUT, text=True,
                               stdin=subprocess.DEVNULL, cwd=REPO)
        finally:
            if log:
                out.close()
        if check and r.returncode != 0:
            tail = open(log).read()[-1500:] if log else r.stdout[-1500:]
            raise DeployError("%s %s failed:\n%s" % (" ".join(self.dc), " ".join(args), tail))
        return r.stdout or ""

    def build(self):
        if subprocess.run(["docker", "image", "inspect", BASE_IMAGE], capture_output=True).returncode != 0:
            print("bench-deploy: %s is missing: making it from Debian's packages" % BASE_IMAGE, flush=True)
            r = subprocess.run(["bash", os.path.join(REPO, "tests", "make-base-image.sh")],
                               stdout=subprocess.PIPE, text=True)
            if r.returncode != 0:
                raise DeployError("tests/make-base-image.sh failed")
            self.base_made = r.stdout.strip() or None
        # 1.x builds one image after the other, and keeps a failed step's container, unless told.
        t0 = time.monotonic()
        self.built = True
        self.compose("build", *(["--parallel", "--force-rm"] if self.v1 else []),
                     log=os.path.join(self.tmp, "build.log"))
        print("bench-deploy: compose images built in %.0f s" % (time.monotonic() - t0), flush=True)

    def up(self, workers, timeout=120):
        self.started = True
        self.compose("up", "-d", "--scale", "fcgi-app=%d" % workers, log=os.path.join(self.tmp, "up.log"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready(workers):
                return
            time.sleep(0.5)
        raise DeployError("the compose stack was not ready with %d workers within %d s" % (workers, timeout))

    def ready(self, workers):
        """/health answers 200 and nginx's balancer holds exactly the running workers."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=3)
        try:
            conn.request("GET", "/health")
            if conn.getresponse().status != 200:
                return False
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()
        peers = docker("exec", self.cid("nginx"), "cat", "/run/nginx/peers", check=False)
        return len(re.findall(r"^[0-9.]+:\d+$", peers, re.M)) == workers == len(self.cids("fcgi-app"))

    def cids(self, service):
        return docker("ps", "-q", "--no-trunc", "--filter", "label=com.docker.compose.project=%s" % self.project,
                      "--filter", "label=com.docker.compose.service=%s" % service).split()

    def cid(self, service):
        ids = self.cids(service)
        if not ids:
            raise DeployError("no running %s container" % service)
        return ids[0]

    def nginx_pid(self):
        return int(docker("inspect", "-f", "{{.State.Pid}}", self.cid("nginx")).strip())

    def settings(self):
        """What the running deployment uses, read off its containers."""
        upstream = docker("exec", self.cid("nginx"), "cat", "/run/nginx/upstream.conf")
        conf = docker("exec", self.cid("nginx"), "cat", "/run/nginx/nginx.conf")
        procs = re.search(r"^worker_processes (\d+);", conf, re.M)
        keepalive = re.search(r"keepalive (\d+);", upstream)
        env = docker("inspect", "-f", "{{range .Config.Env}}{{println .}}{{end}}", self.cids("fcgi-app")[0])
        threads = re.search(r"^FCGI_THREADS=(\d+)$", env, re.M)
        return {"workers": len(self.cids("fcgi-app")),
                "threads_per_worker": int(threads.group(1)) if threads else None,
                "fastcgi_keepalive": int(keepalive.group(1)) if keepalive else 0,
                "nginx_worker_processes": int(procs.group(1)) if procs else None}

    def visits(self):
        out = docker("exec", self.cid("redis"), "sh", "-c",
                     'REDISCLI_AUTH="$(cat /run/redis/password)" redis-cli --raw get visits').strip()
        if out == "":
            return 0
        if not out.isdigit():
            raise DeployError("redis-cli GET visits answered %r" % out)
        return int(out)

    def access_log_size(self):
        """The size of the nginx container's log file (the access log goes to its stdout)."""
        path = docker("inspect", "-f", "{{.LogPath}}", self.cid("nginx")).strip()
        return os.path.getsize(path)

    def access_log_since(self, since):
        """The nginx container's stdout lines logged since `since` (Unix time, a string)."""
        r = subprocess.run(["docker", "logs", "--since", since, self.cid("nginx")],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise DeployError("docker logs of nginx failed")
        return r.stdout.splitlines()

    def teardown(self):
        """Removes everything this object made, whatever state it got to."""
        if self.started or self.built:
            r = subprocess.run(self.dc + ["--env-file", self.envf, "-p", self.project, "-f", COMPOSE_FILE,
                                          "-f", OVERRIDE_FILE, "down", "-v", "--rmi", "local", "--remove-orphans",
                                          "-t", "10"], env=self.env, capture_output=True, text=True, cwd=REPO)
            if r.returncode != 0:
                print("bench-deploy: compose down: %s" % r.stderr.strip()[-500:], file=sys.stderr)
        label = "label=com.docker.compose.project=%s" % self.project
        for kind, rm in (("ps", ["rm", "-f"]), ("volume", ["volume", "rm", "-f"]), ("network", ["network", "rm"])):
            ls = [kind, "-aq"] if kind == "ps" else [kind, "ls", "-q"]
            left = docker(*ls, "--filter", label, check=False).split()
            if left:
                docker(*rm, *left, check=False)
        refs = docker("images", "--format", "{{.Repository}}:{{.Tag}}", check=False).split()
        mine = [r for r in refs if re.match(r"^%s[-_]" % re.escape(self.project), r)]
        if mine:
            docker("rmi", *mine, check=False)
        new = dangling_images() - self.dangling_before  # build stages the classic builder leaves
        if new:
            docker("rmi", *sorted(new), check=False)
        if self.base_made:  # left while other images or containers stand on it
            subprocess.run(["bash", os.path.join(REPO, "tests", "make-base-image.sh"), "--remove", self.base_made])
        shutil.rmtree(self.tmp, ignore_errors=True)


def free_subnet():
    """A /24 for compose.yml's monitoring network that nothing here overlaps."""
    subnet = lib_free_subnet()
    if subnet is None:
        raise DeployError("no free /24 in 172.16.0.0/16 for the monitoring network")
    return subnet


class Swarm(Compose):
    """compose.yml as a stack on this engine's swarm (scripts/swarm.sh) on a free port,
    measured on 127.0.0.1 only. Published through Swarm's routing mesh, or, on a kernel
    without IPVS (which the mesh needs), on this node only (PUBLISH_MODE=host)."""

    def __init__(self, env):
        super().__init__(env)
        self.stack = "ktbswarm%d" % os.getpid()
        self.tag = "bench-" + self.stack
        self.port, self.https_port = free_port(), free_port()
        self.publish_mode = "ingress" if os.path.exists("/proc/net/ip_vs") else "host"
        self.deploy_env = dict(self.env, STACK=self.stack, HTTP_PORT=str(self.port), HTTPS_PORT=str(self.https_port),
                               KHALID_VERSION=self.tag, SECRETS_DIR=os.path.join(self.tmp, "secrets"), RATE_LIMIT="0",
                               PUBLISH_MODE=self.publish_mode, COMPOSE=" ".join(self.dc), **env)
        self.swarm_made = False
        self.labelled = None
        self.ns = "label=com.docker.stack.namespace=%s" % self.stack

    def join(self):
        """Uses this engine's swarm as a manager, or makes one; DeployError when neither can be."""
        state = docker("info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}").strip()
        if state.startswith("inactive"):
            # Joining makes docker_gwbridge, which Docker keeps after leaving.
            self.gwbridge_before = subprocess.run(["docker", "network", "inspect", "docker_gwbridge"],
                                                  capture_output=True).returncode == 0
            docker("swarm", "init", "--advertise-addr", "127.0.0.1")
            self.swarm_made = True
        elif state != "active true":
            raise DeployError("this engine is in a swarm but not a manager (%s)" % state)
        node = docker("info", "--format", "{{.Swarm.NodeID}}").strip()
        if docker("node", "inspect", "-f", '{{index .Spec.Labels "khalid.redis"}}', node).strip() != "true":
            self.labelled = node  # scripts/swarm.sh labels the only node

    def up(self, workers, timeout=240):
        self.started = True
        log = os.path.join(self.tmp, "swarm-deploy.log")
        with open(log, "w") as out:
            r = subprocess.run(["bash", os.path.join(REPO, "scripts", "swarm.sh"), "deploy", OVERRIDE_FILE],
                               env=dict(self.deploy_env, WORKERS=str(workers), MONITORING_SUBNET=free_subnet()),
                               stdout=out, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, cwd=REPO)
        if r.returncode != 0:
            raise DeployError("scripts/swarm.sh deploy failed:\n%s" % open(log).read()[-1500:])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready(workers) and len(self.cids("nginx")) == len(self.cids("redis")) == 1:
                return
            time.sleep(0.5)
        raise DeployError("the swarm stack was not ready with %d workers within %d s" % (workers, timeout))

    def cids(self, service):
        return docker("ps", "-q", "--no-trunc", "--filter",
                      "label=com.docker.swarm.service.name=%s_%s" % (self.stack, service)).split()

    def teardown(self):
        if self.started:
            docker("stack", "rm", self.stack, check=False)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and (docker("ps", "-aq", "--filter", self.ns, check=False).split() or
                                                   docker("network", "ls", "-q", "--filter", self.ns, check=False).split()):
                time.sleep(0.5)
            for _ in range(20):  # a volume is busy until its task's container is gone
                left = docker("volume", "ls", "-q", "--filter", self.ns, check=False).split()
                if not left:
                    break
                docker("volume", "rm", "-f", *left, check=False)
                time.sleep(0.5)
            left = docker("secret", "ls", "-q", "--filter", self.ns, check=False).split()
            if left:
                docker("secret", "rm", *left, check=False)
            mine = docker("images", "--format", "{{.Repository}}:{{.Tag}}", "--filter",
                          "reference=khalid-tracker/*:%s" % self.tag, check=False).split()
            if mine:
                docker("rmi", *mine, check=False)
            new = dangling_images() - self.dangling_before  # build stages the classic builder leaves
            if new:
                docker("rmi", *sorted(new), check=False)
        if self.labelled:
            docker("node", "update", "--label-rm", "khalid.redis", self.labelled, check=False)
        if self.swarm_made:
            docker("swarm", "leave", "--force", check=False)
            if not self.gwbridge_before:
                docker("network", "rm", "docker_gwbridge", check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)


class ComposeTarget:
    """A compose or swarm deployment as a thing to measure (see bench.NativeTarget)."""

    def __init__(self, compose, inside):
        self.compose, self.inside = compose, inside
        self.netns_pid = compose.nginx_pid() if inside else None

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (NGINX_PORT_INSIDE if self.inside else self.compose.port, path)

    def visits(self):
        return self.compose.visits()

    def log_mark(self):
        bench.wait_until_still(self.compose.access_log_size)
        return "%.6f" % time.time()

    def count_200s_since(self, mark):
        bench.wait_until_still(self.compose.access_log_size)
        return bench.count_200s(self.compose.access_log_since(mark))


def report(when, load, args, settings, runs):
    """Markdown: one row per page with the deployments side by side, then the details."""
    deployments = [(dep, name) for dep, name in DEPLOYMENTS if dep in runs]
    lines = ["| page | " + " | ".join("%s req/s | p99 ms" % name for _, name in deployments) + " | published / native |",
             "|---|" + "---:|---:|" * len(deployments) + "---:|"]
    for key, page in (("ceiling", "(a) `/nginx-ping`"), ("home", "(b) `/`"), ("count", "(c) `/count`")):
        cells = []
        for dep, _ in deployments:
            r = runs[dep][key]
            cells.append("%.0f | %.2f" % (r["rps"], r["p99_ms"]))
        lines.append("| %s | %s | %.2f |" % (page, " | ".join(cells),
                                            runs["published"][key]["rps"] / runs["native"][key]["rps"]))
    m = bench.machine()
    lines += ["", "%s; %d CPUs (%s), kernel %s, load average %.2f before; wrk -t2 -c%d -d%ds on the host "
              "for each page, aimed at 127.0.0.1 (inside: in the nginx container's network namespace)." % (
                  when, m["cpus"], m["cpu"], m["kernel"], load, args.connections, args.duration)]
    for dep, name in deployments:
        st = settings[kind(dep)]
        errors = sum(runs[dep][k]["non2xx"] + runs[dep][k]["socket_errors"] for k in ("ceiling", "home", "count"))
        lines.append("- %s: %s workers x %s threads, FastCGI keep-alive %s, %s nginx worker process(es)%s; "
                     "non-2xx + socket errors over the three pages: %d; %s" % (
                         name, st["workers"], st["threads_per_worker"], st["fastcgi_keepalive"],
                         st["nginx_worker_processes"],
                         ", ports published in %s mode" % st["publish_mode"] if "publish_mode" in st else "",
                         errors, bench.count_line("", runs[dep]["count_check"])))
    return "\n".join(lines)


HISTORY_COLUMNS = ["when", "deployment", "workers", "threads", "fastcgi_keepalive", "nginx_processes",
                   "connections", "duration_s", "ceiling_rps", "ceiling_p99_ms", "home_rps", "home_p99_ms",
                   "count_rps", "count_p99_ms", "count_exact", "ceiling_non2xx", "ceiling_socket_errors",
                   "home_non2xx", "home_socket_errors", "count_non2xx", "count_socket_errors",
                   "count_nginx_200s", "count_visits_rose", "count_wrk_answers", "load_average_before"]


def main():
    args = bench.arg_parser(__doc__.split("\n")[0]).parse_args()
    bench.require_wrk()
    if not shutil.which("nsenter"):
        sys.exit("bench-deploy: nsenter is missing (util-linux)")
    bench.stop_on_sigterm()
    env = {k: v for k, v in (("FCGI_THREADS", args.threads), ("FASTCGI_KEEPALIVE", args.keepalive),
                             ("NGINX_WORKER_PROCESSES", args.nginx_processes)) if v is not None}
    runs, settings = {}, {}
    compose = swarm = None
    load = bench.load_average()
    try:
        compose = Compose({k: str(v) for k, v in env.items()})
        compose.build()  # before any measurement: building takes both cores for minutes
        with bench.native_stack(args, "bench-deploy", args.workers, args.threads, args.keepalive) as stack:
            settings["native"] = bench.stack_settings(stack)
            print("bench-deploy: native stack", flush=True)
            runs["native"] = bench.measure(bench.NativeTarget(stack), args.duration, args.connections)
        compose.up(settings["native"]["workers"])
        settings["compose"] = compose.settings()
        for dep in ("inside", "published"):
            print("bench-deploy: compose, %s" % dep, flush=True)
            runs[dep] = bench.measure(ComposeTarget(compose, dep == "inside"), args.duration, args.connections)
        compose.teardown()
        compose = None
        swarm = Swarm({k: str(v) for k, v in env.items()})
        try:
            swarm.join()
        except DeployError as e:
            print("bench-deploy: no swarm to measure, skipped: %s" % e, file=sys.stderr)
            swarm.teardown()
            swarm = None
        if swarm is not None:
            print("bench-deploy: swarm stack: building and deploying", flush=True)
            swarm.up(settings["native"]["workers"])
            settings["swarm"] = dict(swarm.settings(), publish_mode=swarm.publish_mode)
            for dep in ("swarm-inside", "swarm-published"):
                print("bench-deploy: %s" % dep, flush=True)
                runs[dep] = bench.measure(ComposeTarget(swarm, dep == "swarm-inside"), args.duration, args.connections)
    except (DeployError, StackError) as e:
        print("bench-deploy: %s" % e, file=sys.stderr)
        return 2
    finally:
        for d in (compose, swarm):
            if d is not None:
                d.teardown()
    when = bench.now_utc()
    table = report(when, load, args, settings, runs)
    print(table)
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "deploy.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(RESULTS, "deploy.json"), "w") as f:
        json.dump({"when": when, "machine": dict(bench.machine(), load_average_before=load), "connections": args.connections,
                   "duration_s": args.duration, "settings": settings, "runs": runs}, f, indent=2)
    deployments = [dep for dep, _ in DEPLOYMENTS if dep in runs]
    for dep in deployments:
        m, st = runs[dep], settings[kind(dep)]
        bench.append_history(os.path.join(RESULTS, "deploy-history.csv"), HISTORY_COLUMNS, dict(
            bench.error_cells(m), when=when, deployment=dep, workers=st["workers"],
            threads=st["threads_per_worker"], fastcgi_keepalive=st["fastcgi_keepalive"],
            nginx_processes=st["nginx_worker_processes"], connections=args.connections,
            duration_s=args.duration, ceiling_rps=round(m["ceiling"]["rps"]), ceiling_p99_ms=m["ceiling"]["p99_ms"],
            home_rps=round(m["home"]["rps"]), home_p99_ms=m["home"]["p99_ms"], count_rps=round(m["count"]["rps"]),
            count_p99_ms=m["count"]["p99_ms"], count_exact=not m["count_check"]["failures"],
            load_average_before=load))
    failed = [dep for dep in deployments if runs[dep]["count_check"]["failures"]]
    if failed:
        print("bench-deploy: FAILED: the count is wrong in %s (results written all the same)" % ", ".join(failed),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
