"""Both helm majors are installed at the versions the project pins."""

from chart_tools.toolchain import helm_path, helm_version


def test_helm_3_is_3_17():
    assert helm_version(helm_path(3)).startswith("v3.17.")


def test_helm_4_is_4_1():
    assert helm_version(helm_path(4)).startswith("v4.1.")
