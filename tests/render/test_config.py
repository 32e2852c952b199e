"""airflow.cfg from cluster.config, derived wiring, and pods rolling on change."""

import pytest

from chart_tools.chart.render import RenderError, find, render
from tests.helpers import AIRFLOW_COMPONENTS, airflow_cfg, deployment


def annotations(objects, component):
    return deployment(objects, component)["spec"]["template"]["metadata"]["annotations"]


def test_user_config_lands_in_airflow_cfg(helm_major):
    objects = render(
        set_values=["cluster.config.core.parallelism=64", "cluster.config.webserver.x=y"],
        helm_major=helm_major,
    )
    cfg = airflow_cfg(objects)
    assert cfg["core"]["parallelism"] == "64"
    assert cfg["webserver"]["x"] == "y"
    assert cfg["core"]["load_examples"] == "False"  # defaults survive a partial override


def test_auth_manager_is_fab_with_its_config_file(defaults):
    assert airflow_cfg(defaults)["core"]["auth_manager"].endswith("fab_auth_manager.FabAuthManager")
    code = find(defaults, "ConfigMap", "-config")["data"]["webserver_config.py"]
    compile(code, "webserver_config.py", "exec")  # valid Python


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("core.executor", "set by the chart"),
        ("core.execution_api_server_url", "set by the chart"),
        ("core.fernet_key", "is a secret"),
        ("api_auth.jwt_secret", "is a secret"),
        ("database.sql_alchemy_conn", "is a secret"),
    ],
)
def test_wiring_and_secret_keys_are_rejected_with_the_key_named(helm_major, key, reason):
    with pytest.raises(RenderError) as err:
        render(set_values=[f"cluster.config.{key}=x"], helm_major=helm_major)
    assert f"cluster.config.{key}" in str(err.value)
    assert reason in str(err.value)


def test_config_change_rolls_every_airflow_pod(defaults, helm_major):
    changed = render(set_values=["cluster.config.core.parallelism=7"], helm_major=helm_major)
    for component in AIRFLOW_COMPONENTS:
        before, after = annotations(defaults, component), annotations(changed, component)
        assert before["checksum/config"] != after["checksum/config"]
        assert before["checksum/secrets"] == after["checksum/secrets"]


def test_secret_source_change_rolls_every_airflow_pod(defaults, helm_major):
    changed = render(set_values=["cluster.secrets.existingSecret=rotated"], helm_major=helm_major)
    for component in AIRFLOW_COMPONENTS:
        assert (
            annotations(defaults, component)["checksum/secrets"]
            != annotations(changed, component)["checksum/secrets"]
        )


def test_unrelated_change_does_not_roll_pods(defaults, helm_major):
    changed = render(set_values=["cluster.scheduler.replicas=3"], helm_major=helm_major)
    for component in AIRFLOW_COMPONENTS:
        assert annotations(defaults, component) == annotations(changed, component)
