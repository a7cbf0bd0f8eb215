"""Start Prefect's embedded API server at once, while the CLI is still importing the flow.

With no ``PREFECT_API_URL``, Prefect starts a temporary API server (a
``uvicorn`` subprocess) the first time the flow needs its API -- that is,
only after this process has imported Prefect, the flow and their
dependencies, and Prefect's server module on top. Booting the server takes
~5 s of CPU; the imports another ~3 s. :class:`EmbeddedApi` starts the very
same server process (same app factory, same settings, same environment) as
the CLI's first step, so both happen at the same time on a multi-core
machine, and the main process never imports the server's modules at all.

If Prefect's settings turn out to name an API (a profile's
``PREFECT_API_URL``) or to forbid the temporary server, the early server is
stopped unused and Prefect behaves exactly as without it.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

# What Prefect's own SubprocessASGIServer sets for its server process (prefect/server/api/server.py), and no
# block-type registration: a run's temporary API serves one flow that uses no blocks, and registering them
# first imports every installed Prefect collection (prefect-dask: Dask and distributed), the server's slowest
# start-up step after its own imports (~0.7 s of its ~6 s here) and 26 of its ~200 MB.
_SERVER_ENV = {
    "PREFECT_UI_ENABLED": "0",
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
    "PREFECT_API_BLOCKS_REGISTER_ON_START": "false",
    "PREFECT_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false",  # else collections are imported before the check
}


class EmbeddedApi:
    """A temporary Prefect API server on a free loopback port, started without importing Prefect."""

    def __init__(self) -> None:
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._spawn()
        atexit.register(self.stop)

    @classmethod
    def start_early(cls) -> "EmbeddedApi | None":
        """Start the server now, unless an API is already named in the environment or Prefect is already imported."""
        if os.environ.get("PREFECT_API_URL") or "prefect" in sys.modules:
            return None
        try:
            return cls()
        except OSError:
            return None  # Prefect will start its own, or say why it cannot

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def _spawn(self) -> None:
        spec = importlib.util.find_spec("prefect")
        if spec is None or not spec.submodule_search_locations:
            raise OSError("prefect is not installed")
        app_dir = Path(next(iter(spec.submodule_search_locations))).parent
        self.port = _free_port()
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", "--app-dir", str(app_dir),
                "--factory", "prefect.server.api.server:create_app",
                "--host", "127.0.0.1", "--port", str(self.port),
                "--log-level", "error", "--lifespan", "on",
            ],  # fmt: skip
            env={**os.environ, **_SERVER_ENV},
        )

    def adopt(self) -> bool:
        """Make this server the run's API if Prefect's settings would start a temporary one; else stop it.

        Call after Prefect is imported, before the flow runs. Waits until the
        server answers (Prefect's own startup timeout applies) and points the
        process-wide settings at it. Returns whether it was adopted.
        """
        from prefect.context import refresh_global_settings_context
        from prefect.settings import get_current_settings

        settings = get_current_settings()
        if settings.api.url or not settings.server.ephemeral.enabled:
            self.stop()
            return False
        # Prefect imports this at the flow's start, to serialise its parameters (0.1-0.2 s of imports); this
        # process would only wait for the server now.
        import fastapi.encoders  # noqa: F401

        self._wait(float(settings.server.ephemeral.startup_timeout_seconds))
        os.environ["PREFECT_API_URL"] = self.url
        refresh_global_settings_context()
        return True

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        respawns = 0
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                if respawns >= 3:  # the port was taken under us, or the server cannot start
                    raise RuntimeError(f"the embedded Prefect API server exited with code {self.process.returncode}")
                respawns += 1
                self._spawn()
                continue
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"timed out after {timeout:.0f} s waiting for the embedded Prefect API server")

    def stop(self) -> None:
        """Stop the server as Prefect stops its own: terminate, then kill after 5 s.

        Registered with ``atexit`` before Prefect is imported, so it runs after
        Prefect's log and event workers have drained (they stop at thread shutdown,
        before ``atexit`` hooks).
        """
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
