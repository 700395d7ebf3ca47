"""The Python client follows the wire contract of daemon/protocol/: the same daemon paths for the
same environment (paths.ts is the one definition), the same protocol version and method names."""
from __future__ import annotations

import json
import os
import subprocess

from conftest import ROOT, require_tool

from keyward import _paths, _rpc


def _probe(envs: list) -> dict:
    node = require_tool("node")
    r = subprocess.run(
        [node, "--import", "tsx", str(ROOT / "test" / "python" / "contract_probe.ts"), json.dumps(envs)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_daemon_paths_match_the_contract(tmp_path):
    real = tmp_path / "real-home"
    real.mkdir()
    link = tmp_path / "link-home"
    link.symlink_to(real)
    odd = tmp_path / "модель home"
    odd.mkdir()
    long_run = str(tmp_path / ("r" * 120))
    envs = [
        {"KEYWARD_HOME": str(real), "XDG_RUNTIME_DIR": str(tmp_path / "run")},
        {"KEYWARD_HOME": str(link), "XDG_RUNTIME_DIR": str(tmp_path / "run")},
        {"KEYWARD_HOME": str(tmp_path / "not-yet"), "XDG_RUNTIME_DIR": str(tmp_path / "run") + "/"},
        {"KEYWARD_HOME": str(odd)},
        {"KEYWARD_HOME": str(real) + "/../real-home/"},
        {"XDG_DATA_HOME": str(tmp_path / "data"), "XDG_RUNTIME_DIR": str(tmp_path / "run")},
        {"XDG_DATA_HOME": "", "XDG_RUNTIME_DIR": ""},
        {"KEYWARD_HOME": str(real), "XDG_RUNTIME_DIR": long_run, "TMPDIR": str(tmp_path) + "/"},
        {"KEYWARD_HOME": str(real), "XDG_RUNTIME_DIR": long_run, "TMP": "/var/tmp"},
        {"KEYWARD_HOME": str(real), "XDG_RUNTIME_DIR": long_run},
    ]
    want = _probe(envs)
    for env, w in zip(envs, want["paths"]):
        home = _paths.keyward_home(env)
        got = _paths.daemon_paths(home, env)
        assert (home, got.run_dir, got.socket, got.token) == (w["home"], w["runDir"], w["socket"], w["token"]), env


def test_protocol_version_and_method_names_match():
    c = _probe([])
    assert _rpc.PROTOCOL_VERSION == c["protocolVersion"]
    assert _rpc.METHOD_AUTHENTICATE == c["methods"]["authenticate"]
    assert _rpc.METHOD_FILE_KEY == c["methods"]["runtimeFileKey"]
    assert _rpc.METHOD_SEAL == c["methods"]["runtimeSeal"]


def test_the_suite_runs_the_installed_package():
    import keyward
    from conftest import PACKAGE_DIR

    assert os.path.realpath(keyward.__file__).startswith(os.path.realpath(PACKAGE_DIR))
    assert os.path.exists(os.path.join(os.path.dirname(keyward.__file__), "py.typed"))
