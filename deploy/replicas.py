"""Several replicas of the cnnviz dashboard behind Debian's nginx, on this machine, sharing one runs folder.

    python deploy/replicas.py --runs /srv/cnnviz-runs [--replicas 2] [--port 8500] [--listen 0.0.0.0]

Each replica is `streamlit run dashboard/app.py` on its own loopback port; nginx (deploy/nginx.conf.template, run as
this user from a folder of its own, never the system's service) listens on --port and sends every computer to one
replica (sticky by the client's address). The replicas share CNNVIZ_RUNS, so a student's runs and the teacher's
Class page read the same folders through any replica, and a run whose replica died reads "interrupted" on the
others and can be resumed there. Ctrl-C stops them all. Usable from Python too: ``with Deployment(...) as d:``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cnnviz import i18n  # noqa: E402
from cnnviz.i18n import gettext as _  # noqa: E402

NGINX = "/usr/sbin/nginx"
TEMPLATE = Path(__file__).resolve().parent / "nginx.conf.template"
REPLICA_HEADER = "X-Cnnviz-Replica"  # nginx names the replica that answered (ip:port)
START_TIMEOUT_S = 90.0


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports that are free on loopback now."""
    socks = [socket.socket() for _i in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def answers(url: str) -> bool:
    """Whether a dashboard (directly or through nginx) answers its health check at ``url``."""
    try:
        return urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200
    except OSError:
        return False


def nginx_config(prefix: Path, replica_ports: list[int], listen: str) -> str:
    """deploy/nginx.conf.template with this deployment's folder, replicas and listening address filled in."""
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;" for p in replica_ports)
    return (TEMPLATE.read_text().replace("@PREFIX@", str(prefix)).replace("@SERVERS@", servers)
            .replace("@LISTEN@", listen))


def _stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Stop a process started in its own group, and everything it started: politely, then for good."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)


class Deployment:
    """``replica_ports`` replicas sharing ``runs`` and nginx on ``host:port`` in front of them. ``folder`` holds
    nginx's configuration, pid, logs and temporary files and the replicas' logs (a new temporary folder if None).
    ``env`` is added to the replicas' environment. Raises RuntimeError when something does not start."""

    def __init__(self, *, runs: Path, replica_ports: list[int], port: int, host: str = "127.0.0.1",
                 folder: Path | None = None, nginx: str = NGINX, env: dict[str, str] | None = None) -> None:
        if len(set(replica_ports)) != len(replica_ports) or port in replica_ports:
            raise ValueError(_("the balancer and every replica need ports of their own: {ports}").format(
                ports=", ".join(str(p) for p in [port, *replica_ports])))
        self.runs, self.replica_ports, self.port, self.host = Path(runs).resolve(), list(replica_ports), port, host
        self.folder = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="cnnviz-deploy-"))
        self.nginx, self.env = nginx, dict(env or {})
        self.replicas: dict[int, subprocess.Popen] = {}
        self.balancer: subprocess.Popen | None = None
        self._env = self.replica_env()

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "[::]") else self.host
        return f"http://{host}:{self.port}"

    def replica_url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}"

    def replica_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("CNNVIZ_NO_WARM_UP", None)  # a replica warms up like any class server
        # one machine's cores shared by its replicas: each trains at most its share at once (CNNVIZ_MAX_JOBS wins)
        env.setdefault("CNNVIZ_MAX_JOBS", str(max(1, (os.cpu_count() or 1) // len(self.replica_ports))))
        # Streamlit signs its own cookies with this secret: the same on every replica, so a browser that moves to
        # another replica (its own died) keeps them
        env.setdefault("STREAMLIT_SERVER_COOKIE_SECRET", secrets.token_hex(32))
        env.update(self.env)
        env["CNNVIZ_RUNS"] = str(self.runs)
        return env

    def start_replica(self, port: int) -> subprocess.Popen:
        """Start (or start again) the replica on ``port``; returns at once (``wait_healthy`` waits)."""
        if not port_free(port):
            raise RuntimeError(_("port {port} is in use: choose other ports").format(port=port))
        log = open(self.folder / f"replica-{port}.log", "ab")  # noqa: SIM115 - the child keeps it open
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"), "--server.port",
                 str(port), "--server.address", "127.0.0.1", "--server.headless", "true"],
                cwd=ROOT, env=self._env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()
        self.replicas[port] = proc
        return proc

    def wait_healthy(self, ports: list[int], timeout: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        waiting = list(ports)
        while waiting:
            for port in list(waiting):
                if answers(self.replica_url(port)):
                    waiting.remove(port)
                elif self.replicas[port].poll() is not None:
                    raise RuntimeError(_("the replica on port {port} stopped while starting; its log: {log}").format(
                        port=port, log=self.folder / f"replica-{port}.log"))
            if waiting and time.monotonic() > deadline:
                raise RuntimeError(_("the replica on port {port} did not answer in {seconds:.0f} s; its log: "
                                     "{log}").format(port=waiting[0], seconds=timeout,
                                                     log=self.folder / f"replica-{waiting[0]}.log"))
            time.sleep(0.2)

    def start(self) -> Deployment:
        if not Path(self.nginx).exists():
            raise RuntimeError(_("nginx is not installed ({path}): install Debian's nginx with `apt-get install "
                                 "nginx` (its service need not run)").format(path=self.nginx))
        if not port_free(self.port, "127.0.0.1" if self.host in ("0.0.0.0", "::", "[::]") else self.host):
            raise RuntimeError(_("port {port} is in use: choose other ports").format(port=self.port))
        self.runs.mkdir(parents=True, exist_ok=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            for port in self.replica_ports:
                self.start_replica(port)
            self.wait_healthy(self.replica_ports)
            self.start_balancer()
        except BaseException:
            self.stop()
            raise
        return self

    def start_balancer(self) -> None:
        listen = f"[{self.host.strip('[]')}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        conf = self.folder / "nginx.conf"
        conf.write_text(nginx_config(self.folder, self.replica_ports, listen))
        command = [self.nginx, "-p", str(self.folder), "-c", str(conf), "-e", str(self.folder / "error.log")]
        check = subprocess.run([*command, "-t", "-q"], capture_output=True, text=True, check=False)
        if check.returncode:
            raise RuntimeError(_("nginx refused its configuration: {reason}").format(
                reason=(check.stderr.strip().splitlines() or ["?"])[-1]))
        self.balancer = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         start_new_session=True)
        deadline = time.monotonic() + 20
        while not answers(self.url):
            if self.balancer.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(_("nginx did not start; its log: {log}").format(log=self.folder / "error.log"))
            time.sleep(0.1)

    def kill_replica(self, port: int) -> None:
        """Kill the replica on ``port`` outright (SIGKILL to its group), as a crash or a power cut would."""
        proc = self.replicas[port]
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def stop(self) -> None:
        if self.balancer is not None:
            _stop(self.balancer)
        for proc in self.replicas.values():
            _stop(proc)

    def __enter__(self) -> Deployment:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="deploy/replicas.py",
        description=_("Start several replicas of the cnnviz dashboard and Debian's nginx in front of them, sharing "
                      "one runs folder; Ctrl-C stops them all."),
        epilog=_("Sticky sessions: nginx sends all requests of one computer (by its address) to one replica; a "
                 "replica that stops loses its students' open pages, not their runs: their next page opens on "
                 "another replica, where an interrupted run can be resumed. Each replica trains at most "
                 "CNNVIZ_MAX_JOBS runs at once (default: the cores divided by the replicas). Set "
                 "CNNVIZ_TEACHER_PASSWORD to open the Class page; its pass works on every replica. Logs and "
                 "nginx's files go to --folder. Only this user's processes are started: no root, no system "
                 "service."))
    p.add_argument("--replicas", type=int, default=2, help=_("how many replicas (default 2)"))
    p.add_argument("--runs", type=Path, default=None,
                   help=_("the shared runs folder (default: $CNNVIZ_RUNS, else ./runs)"))
    p.add_argument("--port", type=int, default=8500, help=_("the port browsers open, nginx's (default 8500)"))
    p.add_argument("--listen", default="127.0.0.1",
                   help=_("the address nginx listens on (default 127.0.0.1: this computer only; 0.0.0.0 for the "
                          "classroom's network)"))
    p.add_argument("--first-port", type=int, default=8601,
                   help=_("the replicas' loopback ports start here (default 8601, 8602, ...)"))
    p.add_argument("--folder", type=Path, default=None,
                   help=_("where nginx's configuration, pid, logs and temporary files and the replicas' logs go "
                          "(default: a new temporary folder)"))
    p.add_argument("--nginx", default=NGINX, help=_("the nginx program (default /usr/sbin/nginx)"))
    p.add_argument("--lang", choices=list(i18n.LANGUAGES),
                   help=_("language of the messages: ko or en (default: from LANG / LC_ALL)"))
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--lang", choices=list(i18n.LANGUAGES))
    lang = early.parse_known_args(argv)[0].lang or i18n.language_from_environment()
    saved = argparse._, argparse.ngettext  # type: ignore[attr-defined]
    argparse._, argparse.ngettext = i18n.gettext, i18n.ngettext  # type: ignore[attr-defined]  # as cnnviz's CLI
    try:
        with i18n.language(lang):
            return _main(argv)
    finally:
        argparse._, argparse.ngettext = saved  # type: ignore[attr-defined]


def _interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt


def _main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if not 1 <= args.replicas <= 16:
        print(_("--replicas: from 1 to 16"), file=sys.stderr)
        return 2
    runs = args.runs or Path(os.environ.get("CNNVIZ_RUNS") or "runs")
    ports = [args.first_port + i for i in range(args.replicas)]
    try:
        deployment = Deployment(runs=runs, replica_ports=ports, port=args.port, host=args.listen,
                                folder=args.folder, nginx=args.nginx).start()
    except (RuntimeError, ValueError, OSError) as err:
        print(_("deploy/replicas.py: error: {message}").format(message=err), file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops them all too, as Ctrl-C does
    print(_("cnnviz at {url}: nginx in front of {n} replicas (ports {ports}), runs in {runs}. Logs in {folder}. "
            "Ctrl-C stops them all.").format(url=deployment.url, n=args.replicas,
                                            ports=", ".join(map(str, ports)), runs=deployment.runs,
                                            folder=deployment.folder), flush=True)
    reported: set[int] = set()
    try:
        while deployment.balancer is not None and deployment.balancer.poll() is None:
            for port, proc in deployment.replicas.items():
                if proc.poll() is not None and port not in reported:
                    reported.add(port)
                    print(_("the replica on port {port} stopped (exit status {code}): nginx sends its computers to "
                            "the others").format(port=port, code=proc.returncode), file=sys.stderr, flush=True)
            time.sleep(1)
        print(_("nginx stopped; its log: {log}").format(log=deployment.folder / "error.log"), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(_("stopping the replicas and nginx ..."), flush=True)
        return 0
    finally:
        deployment.stop()


if __name__ == "__main__":
    raise SystemExit(main())
