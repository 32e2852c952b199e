"""The cluster tier: the chart installed on a kind cluster (`chart-tools e2e`, `make demo`).

Nothing here runs on machines without a container engine; what can be proven without one (the
runner's ordering, waits, failure reports, the kind config, the git server's manifest) is
unit-tested with a fake command runner and a fake cluster (tests/e2e)."""
