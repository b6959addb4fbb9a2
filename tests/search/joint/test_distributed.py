"""Optuna's distributed mode for real: a throwaway PostgreSQL server, two worker processes on one study."""

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SMALL = ["--validation-images", "100", "--test-images", "100", "--no-progress", "--population", "4"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@pytest.mark.slow
def test_two_workers_share_one_postgresql_study():
    pytest.importorskip("psycopg2", reason="psycopg2 is not installed (pip install 'ristretto-sim[distributed]')")
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install -y postgresql)")
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("initdb and pg_ctl refuse to run as root: the test runs them with runuser -u postgres, "
                    "which needs root")
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no 'postgres' user to run the server as")
    base = Path(tempfile.mkdtemp(prefix="rs-pg-"))
    base.chmod(0o755)
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    shutil.chown(base, "postgres")
    shutil.chown(sock, "postgres")
    port = _free_port()

    def pg(*args, **kw):
        return subprocess.run(["runuser", "-u", "postgres", "--", *map(str, args)], check=True,
                              capture_output=True, text=True, **kw)

    pg(bindir / "initdb", "-D", data, "-A", "trust", "-U", "postgres")
    pg(bindir / "pg_ctl", "-D", data, "-l", base / "log", "-w", "start", "-o",
       f"-p {port} -k {sock} -c listen_addresses=127.0.0.1")
    try:
        pg(bindir / "createdb", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "joint")
        url = f"postgresql://postgres@127.0.0.1:{port}/joint"  # as the README writes it (psycopg2 is found)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        cmd = [sys.executable, "-m", "ristretto_sim.cli", "search", "lenet", "--storage", url, "--study", "shared",
               *SMALL]
        # the first worker creates the study; then two workers join it and run it to 10 COMPLETE trials
        first = subprocess.run([*cmd, "--trials", "2", "--out", str(base / "w0")], env=env, capture_output=True,
                               text=True, timeout=1200)
        assert first.returncode == 0, first.stderr[-2000:]
        workers = [subprocess.Popen([*cmd, "--trials", "10", "--resume", "--out", str(base / f"w{i}")], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for i in (1, 2)]
        for w in workers:
            assert w.wait(timeout=1800) == 0, w.stderr.read().decode()[-2000:]
        import optuna

        from ristretto_sim.search.joint.study import sqlalchemy_url

        study = optuna.load_study(study_name="shared", storage=sqlalchemy_url(url))
        done = [t for t in study.trials if t.state.name == "COMPLETE"]
        assert len(done) >= 10
        numbers = [t.number for t in study.trials]
        assert len(numbers) == len(set(numbers))  # no trial twice
        by = {t.user_attrs.get("worker") for t in done}
        pids = {str(w.pid) for w in workers}
        assert pids <= {b.rsplit(":", 1)[1] for b in by if b}, (pids, by)  # both workers finished trials
    finally:
        pg(bindir / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)
