"""The CLI's `export` and `import-vectors` commands (added to
`my-server-manage` by cli.py); TensorFlow is imported only when they run."""
from __future__ import annotations

import contextlib
import sys
from typing import Callable, Iterator

import click

from ..settings import ConfigError, Settings, load_settings

#: What a `.vec` file of public vectors holds beyond what a model needs.
DEFAULT_MAX_WORDS = 200_000


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as error:
        raise click.UsageError(str(error)) from None


@click.command("export")
@click.argument("name")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--version", type=click.IntRange(min=0),
              help="the version to export [default: the highest]")
def export_command(name: str, out_dir: str, version: int | None) -> None:
    """Write TF1 model NAME as a TF2 SavedModel, OUT_DIR/<version>/.

    The export is loaded back with plain TensorFlow and compared with the TF1
    model over a verification set before anything is written in place; a
    difference over 1e-5 refuses it.
    """
    from .export import ExportError, export_model

    try:
        report = export_model(_settings(), name, out_dir, version)
    except ExportError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"exported {report.name} version {report.version} to {report.directory}: "
               f"{report.rows_checked} rows at {report.lengths_checked} lengths checked, "
               f"largest difference {report.max_difference:.2g}")


@click.command("import-vectors")
@click.argument("vectors_file", type=click.Path(dir_okay=False))
@click.argument("name")
@click.option("--max-words", type=click.IntRange(min=1), default=DEFAULT_MAX_WORDS,
              show_default=True, help="keep the first (most frequent) words the "
                                      "tokenizer can produce, up to this many")
@click.option("--max-length", type=click.IntRange(1, 2000), default=2000, show_default=True,
              help="most words of a text averaged (the rest are truncated)")
@click.option("--oov-token", help="a token for unknown words, whose vector is the mean of "
                                  "all kept vectors [default: unknown words are dropped]")
@click.option("--normalize", is_flag=True, help="L2-normalise each embedding")
@click.option("--models-dir", type=click.Path(file_okay=False),
              help="where model NAME is written [default: MODELS_BASE_DIR]")
def import_vectors_command(vectors_file: str, name: str, max_words: int, max_length: int,
                           oov_token: str | None, normalize: bool,
                           models_dir: str | None) -> None:
    """Build bag-of-words model NAME from a word2vec/fastText text file.

    VECTORS_FILE starts with `count dimension`, then one `word v1 ... vN`
    line per word, most frequent first; gzip is accepted. The model is the
    next version of NAME under the models directory: a server that serves
    NAME picks it up on its next look (MODEL_POLL_SECONDS, SIGHUP or reload).
    """
    from ..serving.validation import ModelFiles
    from .vectors import VectorsError, import_vectors, read_header

    settings = _settings()
    try:
        count, _ = read_header(vectors_file)
        with _progress(min(count, max_words)) as advance:
            report = import_vectors(vectors_file, models_dir or settings.MODELS_BASE_DIR, name,
                                    max_words, max_length, oov_token, normalize, advance,
                                    ModelFiles.from_names(settings.MODEL_FILES))
    except VectorsError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"wrote {report.name} version {report.version} to {report.directory}: "
               f"{report.words} words x {report.dimension} dimensions from "
               f"{report.lines_read} lines")
    if report.skipped.counts:
        click.echo(f"left out {sum(report.skipped.counts.values())} words the tokenizer "
                   f"never produces as written: {report.skipped.summary()}")


@contextlib.contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on a terminal; nothing when the output is a file or pipe."""
    if not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=total, label="reading vectors", file=sys.stderr) as bar:
        yield bar.update
