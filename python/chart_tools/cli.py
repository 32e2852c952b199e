"""The `chart-tools` command line. User mistakes end in a one-line reason and exit status 2."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from chart_tools import scenarios
from chart_tools.chart import checkov, docs, operator, values
from chart_tools.chart.render import DEFAULT_KUBE_VERSION, RenderError, render
from chart_tools.chart.validate import KUBE_VERSIONS, validate
from chart_tools.release import lint as release_lint
from chart_tools.release import package as release_package
from chart_tools.release import publish as release_publish
from chart_tools.release.helm import ReleaseError
from chart_tools.toolchain import ToolchainError


def _helm_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--helm", type=int, choices=(3, 4), default=3, help="helm major version (default 3)")


def _values_args(parser: argparse.ArgumentParser) -> None:
    """Values files and the helm major: what every command that renders takes."""
    parser.add_argument(
        "-f", "--values", action="append", default=[], type=Path, help="values file (repeatable)"
    )
    _helm_arg(parser)


def _render_args(parser: argparse.ArgumentParser) -> None:
    _values_args(parser)
    parser.add_argument("--set", action="append", default=[], dest="set_values", help="KEY=VALUE override")
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


def _manifests(paths: list[Path]) -> list[dict]:
    """The objects of plain manifest files (what `kubectl apply -f` would read)."""
    _check_files(paths)
    try:
        return [o for path in paths for o in yaml.safe_load_all(path.read_text()) if o]
    except yaml.YAMLError as err:
        raise UserError(f"not YAML: {err}") from None


def _renders(args: argparse.Namespace) -> dict[str, list[dict]]:
    """What validate checks, by name: manifest files, every profile, or one render."""
    if args.manifest:
        return {"manifests": _manifests(args.manifest)}
    if args.every_profile:
        if args.values:
            raise UserError("--every-profile renders the ci/ and values/ files; it takes no -f")
        return {p.stem: render([p], args.set_values, args.helm, args.kube_version) for p in scenarios()}
    return {"values": _objects(args)}


def _checkov(renders: dict[str, list[dict]]) -> int:
    """checkov's failed checks not listed in checkov-skips.yaml, printed; their number."""
    try:
        listed = checkov.skips()
        failures = checkov.scan(renders)
    except checkov.CheckovError as err:
        raise UserError(str(err)) from None
    unlisted = checkov.unlisted(failures, listed)
    for failure in unlisted:
        print(failure)
    print(checkov.summary(failures, listed))
    return len(unlisted)


def cmd_validate(args: argparse.Namespace) -> int:
    renders = _renders(args)
    findings = [
        f"{name}: {f}" for name, objects in renders.items() for f in validate(objects, tuple(args.versions))
    ]
    for finding in findings:
        print(finding)
    count = sum(map(len, renders.values()))
    source = f"in {len(args.manifest)} manifest files" if args.manifest else f"rendered with helm {args.helm}"
    if len(renders) > 1:
        source += f" ({len(renders)} profiles)"
    print(f"{count} objects {source}, Kubernetes {', '.join(args.versions)}: {len(findings)} findings")
    unlisted = _checkov(renders) if args.checkov else 0
    return 1 if findings or unlisted else 0


def _interrupt(signum: int, frame: object) -> None:
    """The first Ctrl-C or SIGTERM stops the run; later ones are ignored so that the clean-up
    (every process and service stopped) is never cut short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def _stop_on_signals() -> None:
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)  # a CI runner's or a service manager's stop


def cmd_smoke(args: argparse.Namespace) -> int:
    from chart_tools.runtime.smoke import DEFAULT_PROFILE, Smoke

    _check_files(args.values)
    smoke = Smoke(args.values or [DEFAULT_PROFILE], helm_major=args.helm)
    _stop_on_signals()
    result = smoke.run()
    print(result.report())
    smoke.cleanup(args.keep)
    return 0 if result.ok else 1


def cmd_up(args: argparse.Namespace) -> int:
    from chart_tools.runtime.smoke import DEFAULT_PROFILE
    from chart_tools.runtime.up import STATE_DIR, AlreadyUp, Up, single_instance

    _check_files(args.values)
    _stop_on_signals()
    try:
        with single_instance(STATE_DIR) as details:
            up = Up(args.values or [DEFAULT_PROFILE], details, helm_major=args.helm)
            result = up.run()
            up.cleanup(args.keep)
    except AlreadyUp as err:
        raise UserError(str(err)) from None
    if result.ok:
        up.say("stopped: every process it started has ended")
    return 0 if result.ok else 1


def _counts(text: str) -> list[int]:
    """`10,100,500` -> [10, 100, 500]: positive whole numbers."""
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None
    if any(c < 1 for c in counts):
        raise argparse.ArgumentTypeError(f"every number must be at least 1, got {text!r}")
    return counts


def cmd_scale(args: argparse.Namespace) -> int:
    from chart_tools.scale.point import Size, measure
    from chart_tools.scale.report import write_all

    _check_files(args.values)
    for option, value, least in (
        ("--tasks", args.tasks, 2),
        ("--giant", args.giant, 0),
        ("--runs", args.runs, 1),
    ):
        if value < least:
            raise UserError(f"{option} must be at least {least}, got {value}")
    _stop_on_signals()
    points = []
    for n in args.dags:
        size = Size(dags=n, tasks=args.tasks, giant=args.giant, runs=args.runs)
        print(
            f"scale: point {n} DAGs x {args.tasks} tasks, giant {args.giant}, {args.runs} runs",
            file=sys.stderr,
        )
        points.append(measure(size, args.values, args.helm))
        if points[-1].failure:
            print(f"scale: point {n} FAILED at {points[-1].failure}", file=sys.stderr)
    for path in write_all(args.out, points):
        print(f"scale: wrote {path}")
    print((args.out / "scale.md").read_text())
    return 1 if any(p.failure for p in points) else 0


def _write_new(path: Path, text: str, force: bool) -> None:
    """Write a file the user asked for, never over one they have unless told to."""
    if path.exists() and not force:
        raise UserError(f"{path} exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote {path}", file=sys.stderr)


def cmd_values_init(args: argparse.Namespace) -> int:
    chosen = values.init_values(
        args.executor, args.dags, args.repo, args.database, args.db_host, args.db_password_secret,
        args.sqlproxy_instance,
    )  # fmt: skip
    text = values.init_text(chosen, "chart-tools values init " + " ".join(args.argv))
    if args.output:
        _write_new(args.output, text, args.force)
    else:
        sys.stdout.write(text)
    return 0


def cmd_values_check(args: argparse.Namespace) -> int:
    errors = values.check(args.file)
    if not errors:
        try:
            render([args.file], helm_major=args.helm)
        except RenderError as err:  # the chart's own checks (combinations of keys)
            errors = [" ".join(str(err).split())]
    for error in errors:
        print(f"{args.file}: {error}")
    if not errors:
        print(f"{args.file}: valid (schema and render)")
    return 1 if errors else 0


def cmd_values_from_operator(args: argparse.Namespace) -> int:
    conv = operator.convert_files(args.base, args.cluster)
    for warning in conv.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    header = f"# Converted by `chart-tools values from-operator {args.base} {args.cluster}`.\n"
    if not args.split:
        sys.stdout.write(header + yaml.safe_dump(operator.combined(conv), sort_keys=False))
        return 0
    base_name = operator.load_resource(args.base, "AirflowBase")["metadata"]["name"]
    base, cluster = operator.split(conv, base_name)
    _write_new(args.split / "base-values.yaml", header + yaml.safe_dump(base, sort_keys=False), args.force)
    _write_new(
        args.split / "cluster-values.yaml", header + yaml.safe_dump(cluster, sort_keys=False), args.force
    )
    print(f"install the base as release {base_name}, then the cluster on it", file=sys.stderr)
    return 0


def _values_parser(sub: argparse._SubParsersAction) -> None:
    top = sub.add_parser("values", help="write, check or convert values files")
    cmds = top.add_subparsers(dest="values_command", required=True)
    p = cmds.add_parser("init", help="write a minimal, commented override file")
    p.add_argument("--executor", choices=values.EXECUTORS, default="celery")
    p.add_argument("--dags", choices=values.DAG_MODES, default="image", help="DAG source")
    p.add_argument("--repo", default="", help="git URL (with --dags git-sync or git-init)")
    p.add_argument("--database", choices=values.DATABASES, default="postgres")
    p.add_argument("--db-host", default="", help="server host (with --database external)")
    p.add_argument("--db-password-secret", default="", help="Secret with the password (external, sqlproxy)")
    p.add_argument(
        "--sqlproxy-instance", default="", help="project:region:instance (with --database sqlproxy)"
    )
    p.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.set_defaults(func=cmd_values_init)
    p = cmds.add_parser("check", help="check a values file against the chart's schema, then render it")
    p.add_argument("file", type=Path)
    _helm_arg(p)
    p.set_defaults(func=cmd_values_check)
    p = cmds.add_parser("from-operator", help="convert the old operator's AirflowBase + AirflowCluster")
    p.add_argument("base", type=Path, help="AirflowBase resource (YAML)")
    p.add_argument("cluster", type=Path, help="AirflowCluster resource (YAML)")
    p.add_argument("--split", type=Path, metavar="DIR", help="write a base-only and a cluster-on-base file")
    p.add_argument("--force", action="store_true", help="overwrite existing files in DIR")
    p.set_defaults(func=cmd_values_from_operator)


def cmd_secrets_create(args: argparse.Namespace) -> int:
    from chart_tools.chart import secrets

    _check_files(args.values)
    made = secrets.generated(args.values, args.set_values, args.helm, args.release, args.namespace)
    if not made:
        print("no Secret to create: every one is named by an existingSecret value", file=sys.stderr)
        return 0
    if not args.apply:
        print(f"# Secrets of release {args.release} with fresh random values (chart-tools secrets create).")
        sys.stdout.write(yaml.safe_dump_all(made, sort_keys=False))
        return 0
    try:
        for line in secrets.apply(made, args.namespace, args.kubeconfig):
            print(line)
    except secrets.SecretsError as err:
        raise UserError(str(err)) from None
    return 0


def _secrets_parser(sub: argparse._SubParsersAction) -> None:
    top = sub.add_parser("secrets", help="make the Secrets of a GitOps install (generateSecrets=false)")
    cmds = top.add_subparsers(dest="secrets_command", required=True)
    what = "print a release's Secrets with fresh values, or create them (--apply)"
    p = cmds.add_parser("create", help=what)
    p.add_argument("--release", required=True, help="the release name the chart is installed as")
    p.add_argument("--namespace", help="its namespace (default: the kubeconfig context's)")
    _render_args(p)
    p.add_argument(
        "--apply", action="store_true", help="create them in the cluster; an existing one is never replaced"
    )
    p.add_argument("--kubeconfig", type=Path, help="for --apply (default: $KUBECONFIG, ~/.kube/config)")
    p.set_defaults(func=cmd_secrets_create)


def cmd_docs(args: argparse.Namespace) -> int:
    changed = docs.write()
    for path in changed:
        print(f"updated {path}")
    if not changed:
        print("values.schema.json, the chart README's values table and Chart.yaml annotations are up to date")
    return 0


DIST = Path("dist")


def cmd_package(args: argparse.Namespace) -> int:
    signing = None
    if args.sign:
        if not args.key or not args.keyring:
            raise UserError(
                "--sign needs --key NAME and --keyring FILE (a secret keyring: gpg --export-secret-keys)"
            )
        signing = release_package.Signing(args.key, args.keyring, args.passphrase_file)
    path = release_package.package(args.destination, signing, args.helm)
    print(f"wrote {path}" + (f" and {path.name}.prov (helm verify passed)" if signing else ""))
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    package = args.package or DIST / release_package.archive_name()
    if bool(args.repo_dir) == bool(args.oci):
        raise UserError("give either --repo-dir DIR --url URL (HTTP repository) or --oci oci://HOST/PATH")
    if args.repo_dir:
        if not args.url:
            raise UserError("--repo-dir needs --url, the address the folder is served at")
        index = release_publish.publish_http(package, args.repo_dir, args.url, args.helm)
        print(f"added {package.name} to {index}")
    else:
        release_publish.publish_oci(package, args.oci, args.plain_http, args.helm)
        print(f"pushed {package.name} to {args.oci}")
    return 0


def cmd_lint(args: argparse.Namespace) -> int:
    config = release_lint.load_config(args.config)
    findings = release_lint.lint(config, args.since, lambda line: print(line, file=sys.stderr))
    for finding in findings:
        print(finding)
    print(f"{len(findings)} findings", file=sys.stderr)
    return 1 if findings else 0


def _e2e(args: argparse.Namespace, cluster: str) -> Any:
    """The cluster-tier runner, after the preflight (exit 2 with one line when tools are missing)."""
    from chart_tools.cluster import e2e, tools
    from chart_tools.cluster.helm import Releases
    from chart_tools.cluster.kube import Kube
    from chart_tools.cluster.shell import Shell

    shell = Shell()
    try:
        tools.check(shell, args.kube_version)
    except tools.Unavailable as err:
        raise UserError(str(err)) from None
    options = e2e.Options(args.scenario or [], args.keep, args.kube_version, args.helm, cluster)
    return e2e.E2E(options, shell, Kube, Releases)


def cmd_e2e(args: argparse.Namespace) -> int:
    from chart_tools.cluster.e2e import CLUSTER, E2EFailure
    from chart_tools.cluster.scenarios import SCENARIOS
    from chart_tools.cluster.shell import CommandError

    args.scenario = args.scenario or list(SCENARIOS)
    runner = _e2e(args, CLUSTER)
    _stop_on_signals()
    try:
        return runner.run()
    except (E2EFailure, CommandError) as err:  # the cluster or the image could not be made
        print(f"chart-tools e2e: {err}", file=sys.stderr)
        return 1


def cmd_demo(args: argparse.Namespace) -> int:
    from chart_tools.cluster.e2e import E2EFailure
    from chart_tools.cluster.shell import CommandError

    args.scenario, args.keep = [], True
    runner = _e2e(args, "airflow-demo")
    _stop_on_signals()
    try:
        return runner.demo()
    except (E2EFailure, CommandError) as err:
        print(f"chart-tools demo: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("chart-tools demo: stopped; the cluster stays (kind delete cluster --name airflow-demo)")
        return 0


def _cluster_parsers(sub: argparse._SubParsersAction) -> None:
    from chart_tools.cluster.scenarios import SCENARIOS
    from chart_tools.cluster.versions import DEFAULT_KUBE, PINS

    for name, func, text in (
        (
            "e2e",
            cmd_e2e,
            "install the chart on a kind cluster and prove it works (needs Docker, kind, kubectl)",
        ),
        ("demo", cmd_demo, "install the default profile on a kind cluster and keep the UI open until Ctrl-C"),
    ):
        p = sub.add_parser(name, help=text)
        if name == "e2e":
            p.add_argument(
                "--scenario",
                action="append",
                choices=list(SCENARIOS),
                help="scenario to run (repeatable; default all)",
            )
            p.add_argument(
                "--keep", action="store_true", help="keep the namespaces and the cluster afterwards"
            )
        p.add_argument(
            "--kube-version", choices=list(PINS), default=DEFAULT_KUBE, help=f"default {DEFAULT_KUBE}"
        )
        _helm_arg(p)
        p.set_defaults(func=func)


def _release_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lint", help="ct lint's checks: Chart.yaml, yamllint, helm lint, validate, version")
    p.add_argument("--config", type=Path, default=Path("ct.yaml"), help="ct's config (default ct.yaml)")
    p.add_argument("--since", metavar="REF", help="version-increment base (default: merge base with target)")
    p.set_defaults(func=cmd_lint)
    p = sub.add_parser("package", help="package the chart (optionally signed) and verify the package")
    p.add_argument("-d", "--destination", type=Path, default=DIST, help="output folder (default dist)")
    p.add_argument("--sign", action="store_true", help="write a provenance file (.prov) signed with --key")
    p.add_argument("--key", help="signing key name (a user id or part of it)")
    p.add_argument("--keyring", type=Path, help="secret keyring holding the key")
    p.add_argument("--passphrase-file", type=Path, help="file holding the key's passphrase")
    _helm_arg(p)
    p.set_defaults(func=cmd_package)
    p = sub.add_parser("publish", help="add the package to an HTTP chart repository folder or push it to OCI")
    p.add_argument("--package", type=Path, help="the .tgz (default: dist/airflow-<Chart.yaml version>.tgz)")
    p.add_argument(
        "--repo-dir", type=Path, help="HTTP repository folder: package copied in, index.yaml merged"
    )
    p.add_argument("--url", help="the URL that folder is served at")
    p.add_argument("--oci", help="OCI registry path, oci://HOST[:PORT]/PATH")
    p.add_argument("--plain-http", action="store_true", help="talk to the registry over plain HTTP")
    _helm_arg(p)
    p.set_defaults(func=cmd_publish)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="chart-tools", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)
    p = sub.add_parser("render", help="render the chart and print the objects")
    _render_args(p)
    p.set_defaults(func=cmd_render)
    p = sub.add_parser("validate", help="render, then check schemas and pod policies")
    _render_args(p)
    p.add_argument("--versions", nargs="+", default=list(KUBE_VERSIONS), help="Kubernetes schema versions")
    p.add_argument(
        "--manifest",
        action="append",
        default=[],
        type=Path,
        help="check this manifest file instead of the chart",
    )
    p.add_argument(
        "--every-profile", action="store_true", help="check every ci/ and values/ profile instead of -f"
    )
    p.add_argument(
        "--checkov", action="store_true", help="also scan with checkov (skips: checkov-skips.yaml)"
    )
    p.set_defaults(func=cmd_validate)
    for name, func, what, after in (
        ("smoke", cmd_smoke, "prove the example DAG runs", "success"),
        ("up", cmd_up, "keep it running until Ctrl-C", "stopping"),
    ):
        p = sub.add_parser(name, help=f"run the rendered Airflow locally and {what}")
        _values_args(p)
        keep = f"keep the run folder (logs, pod files) after {after}"
        p.add_argument("--keep", action="store_true", help=keep)
        p.set_defaults(func=func)
    p = sub.add_parser(
        "scale", help="run generated DAGs on the local runtime and measure (CSV, PNG, Markdown)"
    )
    _values_args(p)
    p.add_argument(
        "--dags", type=_counts, default=[20], help="DAG files, or a curve: 10,100,500 (default 20)"
    )
    p.add_argument("--tasks", type=int, default=10, help="tasks per DAG (default 10)")
    p.add_argument(
        "--giant", type=int, default=200, help="tasks of the one giant DAG, 0 for none (default 200)"
    )
    p.add_argument("--runs", type=int, default=2, help="DAGs run together per point (default 2)")
    p.add_argument(
        "--out", type=Path, default=Path("scale-results"), help="output folder (default scale-results)"
    )
    p.set_defaults(func=cmd_scale)
    p = sub.add_parser("docs", help="regenerate values.schema.json and the values tables from values.yaml")
    p.set_defaults(func=cmd_docs)
    _values_parser(sub)
    _secrets_parser(sub)
    _release_parsers(sub)
    _cluster_parsers(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    args.argv = argv[2:]  # for `values init`'s header
    try:
        return args.func(args)
    except (
        UserError, RenderError, ToolchainError, ReleaseError, release_lint.LintError, docs.DocsError,
        values.ValuesError,
    ) as err:  # fmt: skip
        print(f"chart-tools {args.command}: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as err:
        print(f"chart-tools {args.command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
