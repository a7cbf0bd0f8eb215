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
