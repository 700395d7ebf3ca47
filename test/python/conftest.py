"""The Python package's suite: run by scripts/test.sh (npm test) with the venv that
scripts/install-deps.sh makes (KEYWARD_PYTHON), inside the same private D-Bus session and
HOME as the mocha suites.

Every test runs against the package as `pip install ./python` installs it: it is installed,
once per run, into a temporary directory put first on sys.path. The daemon is the built one
(dist/, `npm run build`), started through the CLI as a user's would be.
"""
from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "dist" / "cli.js"
CI = os.environ.get("CI") in ("true", "1")


def _install_package() -> str:
    """pip install ./python (copied first, so the build leaves nothing in the tree)."""
    work = tempfile.mkdtemp(prefix="keyward-pytest-pkg-")
    atexit.register(shutil.rmtree, work, True)
    src = os.path.join(work, "src")
    shutil.copytree(ROOT / "python", src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = os.path.join(work, "site")
    r = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index", "--target", target, src],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        raise RuntimeError(f"pip install ./python failed:\n{r.stdout}\n{r.stderr}")
    return target


PACKAGE_DIR = _install_package()
sys.path.insert(0, PACKAGE_DIR)


def require_tool(name: str) -> str:
    """A tool on PATH; missing, the test is skipped, except under CI=true, where it fails."""
    found = shutil.which(name)
    if found:
        return found
    if CI:
        pytest.fail(f"{name} is not installed, and CI=true forbids skipping: run npm test, which installs it")
    pytest.skip(f"{name} is not installed")


def pytest_sessionstart(session: pytest.Session) -> None:
    if not CLI.exists():
        raise pytest.UsageError("dist/cli.js is missing: run npm run build first (npm test does)")


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    skipped = len(terminalreporter.stats.get("skipped", []))
    if CI and skipped:
        terminalreporter.write_line(f"CI=true: {skipped} test(s) were skipped, which CI forbids")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if CI and skipped and session.exitstatus == 0:
        session.exitstatus = 1


class Sandbox:
    """A private Keyward home and runtime dir, the CLI to run in them, and the environment the
    Python client reads (set in os.environ while the sandbox is active)."""

    def __init__(self, root: Path, keystore: str = "file"):
        self.dir = root
        run = root / "run"
        run.mkdir(mode=0o700, exist_ok=True)
        self.home = str(root / "home")
        self.env = dict(os.environ)
        self.env.update(
            KEYWARD_HOME=self.home,
            XDG_RUNTIME_DIR=str(run),
            KEYWARD_CLI=str(CLI),
            AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED="true",
        )
        if keystore == "file":
            self.env["KEYWARD_KEYSTORE_PASSPHRASE"] = "test-only-passphrase"
        self.keystore = keystore
        self._saved: dict = {}
        self._first = True

    def cli(self, *args: str, check: bool = True, input: bytes | None = None) -> subprocess.CompletedProcess:
        argv = ["node", str(CLI)]
        if self._first and args[:2] in (("keys", "generate"), ("keys", "import")):
            argv += ["--keystore", self.keystore]
            self._first = False
        r = subprocess.run(argv + list(args), env=self.env, input=input, capture_output=True, timeout=120)
        if check and r.returncode != 0:
            raise AssertionError(f"keyward {' '.join(args)} exited {r.returncode}: {r.stderr.decode(errors='replace')}")
        return r

    def key(self, name: str, pq: bool = False) -> str:
        """Generates a key; returns its recipient."""
        return self.cli("keys", "generate", name, *(["--pq"] if pq else [])).stdout.decode().strip()

    def identity_file(self, ref: str) -> str:
        """The key's secret as an age identity file, for `age -d -i` (tests only)."""
        out = self.dir / f"{ref.replace('@', '_')}.identity"
        out.write_bytes(self.cli("keys", "export", ref, "--secret").stdout)
        out.chmod(0o600)
        return str(out)

    def path(self, *parts: str) -> str:
        return str(self.dir.joinpath(*parts))

    def activate(self) -> None:
        for k in ("KEYWARD_HOME", "XDG_RUNTIME_DIR", "KEYWARD_CLI", "KEYWARD_KEYSTORE_PASSPHRASE"):
            self._saved[k] = os.environ.get(k)
            if k in self.env:
                os.environ[k] = self.env[k]
            else:
                os.environ.pop(k, None)

    def deactivate(self) -> None:
        for k, v in self._saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    def stop(self) -> None:
        self.cli("daemon", "stop", check=False)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory):
    """One daemon for the session (file keystore), with keys alice (X25519) and pq (ML-KEM)."""
    sb = Sandbox(tmp_path_factory.mktemp("keyward"))
    sb.activate()
    sb.recipients = {"alice": sb.key("alice"), "pq": sb.key("pq", pq=True)}
    try:
        yield sb
    finally:
        sb.stop()
        sb.deactivate()
