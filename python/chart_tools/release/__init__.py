"""Release tier: package the chart (optionally signed) and publish it to HTTP and OCI chart repositories."""
