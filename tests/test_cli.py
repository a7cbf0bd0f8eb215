from typer.testing import CliRunner

from corpusclean.cli import app, build_settings

runner = CliRunner()


def test_help_documents_every_option():
    result = runner.invoke(app, ["run", "--help"])
    assert result.exit_code == 0
    for option in ("--out", "--config", "--no-encoding", "--no-ocr", "--no-dedup", "--threshold", "--workers", "--dask-address"):
        assert option in result.output


def test_usage_errors_exit_2(tmp_path):
    assert runner.invoke(app, ["run", "--threshold", "1.5"]).exit_code == 2
    assert runner.invoke(app, ["run", str(tmp_path / "missing")]).exit_code == 2
    assert runner.invoke(app, ["run", "--config", str(tmp_path / "none.toml")]).exit_code == 2
    assert runner.invoke(app, ["run", "--workers", "many"]).exit_code == 2
    bad = tmp_path / "bad.toml"
    bad.write_text("threshold = 0.8\nno_such_option = 1\n")
    result = runner.invoke(app, ["run", "--config", str(bad)])
    assert result.exit_code == 2 and "no_such_option" in result.output
    bad.write_text('fold_ocr = "false"\n')  # a string, not a TOML boolean: must not switch folding on
    result = runner.invoke(app, ["run", "--config", str(bad)])
    assert result.exit_code == 2 and "fold_ocr must be true or false" in result.output


def test_config_file_and_cli_precedence(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[corpusclean]\npaths = ["seeds"]\nout = "elsewhere"\nthreshold = 0.7\nworkers = 2\nocr = false\n')
    paths, out, settings = build_settings(None, None, config, {"threshold": 0.9})
    assert paths == ["seeds"] and out == "elsewhere"
    assert settings["threshold"] == 0.9 and settings["workers"] == 2 and settings["ocr"] is False


def test_the_console_script_cleans_the_seeds_and_exits_0(tmp_path):
    """The installed ``corpusclean`` end to end: its own Prefect API, the whole flow, then an exit that
    skips the interpreter's teardown (cli.main) yet leaves every line printed and every file written."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import pyarrow.parquet as pq

    from conftest import SEEDS

    script = Path(sys.executable).with_name("corpusclean")
    out = tmp_path / ("out-with-a-name-longer-than-a-terminal-line-" + "x" * 40)  # must not be wrapped
    result = subprocess.run([str(script), "run", str(SEEDS), "--out", str(out), "--workers", "2"],
                            capture_output=True, text=True, env=dict(os.environ), timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert result.stdout.rstrip().endswith("┘")  # the summary table, printed in full
    assert result.stderr.rstrip().splitlines()[-1].startswith(f"wrote {out}/ in ")
    kept, removed = pq.read_table(out / "paragraphs"), pq.read_table(out / "duplicates")
    assert kept.num_rows > 0 and kept.num_rows + removed.num_rows == 62
    failed = subprocess.run([str(script), "run", str(tmp_path / "missing"), "--out", str(out)], capture_output=True, text=True)
    assert failed.returncode == 2
