"""Job scripts rendered from [dask] (no batch scheduler needed: cluster.job_script())."""

from __future__ import annotations

import copy
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask
import pytest

from pytams.core import Config, ConfigError, load_config
from pytams.runners import DaskRunner
from pytams.runners.dask_runner import (
    BACKENDS,
    JOBQUEUE_BACKENDS,
    _import_cluster_class,
    make_jobqueue_cluster,
    make_slurm_cluster,
    split_dask_table,
    translate_pytams_keys,
)
from tests.runners.models import tables

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

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
    with pytest.raises(ConfigError, match=r"^\[dask\] queue_name: rejected by .*SLURMCluster"):
        make_slurm_cluster({"cores": 1, "memory": "1GB", "queue_name": "debug"})


def test_the_rejected_key_message_names_only_the_rejected_key() -> None:
    table = {"backend": "slurm", "queue": "q", "cores": 1, "memory": "1GB", "bogus_key": 1}
    with pytest.raises(ConfigError) as info:
        make_slurm_cluster(table)
    message = str(info.value)
    what, _, fix = message.partition("; fix:")
    assert what.startswith("[dask] bogus_key: rejected"), message
    # the good keys are not called rejected, nor dumped
    assert "queue" not in what.replace("dask-jobqueue", ""), message
    assert "'q'" not in message, message
    assert "1GB" not in message, message
    assert "bogus_key" in fix, message
    assert "\n" not in message


def test_an_unparsed_slurm_error_lists_the_keys_without_rejecting_them() -> None:
    with pytest.raises(ConfigError) as info:  # no cores anywhere: dask-jobqueue's ValueError
        make_slurm_cluster({"backend": "slurm", "queue": "q", "memory": "1GB"})
    message = str(info.value)
    assert message.startswith("[dask] queue, memory: "), message
    assert "rejected" not in message, message
    assert "cores" in message, message  # dask-jobqueue's own reason
    assert "; fix: " in message
    assert "\n" not in message


def test_an_unknown_local_cluster_keyword_names_only_that_key() -> None:
    runner = DaskRunner(workers=1, dask={"bogus_key": 1})
    with pytest.raises(ConfigError) as info, runner:
        pass
    message = str(info.value)
    what, _, _ = message.partition("; fix:")
    assert what.startswith("[dask] bogus_key: rejected by distributed's LocalCluster"), message
    for ours in ("n_workers", "threads_per_worker", "processes", "dashboard_address"):
        assert ours not in what, message


def test_backend_checks() -> None:
    assert split_dask_table({}) == ("local", {})
    assert split_dask_table({"backend": "address", "address": "tcp://h:1"}) == (
        "address",
        {"address": "tcp://h:1"},
    )
    with pytest.raises(ConfigError, match="not a dask backend") as info:
        split_dask_table({"backend": "kubernetes"})
    for name in ("local", "address", "slurm", "pbs", "sge", "lsf", "htcondor", "oar", "moab"):
        assert f'"{name}"' in str(info.value).partition("; fix:")[2], name
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


# ------------------------------------------------------------------ pyTAMS [dask] keys
PYTAMS_TOML = """
[tams]
ntrajectories = 10
[trajectory]
end_time = 1.0
step_size = 0.1
target_score = 1.0
[runner]
type = "dask"
workers = 2
[dask]
backend = "slurm"
queue = "regular"
ntasks_per_job = 4
ntasks_per_node = 2
ncores_per_worker = 3
job_prologue = ["module load python/3.11", "source venv/bin/activate"]
worker_walltime = "02:00:00"
memory = "5GB"
processes = 1
job_extra_directives = ["--exclusive"]
"""

NOTES = [
    '[dask] ntasks_per_job = 4 (pyTAMS) is job_extra_directives "--ntasks=4" here',
    '[dask] ntasks_per_node = 2 (pyTAMS) is job_extra_directives "--tasks-per-node=2" here',
    "[dask] ncores_per_worker = 3 (pyTAMS) is cores here",
    '[dask] job_prologue = ["module load python/3.11", "source venv/bin/activate"] (pyTAMS) '
    "is job_script_prologue here",
    '[dask] worker_walltime = "02:00:00" (pyTAMS) is walltime here',
]


@pytest.fixture
def dask_config_kept() -> Iterator[None]:
    """Dask's configuration as before the test (a slurm_config_file merges into it)."""
    _import_cluster_class("slurm")  # dask-jobqueue's defaults are in the configuration saved
    saved = copy.deepcopy(dask.config.config)
    yield
    dask.config.config.clear()
    dask.config.config.update(saved)


def test_translate_pytams_keys(tmp_path: Path) -> None:
    table = load_config_text(PYTAMS_TOML, tmp_path).dask
    before = copy.deepcopy(dict(table))
    translated, notes = translate_pytams_keys(table)
    assert translated == {
        "backend": "slurm",
        "queue": "regular",
        "cores": 3,
        "job_script_prologue": ["module load python/3.11", "source venv/bin/activate"],
        "walltime": "02:00:00",
        "memory": "5GB",
        "processes": 1,
        "job_extra_directives": ["--exclusive", "--ntasks=4", "--tasks-per-node=2"],
    }
    assert notes == NOTES
    assert dict(table) == before  # pure: the table given is not changed
    assert translate_pytams_keys(translated) == (translated, [])  # native keys pass unchanged


def test_every_pytams_key_reaches_the_job_script(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = load_config_text(PYTAMS_TOML, tmp_path)
    caplog.set_level(logging.INFO, logger="pytams.runners")
    runner = DaskRunner(config)
    with make_slurm_cluster(runner.cluster_kwargs) as cluster:
        script = cluster.job_script()
    lines = script.splitlines()
    for directive in (
        "#SBATCH -p regular",
        "#SBATCH --ntasks=4",
        "#SBATCH --tasks-per-node=2",
        "#SBATCH --cpus-per-task=3",
        "#SBATCH -t 02:00:00",
        "#SBATCH --exclusive",
        "#SBATCH --mem=5G",
    ):
        assert directive in lines, (directive, script)
    assert "module load python/3.11" in lines
    assert "source venv/bin/activate" in lines
    assert "--nthreads 3" in lines[-1]
    # none of pyTAMS's hard-coded values
    assert "144GB" not in script
    assert "ib0" not in script
    logged = [r.getMessage() for r in caplog.records if r.name == "pytams.runners"]
    for note in NOTES:  # each translation logged once (not again when the cluster is built)
        assert logged.count(note) == 1, (note, logged)
    # the same script (but the scheduler's port) from the [dask] table as given
    with make_slurm_cluster(config.dask) as cluster:
        again = cluster.job_script()
    assert re.sub(r"tcp://\S+", "", again) == re.sub(r"tcp://\S+", "", script)


@pytest.mark.usefixtures("dask_config_kept")
def test_slurm_config_file_values_reach_the_job_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    text = (
        "jobqueue:\n"
        "  slurm:\n"
        "    queue: fromfile\n"
        "    cores: 2\n"
        "    memory: 3GB\n"
        "    walltime: '00:09:00'\n"
        "    job-extra-directives: ['--qos=fromfile']\n"
    )
    monkeypatch.chdir(tmp_path)
    Path("pytams-slurm.yaml").write_text(text)
    caplog.set_level(logging.INFO, logger="pytams.runners")
    table = {
        "backend": "slurm",
        "slurm_config_file": "pytams-slurm.yaml",  # relative to the working directory
        "worker_walltime": "01:00:00",  # a [dask] key overrides the file
    }
    _, kwargs = split_dask_table(table)
    with make_slurm_cluster(kwargs) as cluster:
        script = cluster.job_script()
    lines = script.splitlines()
    for directive in (
        "#SBATCH -p fromfile",
        "#SBATCH --cpus-per-task=2",
        "#SBATCH --mem=3G",
        "#SBATCH --qos=fromfile",
        "#SBATCH -t 01:00:00",
    ):
        assert directive in lines, (directive, script)
    assert "00:09:00" not in script
    # the user's file stays where it is, unchanged, and is not put in ~/.config/dask
    assert Path("pytams-slurm.yaml").read_text() == text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pytams-slurm.yaml"]
    user_config = Path.home() / ".config" / "dask"
    assert not (user_config / "pytams-slurm.yaml").exists()
    if user_config.is_dir():
        assert not any("fromfile" in f.read_text() for f in user_config.glob("*.yaml"))
    logged = [r.getMessage() for r in caplog.records if r.name == "pytams.runners"]
    assert sum("slurm_config_file" in m for m in logged) == 1, logged


def test_a_missing_slurm_config_file_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    table = {"backend": "slurm", "slurm_config_file": str(missing)}
    with pytest.raises(ConfigError) as info:
        make_slurm_cluster(table)
    message = str(info.value)
    assert message.startswith("[dask] slurm_config_file = "), message
    assert str(missing) in message
    assert "no such file" in message
    assert "; fix: " in message


@pytest.mark.usefixtures("dask_config_kept")
def test_a_slurm_config_file_that_is_not_a_mapping_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("- a list\n- not a mapping\n")
    with pytest.raises(ConfigError, match=r"^\[dask\] slurm_config_file = .*; fix: "):
        make_slurm_cluster({"slurm_config_file": str(path), "cores": 1, "memory": "1GB"})


@pytest.mark.parametrize(
    ("pytams", "native"),
    [
        (("worker_walltime", "02:00:00"), ("walltime", "03:00:00")),
        (("ncores_per_worker", 2), ("cores", 4)),
        (("job_prologue", ["module load x"]), ("job_script_prologue", ["module load y"])),
        (("ntasks_per_job", 4), ("job_extra_directives", ["--ntasks=2"])),
        (("ntasks_per_job", 4), ("job_extra_directives", ["-n 2"])),
        (("ntasks_per_node", 4), ("job_extra_directives", ["--ntasks-per-node=2"])),
        (("ntasks_per_node", 4), ("job_extra_directives", ["--tasks-per-node=2"])),
    ],
)
def test_a_pytams_key_with_its_native_counterpart_is_a_config_error(
    pytams: tuple[str, Any], native: tuple[str, Any]
) -> None:
    table = {"backend": "slurm", "memory": "1GB", pytams[0]: pytams[1], native[0]: native[1]}
    for build in (split_dask_table, make_slurm_cluster):
        with pytest.raises(ConfigError, match=rf"^\[dask\] {pytams[0]} .*give only one of"):
            build(table)


def test_directives_of_other_options_are_kept() -> None:
    table = {"ntasks_per_job": 4, "job_extra_directives": ["--ntasks-per-node=2", "--nice"]}
    translated, _ = translate_pytams_keys(table)
    assert translated["job_extra_directives"] == ["--ntasks-per-node=2", "--nice", "--ntasks=4"]


@pytest.mark.parametrize("backend", ["slurm", "local"])
def test_nworker_is_refused_for_runner_workers(backend: str) -> None:
    with pytest.raises(ConfigError, match=r"^\[dask\] nworker = 8 .*\[runner\] workers = 8"):
        split_dask_table({"backend": backend, "nworker": 8})
    with pytest.raises(ConfigError, match=r"\[runner\] workers"):
        make_slurm_cluster({"nworker": 8, "cores": 1, "memory": "1GB"})


@pytest.mark.parametrize(
    "key",
    ["slurm_config_file", "queue", "ntasks_per_job", "ncores_per_worker", "worker_walltime"],
)
@pytest.mark.parametrize("backend", ["local", "address"])
def test_pytams_slurm_keys_only_apply_to_the_slurm_backend(key: str, backend: str) -> None:
    table: dict[str, Any] = {"backend": backend, key: "x"}
    if backend == "address":
        table["address"] = "tcp://h:1"
    with pytest.raises(ConfigError, match=rf'^\[dask\] {key}: .*only read with backend = "slurm"'):
        split_dask_table(table)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("ntasks_per_job", "4"),
        ("ntasks_per_node", 0),
        ("ncores_per_worker", True),
        ("job_prologue", "module load x"),
        ("worker_walltime", 7200),
        ("slurm_config_file", 1),
    ],
)
def test_a_pytams_key_of_the_wrong_type_is_a_config_error(key: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=rf"^\[dask\] {key} = .* \(pyTAMS\) must be .*fix: "):
        translate_pytams_keys({key: value})


def load_config_text(text: str, tmp_path: Path) -> Config:
    path = tmp_path / "input.toml"
    path.write_text(text)
    return load_config(path)


# ------------------------------------------------------------------ every dask-jobqueue backend
COMMON = {
    "cores": 4,
    "memory": "8GB",
    "processes": 1,
    "interface": "lo",
    "job_name": "tamsworker",
    "job_script_prologue": ["module load python/3.11", "export OMP_NUM_THREADS=1"],
}

# backend -> its [dask] keys besides COMMON, and header lines its job script must hold
SCHEDULERS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "pbs": (
        {
            "queue": "workq",
            "account": "climate42",
            "walltime": "02:00:00",
            "resource_spec": "select=1:ncpus=4:mem=8GB",
            "job_extra_directives": ["-l place=excl"],
        },
        [
            "#PBS -N tamsworker",
            "#PBS -q workq",
            "#PBS -A climate42",
            "#PBS -l select=1:ncpus=4:mem=8GB",
            "#PBS -l walltime=02:00:00",
            "#PBS -l place=excl",
        ],
    ),
    "moab": (
        {
            "queue": "batch",
            "account": "climate42",
            "walltime": "02:00:00",
            "resource_spec": "nodes=1:ppn=4",
            "job_extra_directives": ["-m abe"],
        },
        [
            "#PBS -N tamsworker",
            "#PBS -q batch",
            "#PBS -A climate42",
            "#PBS -l nodes=1:ppn=4",
            "#PBS -l walltime=02:00:00",
            "#PBS -m abe",
        ],
    ),
    "sge": (
        {
            "queue": "all.q",
            "project": "climate42",
            "walltime": "02:00:00",
            "resource_spec": "h_vmem=8G",
            "job_extra_directives": ["-pe smp 4"],
        },
        [
            "#$ -N tamsworker",
            "#$ -q all.q",
            "#$ -P climate42",
            "#$ -l h_vmem=8G",
            "#$ -l h_rt=02:00:00",
            "#$ -pe smp 4",
        ],
    ),
    "lsf": (
        {
            "queue": "normal",
            "project": "climate42",
            "walltime": "02:00",
            "lsf_units": "MB",
            "job_extra_directives": ['-R "select[avx2]"'],
        },
        [
            "#BSUB -J tamsworker",
            "#BSUB -q normal",
            '#BSUB -P "climate42"',
            "#BSUB -n 4",
            "#BSUB -M 8000",
            "#BSUB -W 02:00",
            '#BSUB -R "select[avx2]"',
        ],
    ),
    "oar": (
        {
            "queue": "default",
            "project": "climate42",
            "walltime": "02:00:00",
            "resource_spec": "/nodes=1/core=4",
            "memory_per_core_property_name": "memcore",
            "job_extra_directives": ["-t besteffort"],
        },
        [
            "#OAR -n tamsworker",
            "#OAR -q default",
            "#OAR --project climate42",
            "#OAR -l /nodes=1/core=4,walltime=02:00:00",
            "#OAR -t besteffort",
            "#OAR -p memcore>=1908",  # 8 GB over 4 cores, in MiB
        ],
    ),
    "htcondor": (
        {
            "disk": "2GB",
            # HTCondor's extra directives are submit-description keys: a TOML table
            "job_extra_directives": {
                "+JobFlavour": '"longlunch"',
                "requirements": "(OpSysMajorVer == 8)",
            },
        },
        [
            "RequestCpus = MY.DaskWorkerCores",
            "MY.DaskWorkerCores = 4",
            "MY.DaskWorkerMemory = 8000000000",
            "MY.DaskWorkerDisk = 2000000000",
            '+JobFlavour = "longlunch"',
            "requirements = (OpSysMajorVer == 8)",
            "Executable = /bin/sh",
        ],
    ),
}


def test_every_jobqueue_backend_is_accepted_and_tested() -> None:
    assert set(JOBQUEUE_BACKENDS) == {"slurm", *SCHEDULERS}
    assert set(BACKENDS) == {"local", "address", *JOBQUEUE_BACKENDS}


@pytest.mark.parametrize("backend", list(SCHEDULERS))
def test_each_scheduler_job_script(backend: str) -> None:
    extra, headers = SCHEDULERS[backend]
    config = load_config(
        tables(runner="dask", workers=3, dask={"backend": backend, **COMMON, **extra})
    )
    runner = DaskRunner(config)
    assert runner.backend == backend
    assert runner.workers == 3
    assert runner.cluster_kwargs == {**COMMON, **extra}  # every key passed unchanged
    with make_jobqueue_cluster(runner.backend, runner.cluster_kwargs) as cluster:
        assert type(cluster).__name__ == JOBQUEUE_BACKENDS[backend].rpartition(":")[2]
        script = cluster.job_script()
    lines = script.splitlines()
    shebang = "#!/usr/bin/env condor_submit" if backend == "htcondor" else "#!/usr/bin/env bash"
    assert lines[0] == shebang
    for header in headers:
        assert header in lines, (header, script)
    if backend == "htcondor":  # the prologue runs in the same shell as the worker
        assert "-c 'module load python/3.11; export OMP_NUM_THREADS=1; " in script
        command = next(line for line in lines if line.startswith("Arguments = "))
    else:
        prologue = lines.index("module load python/3.11")
        assert lines[prologue + 1] == "export OMP_NUM_THREADS=1"
        assert max(lines.index(h) for h in headers) < prologue  # the headers come first
        command = lines[-1]
    assert " -m distributed.cli.dask_worker tcp://127.0.0.1:" in command
    assert "--nthreads 4" in command
    assert "--interface lo" in command


def test_the_docs_pbs_example_gives_the_documented_header() -> None:
    text = (Path(__file__).parents[2] / "docs" / "hpc.md").read_text()
    section = text.split("## PBS Pro", 1)[1]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S)
    (kind, example), (_, header) = blocks[:2]
    assert kind == "toml"
    config = tomllib.loads(example)
    assert config["runner"]["type"] == "dask"
    runner = DaskRunner(dask={**config["dask"], "interface": "lo"})
    assert runner.backend == "pbs"
    with make_jobqueue_cluster(runner.backend, runner.cluster_kwargs) as cluster:
        lines = cluster.job_script().splitlines()
    expected = header.splitlines()
    start = lines.index(expected[0])
    assert lines[start : start + len(expected)] == expected


@pytest.mark.parametrize(
    ("backend", "own"),
    [
        ("slurm", "account"),
        ("pbs", "resource_spec"),
        ("moab", "resource_spec"),
        ("sge", "project"),
        ("lsf", "lsf_units"),
        ("oar", "memory_per_core_property_name"),
        ("htcondor", "disk"),
    ],
)
def test_a_rejected_keyword_names_the_key_and_the_cluster_class(backend: str, own: str) -> None:
    table: dict[str, Any] = {"cores": 1, "memory": "1GB", "interface": "lo", "bogus_key": 1}
    if backend == "htcondor":
        table["disk"] = "1GB"
    with pytest.raises(ConfigError) as info:
        make_jobqueue_cluster(backend, table)
    message = str(info.value)
    what, _, fix = message.partition("; fix:")
    name = JOBQUEUE_BACKENDS[backend].rpartition(":")[2]
    assert what.startswith(f"[dask] bogus_key: rejected by dask-jobqueue's {name} "), message
    assert f'backend = "{backend}"' in what, message
    assert "1GB" not in message, message
    assert "bogus_key" in fix, message
    assert own in fix, message  # the class's own keywords are named
    assert "\n" not in message


def test_a_keyword_of_another_scheduler_is_rejected() -> None:
    # account is Slurm's and PBS's; SGE calls it project
    with pytest.raises(ConfigError, match=r"^\[dask\] account: rejected by .*SGECluster.*project"):
        make_jobqueue_cluster("sge", {"cores": 1, "memory": "1GB", "account": "a"})


def test_htcondor_without_disk_names_the_missing_value() -> None:
    with pytest.raises(ConfigError) as info:
        make_jobqueue_cluster("htcondor", {"backend": "htcondor", "cores": 1, "memory": "1GB"})
    message = str(info.value)
    assert message.startswith("[dask] cores, memory: dask-jobqueue's HTCondorCluster could not")
    assert "disk" in message.partition("; fix:")[0]
    assert "rejected" not in message


def test_only_jobqueue_backends_make_a_jobqueue_cluster() -> None:
    with pytest.raises(ConfigError, match="not a dask-jobqueue backend; fix: one of") as info:
        make_jobqueue_cluster("local", {})
    assert '"htcondor"' in str(info.value)


@pytest.mark.parametrize(
    ("key", "native"),
    [
        ("worker_walltime", "walltime"),
        ("ncores_per_worker", "cores"),
        ("job_prologue", "job_script_prologue"),
        ("ntasks_per_job", "job_extra_directives"),
        ("slurm_config_file", "config_name"),
    ],
)
@pytest.mark.parametrize("backend", ["pbs", "htcondor"])
def test_pytams_keys_with_another_scheduler_name_the_keyword_to_use(
    backend: str, key: str, native: str
) -> None:
    with pytest.raises(ConfigError) as info:
        split_dask_table({"backend": backend, key: "x"})
    message = str(info.value)
    assert message.startswith(
        f'[dask] {key}: pyTAMS Slurm key(s), only read with backend = "slurm"'
    )
    assert f"{native}" in message.partition("; fix:")[2], message
    with pytest.raises(ConfigError, match=rf"^\[dask\] {key}: pyTAMS"):
        make_jobqueue_cluster(backend, {"cores": 1, "memory": "1GB", key: "x"})


def test_a_scheduler_backend_keeps_queue_and_refuses_address() -> None:
    assert split_dask_table({"backend": "pbs", "queue": "q", "cores": 2}) == (
        "pbs",
        {"queue": "q", "cores": 2},
    )
    with pytest.raises(
        ConfigError, match=r'^\[dask\] address is only read with backend = "address"'
    ):
        split_dask_table({"backend": "sge", "address": "tcp://h:1"})


def test_importing_any_jobqueue_cluster_keeps_ctrl_c_a_keyboard_interrupt() -> None:
    # in a fresh interpreter: dask_jobqueue sets its handler on its first import only
    code = (
        "import signal\n"
        "from pytams.runners.dask_runner import JOBQUEUE_BACKENDS, _import_cluster_class\n"
        "before = signal.getsignal(signal.SIGINT)\n"
        "for backend in JOBQUEUE_BACKENDS:\n"
        "    _import_cluster_class(backend)\n"
        "    assert signal.getsignal(signal.SIGINT) is before, backend\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.stdout.strip() == "ok", done.stderr
