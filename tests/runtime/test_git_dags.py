"""Git DAG mode end to end: real git, real Airflow, the chart's rendered git-sync containers
(gitSync: the init clone and the sidecar; gitInit renders the same init clone without the
sidecar, checked in the render tier).

The git-sync containers run as the runtime tier's stand-in (chart_tools.runtime.gitsync: real `git`,
git-sync's --root/--link layout) against a local repository, so what is proven is the chart's
side: init clones before Airflow starts, the sidecar's later pulls, and Airflow's DAG bundles
reading the folders git-sync publishes, in the dag-processor and in the Celery worker that runs
the tasks.
"""

import subprocess

import pytest
import yaml

from chart_tools import ROOT
from chart_tools.runtime.smoke import DEFAULT_PROFILE, Smoke

pytestmark = [pytest.mark.runtime, pytest.mark.usefixtures("runtime_ready")]


def git(*args, cwd):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=cwd, check=True)


@pytest.fixture
def repo(tmp_path):
    """A repository holding the example tutorial DAG under dags/ (the repo's subPath)."""
    work = tmp_path / "work"
    (work / "dags").mkdir(parents=True)
    (work / "dags" / "tutorial.py").write_text((ROOT / "dags" / "tutorial.py").read_text())
    (work / "README.md").write_text("not a DAG\n")
    git("init", "-q", "-b", "main", cwd=work)
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "dags", cwd=work)
    return work


def git_values(tmp_path, repo, mode, **git_settings):
    values = {
        "cluster": {
            "dags": {
                "mode": mode,
                "git": {
                    **git_settings,
                    "repos": [
                        {"name": "examples", "url": f"file://{repo}", "ref": "main", "subPath": "dags"}
                    ],
                },
            },
            # Look for new files in the bundles every few seconds (Airflow's default is 300 s).
            "config": {"dag_processor": {"refresh_interval": 3}},
        }
    }
    path = tmp_path / f"{mode}.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def test_git_sync_sidecar_delivers_a_later_push(tmp_path, repo):
    """A DAG pushed after every pod started reaches Airflow only through the sidecars' pulls;
    the smoke then runs that DAG, so the worker reads the new commit too."""

    def push_new_dag(runner):
        text = (
            (repo / "dags" / "tutorial.py").read_text().replace('dag_id="tutorial"', 'dag_id="pushed_later"')
        )
        (repo / "dags" / "pushed_later.py").write_text(text)
        git("add", ".", cwd=repo)
        git("commit", "-q", "-m", "a new DAG", cwd=repo)

    values = git_values(tmp_path, repo, "gitSync", period="2s")
    smoke = Smoke([DEFAULT_PROFILE, values], dag_id="pushed_later", on_started=push_new_dag)
    result = smoke.run()
    assert result.ok, result.failure
    assert set(result.tasks.values()) == {"success"}
    sidecars = {r.process.name for r in smoke.runner.running if "git-sync" in r.process.container}
    assert sidecars == {f"{pod}/git-sync-examples" for pod in ("dag-processor", "triggerer", "worker")}
    for reader in ("dag-processor", "worker", "triggerer"):  # each pod's own clone, published as a link
        link = result.run_dir / "pods" / reader / "opt/airflow/dags/examples"
        assert link.is_symlink() and (link / "dags" / "pushed_later.py").is_file()
    smoke.cleanup(keep=False)
