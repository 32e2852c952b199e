"""Both helm majors are installed at the versions the project pins."""

from chart_tools.toolchain import helm_path, helm_version, usable


def test_helm_3_is_3_17():
    assert helm_version(helm_path(3)).startswith("v3.17.")


def test_helm_4_is_4_1():
    assert helm_version(helm_path(4)).startswith("v4.1.")


def test_usable_versions():
    assert usable("v3.17.3+ge4da497", 3)
    assert usable("v3.18.0", 3)
    assert not usable("v3.16.4", 3)
    assert not usable("v4.1.4", 3)
    assert usable("v4.1.4+g05fa379", 4)
    assert not usable("v4.0.0", 4)
