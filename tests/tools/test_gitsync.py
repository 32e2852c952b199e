"""The runtime tier's git-sync stand-in keeps git-sync's published layout, with real git."""

import subprocess

import pytest

from chart_tools.runtime import gitsync


def git(*args, cwd):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", *args], cwd=cwd, check=True)


def commit(repo, name):
    (repo / name).write_text(name)
    git("add", ".", cwd=repo)
    git("commit", "-q", "-m", name, cwd=repo)


def test_each_sync_publishes_the_new_commit_atomically(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    commit(repo, "one.py")
    flags = {"repo": f"file://{repo}", "ref": "main", "root": str(tmp_path / "dags/.git-sync/r"),
             "link": str(tmp_path / "dags/r")}  # fmt: skip
    first = gitsync.sync_once(flags)
    link = tmp_path / "dags/r"
    assert link.is_symlink() and not str(link.readlink()).startswith("/")  # relative, mount-proof
    assert (link / "one.py").is_file() and link.resolve().name == first
    commit(repo, "two.py")
    second = gitsync.sync_once(flags)
    assert second != first and (link / "two.py").is_file()
    assert [p.name for p in (tmp_path / "dags/.git-sync/r/.worktrees").iterdir()] == [second]


def test_plan_maps_the_health_port():
    argv, ports = gitsync.plan(["--repo=file:///r", "--root=/x/r", "--http-bind=:8100"])
    assert argv[1:] == [
        "-m",
        "chart_tools.runtime.gitsync",
        "--repo=file:///r",
        "--root=/x/r",
        f"--http-bind=127.0.0.1:{ports['8100']}",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--repo=x", "--root=/r", "--ssh"], "--ssh is not supported"),
        (["--root=/r"], "--repo is required"),
        (["--repo=x", "--root=/r", "--period=soon"], "bad duration"),
    ],
)
def test_unsupported_or_bad_arguments_stop_it(args, message, capsys):
    assert gitsync.main(args) == 2
    assert message in capsys.readouterr().err


def test_go_durations():
    assert gitsync.seconds("1m30s") == 90
    assert gitsync.seconds("500ms") == 0.5
