"""Release operations through pyhelm3 (install or upgrade, uninstall, status, history), with the
helm binary of the chosen major. pyhelm3 is asynchronous; the e2e is not, so each call runs to
its end here."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pyhelm3

from chart_tools import CHART
from chart_tools.toolchain import helm_path

TIMEOUT = "15m"


def helm_merge(*values: dict[str, Any]) -> dict[str, Any]:
    """Values merged as `helm -f a -f b` merges them: maps deep-merged, a later list or scalar
    replaces the earlier one. (pyhelm3's own merge concatenates lists: two files naming git
    repositories would then get both lists.)"""
    merged: dict[str, Any] = {}
    for layer in values:
        for key, value in layer.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = helm_merge(merged[key], value)
            else:
                merged[key] = value
    return merged


class Releases:
    """The releases of one cluster (its kubeconfig)."""

    def __init__(self, helm_major: int, kubeconfig: Path) -> None:
        self.client = pyhelm3.Client(executable=str(helm_path(helm_major)), kubeconfig=kubeconfig)

    async def _install(self, release: str, namespace: str, values: list[dict[str, Any]]) -> int:
        chart = await self.client.get_chart(CHART)
        revision = await self.client.install_or_upgrade_release(
            release, chart, helm_merge(*values), namespace=namespace, create_namespace=True, timeout=TIMEOUT
        )
        return revision.revision

    def install(self, release: str, namespace: str, values: list[dict[str, Any]]) -> int:
        """`helm upgrade --install` with the values merged in order; the new revision number."""
        return asyncio.run(self._install(release, namespace, values))

    def uninstall(self, release: str, namespace: str) -> None:
        asyncio.run(self.client.uninstall_release(release, namespace=namespace, wait=True, timeout=TIMEOUT))

    async def _history(self, release: str, namespace: str) -> list[str]:
        current = await self.client.get_current_revision(release, namespace=namespace)
        revisions = await current.release.history()
        return [f"{r.revision} {r.status.value} {r.description or ''}".strip() for r in revisions]

    def history(self, release: str, namespace: str) -> list[str]:
        """One line per revision: number, status and description (`helm history`)."""
        return asyncio.run(self._history(release, namespace))

    def status(self, release: str, namespace: str) -> str:
        """The current revision's status (deployed, failed, ...) (`helm status`)."""
        revision = asyncio.run(self.client.get_current_revision(release, namespace=namespace))
        return revision.status.value
