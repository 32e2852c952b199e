"""Task logs: Elasticsearch or OpenSearch (JSON on stdout, read back by log_id), the log claim,
and the install notes' warning when KubernetesExecutor task logs would vanish with their pods."""

import pytest

from chart_tools.chart.render import RenderError, find, render
from chart_tools.chart.validate import validate
from tests.helpers import airflow_cfg, container, deployment, env_map, pod_of

ES = [
    "cluster.logging.elasticsearch.enabled=true",
    "cluster.logging.elasticsearch.host=https://es.example.com:9200",
]
OS = ["cluster.logging.opensearch.enabled=true", "cluster.logging.opensearch.host=os.example.com"]


def test_elasticsearch_logs_as_json_on_stdout_read_back_by_log_id(helm_major):
    objects = render(
        set_values=[*ES, "cluster.logging.elasticsearch.credentialsSecret=es-creds",
                    "cluster.logging.elasticsearch.caSecret=es-ca",
                    "cluster.logging.elasticsearch.frontend=https://kibana.example.com/app/discover?q={log_id}"],
        helm_major=helm_major,
    )  # fmt: skip
    cfg = airflow_cfg(objects)
    assert cfg["logging"]["remote_logging"] == "True"
    es = cfg["elasticsearch"]
    assert (es["write_stdout"], es["json_format"], es["offset_field"]) == ("True", "True", "offset")
    assert es["log_id_template"] == "{dag_id}-{task_id}-{run_id}-{map_index}-{try_number}"
    assert "{log_id}" in es["frontend"]
    assert "host" not in es  # it carries credentials: it comes from the environment
    assert cfg["elasticsearch_configs"]["ca_certs"] == "/etc/airflow/logging-ca/ca.crt"
    for component in ("api-server", "worker", "scheduler"):  # readers and writers of task logs
        c = container(deployment(objects, component), component)
        env = env_map(c)
        assert env["AIRFLOW_LOGS_PASSWORD"]["secretKeyRef"] == {"name": "es-creds", "key": "password"}
        assert env["AIRFLOW__ELASTICSEARCH__HOST"] == (
            "https://$(AIRFLOW_LOGS_USERNAME):$(AIRFLOW_LOGS_PASSWORD)@es.example.com:9200"
        )
        mount = next(m for m in c["volumeMounts"] if m["name"] == "logging-ca")
        assert mount["mountPath"] + "/ca.crt" == cfg["elasticsearch_configs"]["ca_certs"]
    assert not validate(objects)


def test_opensearch(helm_major):
    objects = render(
        set_values=[*OS, "cluster.logging.opensearch.credentialsSecret=os-creds"], helm_major=helm_major
    )
    cfg = airflow_cfg(objects)
    assert cfg["logging"]["remote_logging"] == "True"
    assert (cfg["opensearch"]["host"], cfg["opensearch"]["port"]) == ("os.example.com", "9200")
    assert cfg["opensearch"]["write_stdout"] == "True" and cfg["opensearch"]["json_format"] == "True"
    assert cfg["opensearch_configs"]["use_ssl"] == "True"
    env = env_map(container(deployment(objects, "worker"), "worker"))
    assert env["AIRFLOW__OPENSEARCH__PASSWORD"] == "$(AIRFLOW_LOGS_PASSWORD)"
    assert "elasticsearch" not in cfg
    assert not validate(objects)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ([*ES, *OS], "elasticsearch.enabled and cluster.logging.opensearch.enabled are both true"),
        (ES[:1], "cluster.logging.elasticsearch.host is required"),
        ([*ES, "cluster.config.logging.remote_logging=True"], "logging.remote_logging is set by"),
    ],
)  # fmt: skip
def test_bad_logging_settings_name_the_keys(overrides, message, helm_major):
    with pytest.raises(RenderError, match=message):
        render(set_values=overrides, helm_major=helm_major)


def test_log_claim_is_mounted_by_every_airflow_pod(helm_major):
    objects = render(
        set_values=[
            "cluster.logging.persistence.enabled=true",
            "cluster.executor=CeleryExecutor\\,KubernetesExecutor",
        ],
        helm_major=helm_major,
    )
    claim = find(objects, "PersistentVolumeClaim", "-logs")
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    folder = airflow_cfg(objects)["logging"]["base_log_folder"]
    for component in ("api-server", "scheduler", "worker", "triggerer", "dag-processor"):
        pod = pod_of(deployment(objects, component))
        volume = next(v for v in pod["volumes"] if v["name"] == "logs")
        assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
        assert any(
            m["name"] == "logs" and m["mountPath"] == folder for m in pod["containers"][0]["volumeMounts"]
        )
        assert pod["securityContext"]["fsGroup"] == 0  # the group Airflow (uid 50000, gid 0) writes with
    assert not validate(objects)


def test_notes_warn_when_kubernetes_executor_task_logs_would_vanish(helm_major, install_notes):
    def warned(*set_values):
        args = [a for value in set_values for a in ("--set", value)]
        return "its log is lost with the pod" in install_notes(helm_major, *args)

    k8s = "cluster.executor=KubernetesExecutor"
    assert warned(k8s)
    assert not warned(k8s, *ES)
    assert not warned(k8s, "cluster.logging.persistence.enabled=true")
    assert not warned()  # Celery workers keep theirs
