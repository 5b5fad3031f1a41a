"""The Dockerfile's promises that can be checked without a container runtime.

No runtime is available where this suite runs, so the image is never built here. What is
checked: the file itself (non-root user, data volume, dependency layer before the code,
base image pinned by digest, no host/port flags in CMD), and, by running the image's own
CMD and HEALTHCHECK commands on this machine with the image's environment, that the
service listens where B12CDS_PORT says, keeps its database in the data volume, and that
the healthcheck follows the configured port.
"""

from __future__ import annotations

import json
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from cds_service.settings import Settings
from tests.security.jwt_kit import SigningKey, write_trust_file
from tests.support.live import REPO, b12_cds, service_env, start_service

DOCKERFILE = REPO / "Dockerfile"


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def _final_stage() -> list[tuple[str, str]]:
    steps = _instructions(DOCKERFILE.read_text(encoding="utf-8"))
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def _args() -> dict[str, str]:
    out = {}
    for word, rest in _instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if word == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            out[name] = value
    return out


def _env(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in stage:
        if word == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def _exec_form(stage: list[tuple[str, str]], word: str) -> list[str]:
    found = [rest for w, rest in stage if w == word]
    assert found, f"no {word} in the final stage"
    rest = found[-1]
    if word == "HEALTHCHECK":
        rest = rest[rest.index("CMD") + len("CMD") :].strip()
    value = json.loads(rest)
    assert isinstance(value, list), f"{word} is not in exec form"
    return value


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_service_does_not_run_as_root() -> None:
    users = [rest for word, rest in _final_stage() if word == "USER"]
    assert users, "the final stage never leaves root"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_the_data_directory_is_a_volume_and_the_default_database_lives_in_it() -> None:
    stage = _final_stage()
    data_dir = _env(stage)["B12CDS_DATA_DIR"]
    volumes = [v for word, rest in stage if word == "VOLUME" for v in json.loads(rest)]
    assert data_dir in volumes
    settings = Settings.from_env({"B12CDS_DATA_DIR": data_dir})
    assert settings.database_url == f"sqlite:///{data_dir}/b12cds.sqlite3"


def test_cmd_leaves_host_and_port_to_the_configuration() -> None:
    stage = _final_stage()
    command = _exec_form(stage, "ENTRYPOINT") + _exec_form(stage, "CMD")
    assert not {"--host", "--port"} & set(command), command
    env = _env(stage)
    assert env["B12CDS_HOST"] == "0.0.0.0"  # noqa: S104 (the image listens on all)
    assert env["B12CDS_PORT"].isdigit()
    assert any(w == "EXPOSE" and rest.split("/")[0] == env["B12CDS_PORT"] for w, rest in stage)


def test_the_healthcheck_reads_the_configured_port() -> None:
    health = " ".join(_exec_form(_final_stage(), "HEALTHCHECK"))
    assert "B12CDS_PORT" in health and "/healthz" in health
    assert not re.search(r":8080\b", health), "the healthcheck hard-codes a port"


def test_dependencies_are_installed_before_the_code_is_copied() -> None:
    steps = _instructions(DOCKERFILE.read_text(encoding="utf-8"))
    build = steps[: max(i for i, (w, _) in enumerate(steps) if w == "FROM")]
    copies = [(i, rest) for i, (w, rest) in enumerate(build) if w == "COPY"]
    installs = [i for i, (w, rest) in enumerate(build) if w == "RUN" and "pip install" in rest]
    first_code = min(i for i, rest in copies if "cds_service" in rest)
    pyproject = min(i for i, rest in copies if "pyproject.toml" in rest)
    assert pyproject < installs[0] < first_code, "dependencies are not their own layer"
    assert "--no-deps" in build[installs[-1]][1], "the code layer installs dependencies again"


def test_the_base_image_is_pinned_by_digest() -> None:
    args = _args()
    for word, rest in _instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if word == "FROM":
            image = rest.split()[0]
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
            assert re.search(r"@sha256:[0-9a-f]{64}$", image), image


def test_the_readme_docker_run_mounts_what_it_names() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    runs = re.findall(r"docker run[^`\n]*", readme)
    assert runs, "the README has no docker run example"
    for run in runs:
        named = re.search(r"B12CDS_TRUSTED_CLIENTS=(\S+)", run)
        if named:
            assert re.search(rf"-v \S+:{re.escape(named.group(1))}(:ro)?\b", run), run
        data_dir = _env(_final_stage())["B12CDS_DATA_DIR"]
        assert re.search(rf"-v \S+:{re.escape(data_dir)}\b", run), run


@pytest.mark.timeout(60)
def test_the_image_command_serves_where_the_configuration_says(tmp_path: Path) -> None:
    """The image's CMD and HEALTHCHECK, run here with the image's environment."""
    stage = _final_stage()
    port = _free_port()
    trust = write_trust_file(
        tmp_path / "clients.json",
        {"https://ehr.example.org": {"jwks": {"keys": [SigningKey.generate().public_jwk()]}}},
    )
    env = {
        **{k: v for k, v in _env(stage).items() if k.startswith("B12CDS_")},
        "B12CDS_HOST": "127.0.0.1",  # not 0.0.0.0 on a test machine
        "B12CDS_PORT": str(port),
        "B12CDS_DATA_DIR": str(tmp_path / "data"),
        "B12CDS_TRUSTED_CLIENTS": str(trust),
        "B12CDS_PUBLIC_URL": "https://cds.hospital.example",
    }
    command = _exec_form(stage, "ENTRYPOINT") + _exec_form(stage, "CMD")
    assert command[0] == "b12-cds"
    service = start_service([b12_cds(), *command[1:]], env)
    try:
        assert service.base_url.rstrip("/").endswith(f":{port}")
        assert (tmp_path / "data" / "b12cds.sqlite3").is_file()
        health = _exec_form(stage, "HEALTHCHECK")
        assert health[0] == "python"
        ok = subprocess.run([sys.executable, *health[1:]], env=service_env(env), timeout=10)
        assert ok.returncode == 0
        elsewhere = {**env, "B12CDS_PORT": str(_free_port())}
        down = subprocess.run(
            [sys.executable, *health[1:]],
            env=service_env(elsewhere),
            timeout=10,
            capture_output=True,
        )
        assert down.returncode != 0
    finally:
        assert service.stop() == 0
