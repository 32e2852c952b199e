"""The local runtime (runtime tier): the rendered chart run as local processes.

plan (the kubelet's reading of pods), processes (running them), services (PostgreSQL, Redis),
kubeapi and gitsync (stand-ins for what a cluster provides), smoke and up (the user commands).
"""
