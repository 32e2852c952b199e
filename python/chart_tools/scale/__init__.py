"""The scale tier: generated DAGs run on the local runtime, measured (`chart-tools scale`)."""
