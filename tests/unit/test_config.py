import logging
from pathlib import Path

import pytest

from embedding_server import config as config_module
from embedding_server.config import (
    OPTIONS, ConfigError, DevelopmentConfig, ProductionConfig, load_config, read_environment)

ROOT = Path(__file__).resolve().parents[2]


def test_production_is_the_default_and_forces_the_debugger_off():
    config = load_config({"DEBUG": "true"})
    assert isinstance(config, ProductionConfig)
    assert config.DEBUG is False
    assert config.LOG_LEVEL == logging.WARNING
    assert config.CONSOLE_LOG is False
    assert config.LOG_FILE == "api.log"


def test_development_defaults():
    config = load_config({"FLASK_ENV": "development"})
    assert isinstance(config, DevelopmentConfig)
    assert config.DEBUG is True
    assert config.LOG_LEVEL == logging.DEBUG
    assert config.CONSOLE_LOG is True


def test_testing_defaults():
    config = load_config({"FLASK_ENV": "Testing"})
    assert isinstance(config, config_module.TestingConfig)
    assert config.TESTING is True and config.DEBUG is False
    assert config.LOG_LEVEL == logging.INFO and config.CONSOLE_LOG is True


def test_explicit_variables_override_environment_defaults():
    config = load_config({"FLASK_ENV": "production", "LOG_LEVEL": "info",
                          "CONSOLE_LOG": "yes", "MODEL_NAMES": " a, b ,,c ",
                          "MAX_BATCH_TEXTS": "8", "MAX_CONTENT_LENGTH": "1024",
                          "PORT": "8080"})
    assert config.LOG_LEVEL == logging.INFO and config.CONSOLE_LOG is True
    assert config.MODEL_NAMES == ("a", "b", "c")
    assert config.MAX_BATCH_TEXTS == 8 and config.MAX_CONTENT_LENGTH == 1024
    assert config.PORT == 8080


def test_seed_defaults():
    config = load_config({})
    assert config.MODEL_NAMES == ("bow-spanish", "lstm-multilingual")
    assert config.MODEL_FILES == ("tensorflow_model", "net_config.json",
                                  "tensorflow_model.meta", "word_mapping.json")
    assert config.OOV_TOKEN == "<OOV>"
    assert config.MAX_CONTENT_LENGTH == 2 * 1024 * 1024
    assert config.MAX_BATCH_TEXTS == 256


@pytest.mark.parametrize("name, value", [
    ("MAX_BATCH_TEXTS", "many"), ("MAX_BATCH_TEXTS", "0"), ("MAX_CONTENT_LENGTH", "-1"),
    ("CONSOLE_LOG", "maybe"), ("LOG_LEVEL", "LOUD"), ("FLASK_ENV", "staging"),
    ("PORT", "70000"), ("MODEL_FILES", "a,b"), ("DEBUG", "2"),
])
def test_malformed_values_name_the_variable(name, value):
    with pytest.raises(ConfigError, match=f"^{name}="):
        load_config({name: value})


def test_dotenv_file_is_read_and_process_variables_win(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("MODEL_NAMES=from-file\nMAX_BATCH_TEXTS=9\n")
    values = read_environment({"MAX_BATCH_TEXTS": "3"}, str(dotenv))
    assert values["MODEL_NAMES"] == "from-file" and values["MAX_BATCH_TEXTS"] == "3"
    assert read_environment({"A": "1"}, str(tmp_path / "missing"))["A"] == "1"


def test_load_config_reads_the_working_directorys_dotenv(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("FLASK_ENV=development\nMODEL_NAMES=x\n")
    monkeypatch.setenv("MODEL_NAMES", "y")
    config = load_config()
    assert isinstance(config, DevelopmentConfig) and config.MODEL_NAMES == ("y",)


def test_as_dict_holds_flask_settings():
    settings = load_config({"FLASK_ENV": "testing"}).as_dict()
    assert settings["TESTING"] is True and settings["MAX_CONTENT_LENGTH"] == 2097152
    assert "ENVIRONMENT_DEFAULTS" not in settings and "FORCED" not in settings


@pytest.mark.parametrize("document", ["env", "README.md"])
def test_every_option_is_documented(document):
    text = (ROOT / document).read_text()
    missing = [option.name for option in OPTIONS if option.name not in text]
    assert not missing


def test_an_empty_log_file_turns_the_file_log_off():
    assert load_config({"LOG_FILE": ""}).LOG_FILE == ""
    assert load_config({}).LOG_FILE == "api.log"
    # Elsewhere empty still means "the default for the environment".
    assert load_config({"LOG_LEVEL": ""}).LOG_LEVEL == logging.WARNING
