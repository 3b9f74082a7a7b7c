"""Real services for tests, started by the tests themselves on loopback: no mocks where the real thing runs here.

- `Registry`: CNCF Distribution (Debian `docker-registry`) on 127.0.0.1:<random port>, htpasswd (bcrypt) auth,
  filesystem storage in a temp dir. The binary runs directly with a generated config.yml. Plain HTTP unless
  started with `tls=(cert_pem, key_pem)` (its `http.tls` settings), then HTTPS.
- `Podman`: `podman system service` exposing the Docker-compatible API on a unix socket in a temp dir. Its state
  lives in that dir (project-local containers.conf / storage.conf / registries.conf passed through
  CONTAINERS_CONF, CONTAINERS_STORAGE_CONF, CONTAINERS_REGISTRIES_CONF); /etc is never edited. runc, not crun
  (crun fails on this machine's hybrid cgroups); vfs storage (no mounts to leak); the Docker API's default network
  is loopback only. Root podman 4.3 still writes three caches it has no setting for: the blob-info cache
  /var/lib/containers/cache, CNI results under /var/lib/cni, and runc state under /run/runc.
- `busybox_context` / `scratch_context`: build contexts that need no base image (nothing can be pulled here).

Plain Python, no pytest dependency: pytest fixtures live in tests/fixtures_services.py. Every process is started
in its own process group and the whole group is killed on stop(). scripts/install-services.sh installs the
binaries; a missing one raises ServiceError saying so.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import resource
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import requests

INSTALL_HINT = "run scripts/install-services.sh"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST)

# Variables the services would pick up from the caller's environment and that would change what they do.
_FOREIGN_ENV_PREFIXES = ("REGISTRY_", "CONTAINERS_", "CONTAINER_", "DOCKER_", "BUILDAH_", "PODMAN_", "STORAGE_")


class ServiceError(RuntimeError):
    """A service could not be found, started or stopped."""


def require_binary(name: str, package: str, candidates: Iterable[str] = ()) -> str:
    """Absolute path of an executable, or a ServiceError naming the Debian package that provides it."""
    for candidate in candidates:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name) or shutil.which(name, path="/usr/local/sbin:/usr/sbin:/sbin")
    if not found:
        raise ServiceError(f"{name} not found (Debian package {package!r}): {INSTALL_HINT}")
    return found


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago (callers retry if someone else takes it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _clean_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_ENV_PREFIXES)}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share"))
    env.update(extra or {})
    return env


class _Process:
    """A child in its own process group, its output in a log file; stop() kills the whole group."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str], cwd: Path) -> None:
        self.argv = argv
        self.log = log
        self._log_file = log.open("ab")
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        pgid = self.proc.pid  # start_new_session: the child leads its own group
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout)
        # Whatever is left of the group (the leader if it ignored SIGTERM, helpers it spawned) is killed.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        self._log_file.close()


def _wait_until(ready: Any, what: str, process: _Process, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        if not process.alive():
            process.stop()
            raise ServiceError(f"{what} exited with {process.proc.returncode}:\n{process.log_tail()}")
        with contextlib.suppress(OSError, requests.RequestException, http.client.HTTPException):
            if ready():
                return
        if time.monotonic() > deadline:
            process.stop()
            raise ServiceError(f"{what} not ready after {timeout:.0f}s:\n{process.log_tail()}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)


# --------------------------------------------------------------------------------------------------------- registry


class Registry:
    """CNCF Distribution on 127.0.0.1 with htpasswd auth. `Registry.start(tmpdir)`; `stop()` (or `with`)."""

    def __init__(
        self, root: Path, user: str, password: str, tls: tuple[Path, Path] | None = None, ca: Path | None = None
    ) -> None:
        self.root = root
        self.user = user
        self.password = password
        self.tls = tls  # (certificate chain PEM, private key PEM): serve HTTPS instead of plain HTTP
        self.ca = ca  # the CA that issued it, for our own requests to the registry
        self.port = 0
        self._process: _Process | None = None

    @property
    def host(self) -> str:
        """host:port, as it appears in image references (127.0.0.1:PORT/name:tag)."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    @property
    def verify(self) -> str | bool:
        """requests' `verify` for talking to this registry."""
        return str(self.ca) if self.ca else True

    @property
    def auth(self) -> tuple[str, str]:
        return (self.user, self.password)

    @property
    def auth_config(self) -> dict[str, str]:
        """For the docker SDK: client.images.push(..., auth_config=registry.auth_config)."""
        return {"username": self.user, "password": self.password}

    @property
    def storage(self) -> Path:
        return self.root / "data"

    @classmethod
    def start(
        cls,
        tmpdir: str | os.PathLike[str],
        user: str = "release-test",
        password: str | None = None,
        timeout: float = 20.0,
        tls: tuple[str | os.PathLike[str], str | os.PathLike[str]] | None = None,
        ca: str | os.PathLike[str] | None = None,
    ) -> Registry:
        """Plain HTTP by default; `tls=(cert_pem, key_pem)` serves HTTPS with that certificate (issued for
        127.0.0.1), and `ca` is the CA file our own helper requests verify it against."""
        binary = require_binary("docker-registry", "docker-registry", ["/usr/bin/docker-registry"])
        htpasswd = require_binary("htpasswd", "apache2-utils", ["/usr/bin/htpasswd"])
        root = Path(tmpdir)
        root.mkdir(parents=True, exist_ok=True)
        registry = cls(
            root,
            user,
            password or secrets.token_urlsafe(18),
            tls=(Path(tls[0]), Path(tls[1])) if tls else None,
            ca=Path(ca) if ca else None,
        )
        # bcrypt is the only hash Distribution accepts; the password goes through stdin, not argv.
        entry = subprocess.run(
            [htpasswd, "-B", "-i", "-n", user], input=registry.password, capture_output=True, text=True, check=False
        )
        if entry.returncode != 0:
            raise ServiceError(f"htpasswd failed: {entry.stderr.strip()}")
        (root / "htpasswd").write_text(entry.stdout.strip() + "\n")
        registry.storage.mkdir(exist_ok=True)
        last_error: ServiceError | None = None
        for _ in range(5):  # the port was free when picked; another process may take it before we bind
            registry.port = free_port()
            try:
                registry._launch(binary, timeout)
                return registry
            except ServiceError as err:
                last_error = err
                if "address already in use" not in str(err):
                    raise
        assert last_error is not None
        raise last_error

    def _launch(self, binary: str, timeout: float) -> None:
        config = {
            "version": 0.1,
            "log": {"level": "info", "accesslog": {"disabled": False}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage)},
                "delete": {"enabled": True},
                "cache": {"blobdescriptor": "inmemory"},
            },
            "http": {
                "addr": self.host,
                "secret": secrets.token_hex(16),
                "headers": {"X-Content-Type-Options": ["nosniff"]},
                **({"tls": {"certificate": str(self.tls[0]), "key": str(self.tls[1])}} if self.tls else {}),
            },
            "auth": {"htpasswd": {"realm": "release-test", "path": str(self.root / "htpasswd")}},
        }
        # JSON is YAML: no PyYAML needed to write it.
        (self.root / "config.yml").write_text(json.dumps(config, indent=2) + "\n")
        home = self.root / "home"
        home.mkdir(exist_ok=True)
        self._process = _Process(
            [binary, "serve", str(self.root / "config.yml")], self.root / "registry.log", _clean_env(home), self.root
        )
        _wait_until(
            lambda: requests.get(f"{self.url}/v2/", timeout=2, verify=self.verify).status_code == 401,
            f"docker-registry on {self.host}",
            self._process,
            timeout,
        )

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # HTTP helpers (the registry API, authenticated)

    def session(self) -> requests.Session:
        session = requests.Session()
        session.auth = self.auth
        return session

    def get(self, path: str, accept: Iterable[str] = (), method: str = "GET", **kwargs: Any) -> requests.Response:
        """An authenticated request to {url}{path}, e.g. get("/v2/_catalog")."""
        headers = dict(kwargs.pop("headers", {}))
        if accept:
            headers["Accept"] = ", ".join(accept)
        kwargs.setdefault("verify", self.verify)
        with self.session() as session:
            return session.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)

    def manifest(
        self, name: str, ref: str, accept: Iterable[str] = MANIFEST_TYPES, method: str = "GET"
    ) -> requests.Response:
        """GET (or HEAD) /v2/<name>/manifests/<ref>; the digest is in response.headers['Docker-Content-Digest']."""
        return self.get(f"/v2/{name}/manifests/{ref}", accept=accept, method=method)

    def blob(self, name: str, digest: str) -> requests.Response:
        return self.get(f"/v2/{name}/blobs/{digest}")


# ----------------------------------------------------------------------------------------------------------- podman


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 5.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def unix_http_get(socket_path: str | os.PathLike[str], path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """GET over a unix socket with the standard library: (status, body)."""
    conn = _UnixHTTPConnection(os.fspath(socket_path), timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _container_ulimits() -> list[str]:
    """Limits for containers and RUN steps that runc can set here.

    Root podman asks for nofile=1048576 and nproc=4194304; without CAP_SYS_RESOURCE (this sandbox drops it)
    runc cannot raise a hard limit: "error setting rlimit type 7 (or 6): operation not permitted". podman
    itself runs with nofile at our hard limit and lowers nproc to pid_max, so ask for exactly that.
    """
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    with contextlib.suppress(OSError, ValueError):
        pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
        nproc = pid_max if nproc == resource.RLIM_INFINITY else min(nproc, pid_max)
    limits = []
    for name, hard in (("nofile", nofile), ("nproc", nproc)):
        if hard != resource.RLIM_INFINITY:
            limits.append(f"{name}={hard}:{hard}")
    return limits


def _toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


class Podman:
    """`podman system service` (Docker-compatible API) on a unix socket, all state in one temp dir.

    `Podman.start(tmpdir, insecure_registries=["127.0.0.1:PORT"])`; then `docker_client()`, or `env` for the
    podman CLI / anything reading DOCKER_HOST; `stop()` (or `with`).
    """

    SOCKET_MAX = 100  # sun_path is 108 bytes

    def __init__(self, root: Path, socket_path: Path, env: dict[str, str], podman: str) -> None:
        self.root = root
        self.socket_path = socket_path
        self.env = env
        self.podman = podman
        self._process: _Process | None = None
        self._socket_dir: Path | None = None

    @property
    def base_url(self) -> str:
        return f"unix://{self.socket_path}"

    @classmethod
    def start(
        cls,
        tmpdir: str | os.PathLike[str],
        insecure_registries: Iterable[str] = (),
        timeout: float = 30.0,
        storage_driver: str = "vfs",
    ) -> Podman:
        podman = require_binary("podman", "podman", ["/usr/bin/podman"])
        require_binary("runc", "runc", ["/usr/sbin/runc", "/usr/bin/runc"])
        root = Path(tmpdir).resolve()
        for sub in ("storage", "run", "tmp", "net", "home", "volumes"):
            (root / sub).mkdir(parents=True, exist_ok=True)

        conf = root / "containers.conf"
        conf.write_text(
            "[containers]\n"
            'log_driver = "k8s-file"\n'
            f"default_ulimits = {json.dumps(_container_ulimits())}\n"
            # No container network by default (podman's own API; the Docker API's default is below).
            'netns = "none"\n'
            "\n[engine]\n"
            # crun fails on hybrid cgroups here; runc works. No systemd: cgroupfs, events to a file.
            'runtime = "runc"\n'
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            f"events_logfile_path = {_toml_str(str(root / 'events.log'))}\n"
            f"tmp_dir = {_toml_str(str(root / 'run' / 'libpod'))}\n"
            f"volume_path = {_toml_str(str(root / 'volumes'))}\n"
            f"image_copy_tmp_dir = {_toml_str(str(root / 'tmp'))}\n"
            "\n[network]\n"
            f"network_config_dir = {_toml_str(str(root / 'net'))}\n"
        )
        # The Docker API's default network ("bridge", the network named "podman") would be a CNI bridge:
        # a cni-podman0 link on 10.88.0.1 and iptables rules on the host. Here it is loopback only.
        (root / "net" / "podman.conflist").write_text(
            json.dumps({"cniVersion": "0.4.0", "name": "podman", "plugins": [{"type": "loopback"}]}, indent=2) + "\n"
        )
        storage = root / "storage.conf"
        storage.write_text(
            "[storage]\n"
            f"driver = {_toml_str(storage_driver)}\n"
            f"graphroot = {_toml_str(str(root / 'storage'))}\n"
            f"runroot = {_toml_str(str(root / 'run'))}\n"
        )
        registries = root / "registries.conf"
        lines = ["unqualified-search-registries = []", ""]
        for host in insecure_registries:
            lines += ["[[registry]]", f"location = {_toml_str(host)}", "insecure = true", ""]
        registries.write_text("\n".join(lines))

        socket_path = root / "podman.sock"
        socket_dir = None
        if len(str(socket_path)) > cls.SOCKET_MAX:
            socket_dir = Path(tempfile.mkdtemp(prefix="podman-"))
            socket_path = socket_dir / "podman.sock"
        env = _clean_env(
            root / "home",
            {
                "CONTAINERS_CONF": str(conf),
                "CONTAINERS_STORAGE_CONF": str(storage),
                "CONTAINERS_REGISTRIES_CONF": str(registries),
                "TMPDIR": str(root / "tmp"),
                "DOCKER_HOST": f"unix://{socket_path}",
                "CONTAINER_HOST": f"unix://{socket_path}",
            },
        )
        service = cls(root, socket_path, env, podman)
        service._socket_dir = socket_dir
        # CONTAINER_HOST would turn the service itself into a remote client: not in the service's own env.
        service_env = {k: v for k, v in env.items() if k != "CONTAINER_HOST"}
        service._process = _Process(
            [podman, "system", "service", "--time=0", f"unix://{socket_path}"], root / "podman.log", service_env, root
        )
        try:
            _wait_until(
                lambda: unix_http_get(socket_path, "/_ping", timeout=2) == (200, b"OK"),
                f"podman system service on {socket_path}",
                service._process,
                timeout,
            )
        except ServiceError:
            service.stop()
            raise
        return service

    def cli(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run the podman CLI locally against the same storage (not through the socket)."""
        env = {k: v for k, v in self.env.items() if k != "CONTAINER_HOST"}
        result = subprocess.run(
            [self.podman, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise ServiceError(f"podman {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
        return result

    def docker_client(self, **kwargs: Any) -> Any:
        """A docker SDK client on this socket (the caller closes it)."""
        try:
            import docker
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ServiceError("the docker SDK is not installed (pip install 'docker>=7')") from err
        return docker.DockerClient(base_url=self.base_url, **kwargs)

    def stop(self) -> None:
        if self._process is None:
            return
        try:
            # Containers are run by conmon, which leaves the service's process group: remove them first (the CLI
            # works on the storage directly, so this also cleans up after a service that died).
            with contextlib.suppress(ServiceError, subprocess.TimeoutExpired):
                self.cli("rm", "--all", "--force", "--time", "0", timeout=60)
        finally:
            self._process.stop()
            self._process = None
            if self._socket_dir is not None:
                shutil.rmtree(self._socket_dir, ignore_errors=True)

    def __enter__(self) -> Podman:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------------------------------------- build contexts


def _is_static_elf(path: Path) -> bool:
    """True for an ELF executable without a PT_INTERP program header (no dynamic loader needed)."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF":
        return False
    is64, little = data[4] == 2, data[5] == 1
    order = "<" if little else ">"
    # e_phoff, then e_phentsize and e_phnum (offsets differ between ELF32 and ELF64)
    (phoff,) = struct.unpack_from(order + ("Q" if is64 else "I"), data, 0x20 if is64 else 0x1C)
    phentsize, phnum = struct.unpack_from(order + "HH", data, 0x36 if is64 else 0x2A)
    return all(struct.unpack_from(order + "I", data, phoff + i * phentsize)[0] != 3 for i in range(phnum))


def busybox_binary() -> Path:
    """/bin/busybox from Debian's busybox-static (a dynamically linked busybox cannot run in a scratch image)."""
    for candidate in ("/bin/busybox", "/usr/bin/busybox"):
        path = Path(candidate)
        if path.is_file() and _is_static_elf(path):
            return path
    raise ServiceError(f"a statically linked busybox (Debian package 'busybox-static') is missing: {INSTALL_HINT}")


def _label_lines(labels: Mapping[str, str]) -> list[str]:
    return [f"LABEL {json.dumps(k)}={json.dumps(v)}" for k, v in labels.items()]


def scratch_context(
    path: str | os.PathLike[str],
    files: Mapping[str, str | bytes] | None = None,
    labels: Mapping[str, str] | None = None,
) -> Path:
    """A FROM scratch build context: `files` (relative path → content) COPY'd to /, plus LABELs."""
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    files = files if files is not None else {"hello.txt": "hello\n"}
    lines = ["FROM scratch", *_label_lines(labels or {})]
    for name, content in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)
        lines.append(f"COPY {json.dumps([name, '/' + name])}")
    (root / "Dockerfile").write_text("\n".join(lines) + "\n")
    return root


def busybox_context(
    path: str | os.PathLike[str],
    script: str = "/bin/busybox mkdir -p /out && echo built > /out/marker",
    labels: Mapping[str, str] | None = None,
) -> Path:
    """A build context whose RUN step works without a base image: FROM scratch, the static busybox copied in,
    then RUN ["/bin/busybox", "sh", "-c", script]. There is no /bin/sh: call applets as `/bin/busybox <applet>`
    (or `/bin/busybox --install -s /bin` first)."""
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy2(busybox_binary(), root / "busybox")
    lines = [
        "FROM scratch",
        *_label_lines(labels or {}),
        "COPY busybox /bin/busybox",
        f"RUN {json.dumps(['/bin/busybox', 'sh', '-c', script])}",
    ]
    (root / "Dockerfile").write_text("\n".join(lines) + "\n")
    return root
