"""Job scripts rendered from [dask] (no Slurm needed: SLURMCluster.job_script())."""

from __future__ import annotations

import dask
import pytest

from pytams.core import ConfigError, load_config
from pytams.runners import DaskRunner
from pytams.runners.dask_runner import make_slurm_cluster, split_dask_table

TOML = """
[tams]
ntrajectories = 10
[trajectory]
end_time = 1.0
step_size = 0.1
target_score = 1.0
[runner]
type = "dask"
workers = 4
[dask]
backend = "slurm"
queue = "gpu-long"
account = "climate42"
cores = 3
memory = "7GB"
processes = 1
walltime = "12:34:56"
interface = "lo"
python = "/opt/venv/bin/python"
job_name = "tamsworker"
job_extra_directives = ["--exclusive", "--constraint=haswell"]
job_script_prologue = ["module load python/3.11", "export OMP_NUM_THREADS=1"]
worker_extra_args = ["--lifetime", "55m", "--lifetime-stagger", "4m"]
"""


def test_every_dask_key_reaches_the_job_script(tmp_path: object) -> None:
    path = tmp_path / "input.toml"  # type: ignore[operator]
    path.write_text(TOML)
    config = load_config(path)
    runner = DaskRunner(config)
    assert runner.backend == "slurm"
    assert runner.workers == 4
    with make_slurm_cluster(config.dask) as cluster:
        script = cluster.job_script()
    lines = script.splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    for directive in (
        "#SBATCH -J tamsworker",
        "#SBATCH -p gpu-long",
        "#SBATCH -A climate42",
        "#SBATCH -n 1",
        "#SBATCH --cpus-per-task=3",
        "#SBATCH --mem=7G",
        "#SBATCH -t 12:34:56",
        "#SBATCH --exclusive",
        "#SBATCH --constraint=haswell",
    ):
        assert directive in lines, (directive, script)
    assert "module load python/3.11" in lines
    assert "export OMP_NUM_THREADS=1" in lines
    command = lines[-1]
    assert command.startswith(
        "/opt/venv/bin/python -m distributed.cli.dask_worker tcp://127.0.0.1:"
    )
    assert "--nthreads 3" in command
    assert "--memory-limit 6.52GiB" in command
    assert "--lifetime 55m --lifetime-stagger 4m" in command
    # nothing of the original implementation's hard-coded values
    assert "144GB" not in script
    assert "ib0" not in script


def test_a_named_dask_jobqueue_profile_supplies_the_values() -> None:
    # a profile as a site's jobqueue.yaml holds it: the slurm defaults with the site's values
    profile = dict(dask.config.get("jobqueue.slurm"))
    profile |= {
        "cores": 2,
        "memory": "3GB",
        "processes": 1,
        "queue": "fromprofile",
        "walltime": "00:07:00",
        "interface": "lo",
        "job-extra-directives": ["--qos=low"],
    }
    table = {"backend": "slurm", "config_name": "mycluster", "account": "given"}
    with dask.config.set({"jobqueue.mycluster": profile}), make_slurm_cluster(table) as cluster:
        script = cluster.job_script()
    assert "#SBATCH -p fromprofile" in script
    assert "#SBATCH -t 00:07:00" in script
    assert "#SBATCH --qos=low" in script
    assert "#SBATCH -A given" in script  # a [dask] key overrides the profile
    assert "#SBATCH --mem=3G" in script


def test_unknown_slurm_keyword_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"SLURMCluster rejected .*queue_name"):
        make_slurm_cluster({"cores": 1, "memory": "1GB", "queue_name": "debug"})


def test_backend_checks() -> None:
    assert split_dask_table({}) == ("local", {})
    assert split_dask_table({"backend": "address", "address": "tcp://h:1"}) == (
        "address",
        {"address": "tcp://h:1"},
    )
    with pytest.raises(ConfigError, match="not a dask backend"):
        split_dask_table({"backend": "pbs"})
    with pytest.raises(ConfigError, match="needs the scheduler's address"):
        split_dask_table({"backend": "address"})
    with pytest.raises(ConfigError, match="no effect"):
        split_dask_table({"backend": "address", "address": "tcp://h:1", "cores": 2})
    with pytest.raises(ConfigError, match="only read with"):
        split_dask_table({"address": "tcp://h:1"})


def test_building_a_slurm_cluster_keeps_ctrl_c_a_keyboard_interrupt() -> None:
    import signal

    before = signal.getsignal(signal.SIGINT)
    with make_slurm_cluster({"cores": 1, "memory": "1GB", "interface": "lo"}):
        pass
    assert signal.getsignal(signal.SIGINT) is before  # dask_jobqueue sets sys.exit() on import
