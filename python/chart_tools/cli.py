"""The `chart-tools` command line. User mistakes end in a one-line reason and exit status 2."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from chart_tools import docs
from chart_tools.render import DEFAULT_KUBE_VERSION, RenderError, render
from chart_tools.toolchain import ToolchainError
from chart_tools.validate import KUBE_VERSIONS, validate


def _render_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f", "--values", action="append", default=[], type=Path, help="values file (repeatable)"
    )
    parser.add_argument("--set", action="append", default=[], dest="set_values", help="KEY=VALUE override")
    parser.add_argument("--helm", type=int, choices=(3, 4), default=3, help="helm major version (default 3)")
    parser.add_argument(
        "--kube-version", default=DEFAULT_KUBE_VERSION, help="Kubernetes version to render for"
    )


def _check_files(paths: list[Path]) -> None:
    for path in paths:
        if not path.is_file():
            raise UserError(f"values file not found: {path}")


def _objects(args: argparse.Namespace) -> list[dict]:
    _check_files(args.values)
    return render(args.values, args.set_values, args.helm, args.kube_version)


class UserError(Exception):
    """A mistake in the command line or its inputs."""


def cmd_render(args: argparse.Namespace) -> int:
    sys.stdout.write(yaml.safe_dump_all(_objects(args), sort_keys=False))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    objects = _objects(args)
    findings = validate(objects, tuple(args.versions))
    for finding in findings:
        print(finding)
    versions = ", ".join(args.versions)
    print(f"{len(objects)} objects, Kubernetes {versions}, helm {args.helm}: {len(findings)} findings")
    return 1 if findings else 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def cmd_smoke(args: argparse.Namespace) -> int:
    from chart_tools.smoke import DEFAULT_PROFILE, Smoke

    _check_files(args.values)
    smoke = Smoke(args.values or [DEFAULT_PROFILE], helm_major=args.helm)
    # A CI runner's SIGTERM stops the run like Ctrl-C: every process and service is stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    result = smoke.run()
    print(result.report())
    smoke.cleanup(args.keep)
    return 0 if result.ok else 1


def cmd_docs(args: argparse.Namespace) -> int:
    changed = docs.write()
    for path in changed:
        print(f"updated {path}")
    if not changed:
        print("values.schema.json and README tables are up to date")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="chart-tools", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)
    p = sub.add_parser("render", help="render the chart and print the objects")
    _render_args(p)
    p.set_defaults(func=cmd_render)
    p = sub.add_parser("validate", help="render, then check schemas and pod policies")
    _render_args(p)
    p.add_argument("--versions", nargs="+", default=list(KUBE_VERSIONS), help="Kubernetes schema versions")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("smoke", help="run the rendered Airflow locally and prove the example DAG runs")
    p.add_argument("-f", "--values", action="append", default=[], type=Path, help="values file (repeatable)")
    p.add_argument("--helm", type=int, choices=(3, 4), default=3, help="helm major version (default 3)")
    p.add_argument("--keep", action="store_true", help="keep the run folder (logs, pod files) after success")
    p.set_defaults(func=cmd_smoke)
    p = sub.add_parser("docs", help="regenerate values.schema.json and the values tables from values.yaml")
    p.set_defaults(func=cmd_docs)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (UserError, RenderError, ToolchainError, docs.DocsError) as err:
        print(f"chart-tools {args.command}: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as err:
        print(f"chart-tools {args.command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
