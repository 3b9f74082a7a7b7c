"""The container engine through the Docker Engine API (docker SDK): Docker, or Podman's compatible service.

Which engine: `enginehost.resolve` (DOCKER_HOST with Docker's TLS variables, CONTAINER_HOST, docker contexts, the
default sockets); why one did not answer: `enginefailure.classify`. Build and push stream their progress through
`progress`, a line at a time.
"""

from __future__ import annotations

import contextlib
import json
import tarfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from release.adapters import enginefailure, enginehost
from release.adapters.credentials import Credentials
from release.errors import ReleaseError

Progress = Callable[[str], None]
CONNECT_TIMEOUT = 30  # seconds for the engine to answer its version and ping (a dropped port fails in that time)
WORK_TIMEOUT = 600  # seconds without a byte from a build or push stream


def candidates(env: Mapping[str, str]) -> list[str]:
    """The engine URLs `connect` would try, in order (see `enginehost.resolve`)."""
    return [endpoint.url for endpoint in enginehost.resolve(env)]


def connect(env: Mapping[str, str]) -> Engine:
    """The first engine that answers, or one line naming each endpoint tried, its setting and why it failed."""
    tried: list[str] = []
    hint = enginefailure.HINT
    for endpoint in enginehost.resolve(env):
        try:
            return Engine(_client(endpoint), endpoint.url)
        except enginefailure.EngineUnreachable as exc:
            tried.append(f"{endpoint.describe()} ({exc.reason})")
            hint = exc.hint or hint
    raise ReleaseError(f"no container engine answered; tried {', '.join(tried)}", hint)


def _client(endpoint: enginehost.Endpoint) -> Any:
    import docker
    import docker.errors
    import docker.tls

    if endpoint.scheme == "unix":
        path = Path(endpoint.url[len("unix://") :])
        if not path.exists():
            raise enginefailure.EngineUnreachable(f"no such socket {path}")
    if endpoint.scheme == "ssh":
        raise enginefailure.EngineUnreachable("ssh:// engines are not supported", _ssh_hint(endpoint))
    files = endpoint.tls
    tls: Any = False
    if files is not None:
        client_cert = (str(files.cert), str(files.key)) if files.cert and files.key else None
        tls = docker.tls.TLSConfig(client_cert=client_cert, ca_cert=str(files.ca) if files.ca else None, verify=True)
    try:
        client = _api_client_class()(base_url=endpoint.url, version="auto", timeout=CONNECT_TIMEOUT, tls=tls)
        client.ping()
    except (docker.errors.DockerException, OSError) as exc:
        raise enginefailure.classify(exc, endpoint) from None
    client.timeout = WORK_TIMEOUT
    return client


def _ssh_hint(endpoint: enginehost.Endpoint) -> str:
    parts = urlsplit(endpoint.url)
    remote = parts.path if len(parts.path) > 1 else "/var/run/docker.sock"
    target = f"-p {parts.port} {parts.netloc.rsplit(':', 1)[0]}" if parts.port else parts.netloc
    variable = "CONTAINER_HOST" if endpoint.origin.startswith("CONTAINER_HOST") else "DOCKER_HOST"
    return (
        f"forward the remote socket and point {variable} at it: "
        f"ssh -fNL /tmp/engine.sock:{remote} {target}, then {variable}=unix:///tmp/engine.sock"
    )


def _api_client_class() -> Any:
    import docker

    class APIClient(docker.APIClient):  # type: ignore[misc]
        """requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE replace a session's own CA (psf/requests#3829): the
        engine's ca.pem would be ignored wherever those are set. The session's CA wins here."""

        def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
            return super().merge_environment_settings(
                url, proxies, stream, self.verify if verify is None else verify, cert
            )

    return APIClient


class BuildFailed(ReleaseError):
    def __init__(self, message: str, hint: str | None = None, output: list[str] | None = None) -> None:
        super().__init__(message, hint)
        self.output = output or []


@dataclass(frozen=True)
class ImageArchive:
    """An image as the engine exports it (docker-archive): its config bytes and its layers, uncompressed tars."""

    config: bytes
    layers: list[Path]


@dataclass
class Engine:
    api: Any  # docker.APIClient
    url: str

    def build(
        self,
        *,
        context: Path,
        dockerfile: str,
        tag: str,
        build_args: Mapping[str, str],
        target: str | None,
        labels: Mapping[str, str],
        progress: Progress,
        platform: str | None = None,
        nocache: bool = False,
    ) -> str:
        """Build and return the image id; on failure, the error names the step that failed (and the platform)."""
        extra: dict[str, Any] = {"platform": platform} if platform else {}
        stream = self.api.build(
            path=str(context),
            dockerfile=dockerfile,
            tag=tag,
            buildargs=dict(build_args),
            target=target,
            labels=dict(labels),
            rm=True,
            forcerm=True,
            pull=False,
            nocache=nocache,
            decode=True,
            **extra,
        )
        image_id = None
        step = ""
        seen: list[str] = []  # the build's own output, for the caller to tell why it failed
        for chunk in _chunks(stream):
            if "error" in chunk or "errorDetail" in chunk:
                detail = chunk.get("errorDetail", {}).get("message") or chunk.get("error") or "unknown error"
                where = f" at {step}" if step else ""
                for_platform = f" for {platform}" if platform else ""
                raise BuildFailed(
                    f"build of {tag}{for_platform} failed{where}: {detail.strip()}",
                    "see the build output above",
                    output=seen,
                )
            text = chunk.get("stream")
            if text:
                for line in text.rstrip("\n").splitlines():
                    seen.append(line)
                    if line.strip():
                        progress(line.rstrip())
                    if line.upper().startswith(("STEP ", "STEP\t")) or line.startswith("Step "):
                        step = line.strip()
            aux = chunk.get("aux")
            if isinstance(aux, dict) and aux.get("ID"):
                image_id = aux["ID"]
        if image_id is None:
            # Podman's compat API reports the id as the last stream line rather than in `aux`.
            image_id = self.api.inspect_image(tag)["Id"]
        return str(image_id)

    def native_platform(self) -> str:
        """os/arch the engine runs programs of without emulation."""
        version = self.api.version()
        return f"{version.get('Os', 'linux')}/{version.get('Arch', 'amd64')}"

    def image_platform(self, image: str) -> str:
        """os/arch[/variant] an image's config declares."""
        found = self.api.inspect_image(image)
        parts = [found.get("Os") or "linux", found.get("Architecture") or ""]
        return "/".join(parts + ([found["Variant"]] if found.get("Variant") else []))

    def export(self, image: str, into: Path) -> ImageArchive:
        """Save an image into the directory `into` (docker-archive) and read back its config and layer files."""
        archive = into / "image.tar"
        with archive.open("wb") as out:
            for chunk in self.api.get_image(image, chunk_size=1 << 20):
                out.write(chunk)
        with tarfile.open(archive) as tar:
            tar.extractall(into / "image", filter="data")
        listed = json.loads((into / "image" / "manifest.json").read_text())[0]
        config = (into / "image" / listed["Config"]).read_bytes()
        return ImageArchive(config, [into / "image" / layer for layer in listed["Layers"]])

    def tag(self, image: str, repository: str, tag: str) -> None:
        self.api.tag(image, repository, tag)

    def push(self, repository: str, tag: str, credentials: Credentials | None, progress: Progress) -> None:
        auth = {"username": credentials.username, "password": credentials.password} if credentials else None
        stream = self.api.push(repository, tag=tag, auth_config=auth, stream=True, decode=True)
        last: dict[str, str] = {}
        for chunk in _chunks(stream):
            if "error" in chunk or "errorDetail" in chunk:
                detail = chunk.get("errorDetail", {}).get("message") or chunk.get("error") or "unknown error"
                raise ReleaseError(f"push of {repository}:{tag} failed: {detail.strip()}", _push_hint(detail))
            status, layer = chunk.get("status"), chunk.get("id")
            if status and last.get(layer or "") != status:
                last[layer or ""] = status
                progress(f"{layer}: {status}" if layer else status)

    def remove(self, image: str) -> None:
        import docker.errors

        with contextlib.suppress(docker.errors.APIError):
            self.api.remove_image(image, noprune=True)


def _chunks(stream: Iterator[Any]) -> Iterator[dict[str, Any]]:
    import docker.errors

    try:
        for chunk in stream:
            if isinstance(chunk, dict):
                yield chunk
    except docker.errors.APIError as exc:
        raise ReleaseError(f"the container engine refused: {exc.explanation or exc}", "see the engine's logs") from None


def _push_hint(detail: str) -> str:
    lowered = detail.lower()
    if "unauthorized" in lowered or "authentication" in lowered or "denied" in lowered:
        return "check the registry credentials (RELEASE_REGISTRY_USER/PASSWORD, DOCKER_AUTH_CONFIG or docker login)"
    return "check the registry and retry; the push is safe to rerun"
