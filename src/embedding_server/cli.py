"""`my-server-manage`: run the server, check models, build the demo models,
export and import models (migrate/commands.py)."""
from __future__ import annotations

import json
import sys
import sysconfig
from typing import TYPE_CHECKING, Any

import click

from .migrate.commands import export_command, import_vectors_command
from .settings import Settings, ConfigError, check_can_serve, load_settings
from .worker import gunicorn as server

if TYPE_CHECKING:  # the registry imports TensorFlow: never in the CLI's master
    from .serving.registry import ModelEntry


def _config() -> Settings:
    try:
        return load_settings()
    except ConfigError as error:
        raise click.UsageError(str(error)) from None


def _check_can_serve(config: Settings) -> None:
    """Fail before any worker starts, with the message saying what to set."""
    from .api.keys import build_keyring  # light: never TensorFlow in the master

    try:
        check_can_serve(config)
        build_keyring(config)
    except ConfigError as error:
        raise click.UsageError(str(error)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Manage the sentence-embedding server.

    Options come from environment variables, over a .env file in the working
    directory (see the `env` template).
    """


@main.command()
@click.option("--host", help="address to bind [default: HOST, 127.0.0.1]")
@click.option("--port", type=int, help="port to bind [default: PORT, 5000]")
def run(host: str | None, port: int | None) -> None:
    """Run Flask's server; debugger and auto-reload only in development."""
    from werkzeug.serving import is_running_from_reloader, run_simple

    config = _config()
    _check_can_serve(config)
    debug = bool(config.DEBUG)
    if debug and not is_running_from_reloader():
        # The reloader's parent only watches files and restarts the child;
        # importing TensorFlow and loading models there would double start-up
        # time and memory.
        app = _placeholder_app
    else:
        from .app import create_app
        from .serving.hooks import ProcessHooks
        from .worker.heap import release_memory
        from .worker.signals import on_sighup

        app = create_app(config, ProcessHooks(release_memory=release_memory))
        on_sighup(app.extensions["watcher"].trigger)
    run_simple(host or config.HOST, config.PORT if port is None else port, app,
               use_reloader=debug, use_debugger=debug, threaded=True,
               reloader_type="stat", exclude_patterns=_library_paths())


@main.command()
@click.option("--host", help="address to bind [default: HOST, 127.0.0.1]")
@click.option("--port", type=int, help="port to bind [default: PORT, 5000]")
@click.option("--workers", type=click.IntRange(min=1),
              help="worker processes [default: WORKERS, else one per CPU core]")
@click.option("--threads", type=click.IntRange(min=1),
              help="threads per worker, gthread only [default: THREADS]")
@click.option("--timeout", type=click.IntRange(min=1),
              help="worker and graceful-shutdown timeout, seconds "
                   "[default: WORKER_TIMEOUT]")
@click.option("--worker-class", type=click.Choice(server.WORKER_CLASSES),
              default=server.WORKER_CLASSES[0], show_default=True,
              help="gunicorn worker class (docs/performance.md says why the default)")
def serve(host: str | None, port: int | None, workers: int | None, threads: int | None,
          timeout: int | None, worker_class: str) -> None:
    """Run the production server (gunicorn; models loaded in each worker)."""
    config = _config()
    _check_can_serve(config)
    server.serve(config, server.ServeOptions(
        host=host or config.HOST,
        port=config.PORT if port is None else port,
        workers=workers or config.WORKERS or server.default_workers(),
        threads=threads or config.THREADS,
        timeout=timeout or config.WORKER_TIMEOUT,
        worker_class=worker_class))


def _placeholder_app(environ, start_response):  # pragma: no cover - never served
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting\n"]


def _library_paths() -> list[str]:
    """Installed libraries (TensorFlow's thousands of files) need no watching."""
    paths = {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib",
                                                    "purelib", "platlib")}
    return [path + "/*" for path in paths]


def _load_registry():
    from .app import build_registry
    return build_registry(_config())


def _problems(entry: "ModelEntry") -> list[str]:
    """Why a model fails `check`: its own problems, and any version that
    FAILED beside the one serving (it would fail the next reload)."""
    from .serving.registry import ModelState

    problems = list(entry.problems)
    if entry.version is not None:
        problems += [f"version {other.version} FAILED: {other.error}"
                     for other in entry.versions.values()
                     if other.state is ModelState.FAILED]
    return problems


def _loaded(status: dict[str, Any]) -> str:
    seconds = status["load_seconds"]
    return f", loaded in {seconds:.2f} s" if seconds is not None else ""


@main.command()
@click.option("--json", "as_json", is_flag=True,
              help="print one JSON object: each model's status and problems")
def check(as_json: bool) -> None:
    """Validate and load every configured model; exit 1 if any failed."""
    registry = _load_registry()
    report = []
    for entry in registry.entries():
        status, problems = entry.status(), _problems(entry)
        report.append({**status, "problems": problems})
        if as_json:
            continue
        version = (f" (version {entry.version}{_loaded(status)})"
                   if entry.version is not None else "")
        click.echo(f"{entry.name}: {entry.state.value}{version}")
        for problem in problems:
            click.echo(f"  - {problem}")
    registry.close()
    failed = any(model["problems"] for model in report)
    if as_json:
        click.echo(json.dumps({"ok": not failed, "models": report}, indent=2))
    sys.exit(1 if failed else 0)


@main.command()
def models() -> None:
    """List the configured models, their states and load times."""
    registry = _load_registry()
    for entry in registry.entries():
        status = entry.status()
        detail = (f"dim={status['embedding_dim']} max_length={status['max_length']} "
                  f"vocabulary={status['vocabulary_size']} version={status['version']} "
                  f"load={status['load_seconds']:.2f}s"
                  if entry.servable else entry.error)
        click.echo(f"{entry.name}\t{entry.state.value}\t{detail}")
    registry.close()


@main.command("build-demo-models")
@click.argument("directory", required=False)
def build_demo_models_command(directory: str | None) -> None:
    """Write the demo models into DIRECTORY [default: MODELS_BASE_DIR]."""
    from .demo.builders import build_demo_models

    target = directory or _config().MODELS_BASE_DIR
    for path in build_demo_models(target):
        click.echo(f"built {path}")


main.add_command(export_command)
main.add_command(import_vectors_command)
