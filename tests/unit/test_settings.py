import logging
from pathlib import Path

import pytest

from embedding_server.settings import (
    ConfigError, Settings, load_settings, read_environment, variables)

ROOT = Path(__file__).resolve().parents[2]


def test_production_is_the_default_and_forces_the_debugger_off():
    config = load_settings({"DEBUG": "true"})
    assert config.FLASK_ENV == "production"
    assert config.DEBUG is False
    assert config.LOG_LEVEL == logging.WARNING
    assert config.CONSOLE_LOG is False
    assert config.LOG_FILE == "api.log"


def test_development_defaults():
    config = load_settings({"FLASK_ENV": "development"})
    assert config.FLASK_ENV == "development"
    assert config.DEBUG is True
    assert config.LOG_LEVEL == logging.DEBUG
    assert config.CONSOLE_LOG is True


def test_testing_defaults():
    config = load_settings({"FLASK_ENV": "Testing"})
    assert config.FLASK_ENV == "testing"
    assert config.TESTING is True and config.DEBUG is False
    assert config.LOG_LEVEL == logging.INFO and config.CONSOLE_LOG is True


def test_explicit_variables_override_environment_defaults():
    config = load_settings({"FLASK_ENV": "production", "LOG_LEVEL": "info",
                            "CONSOLE_LOG": "yes", "MODEL_NAMES": " a, b ,,c ",
                            "MAX_BATCH_TEXTS": "8", "MAX_CONTENT_LENGTH": "1024",
                            "PORT": "8080"})
    assert config.LOG_LEVEL == logging.INFO and config.CONSOLE_LOG is True
    assert config.MODEL_NAMES == ("a", "b", "c")
    assert config.MAX_BATCH_TEXTS == 8 and config.MAX_CONTENT_LENGTH == 1024
    assert config.PORT == 8080


def test_seed_defaults():
    config = load_settings({})
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
        load_settings({name: value})


def test_dotenv_file_is_read_and_process_variables_win(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("MODEL_NAMES=from-file\nMAX_BATCH_TEXTS=9\n")
    values = read_environment({"MAX_BATCH_TEXTS": "3"}, str(dotenv))
    assert values["MODEL_NAMES"] == "from-file" and values["MAX_BATCH_TEXTS"] == "3"
    assert read_environment({"A": "1"}, str(tmp_path / "missing"))["A"] == "1"


def test_load_config_reads_the_working_directorys_dotenv(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("FLASK_ENV=development\nMODEL_NAMES=x\n")
    monkeypatch.setenv("MODEL_NAMES", "y")
    config = load_settings()
    assert config.FLASK_ENV == "development" and config.MODEL_NAMES == ("y",)


def test_flask_config_holds_every_setting_and_flasks_switches():
    settings = load_settings({"FLASK_ENV": "testing"}).flask_config()
    assert settings["TESTING"] is True and settings["MAX_CONTENT_LENGTH"] == 2097152
    assert settings["PROPAGATE_EXCEPTIONS"] is False
    assert set(variables()) < set(settings)


def test_every_field_is_typed_and_its_default_is_what_production_reads():
    """The dataclass defaults (what code gets from Settings()) and the
    variables' defaults (what an empty production environment reads) agree."""
    assert Settings() == load_settings({})
    for name, variable in variables().items():
        assert Settings.__dataclass_fields__[name].type != "Any", name
        assert variable.help, name


def test_settings_are_immutable():
    settings = load_settings({})
    with pytest.raises(AttributeError):
        settings.PORT = 1  # type: ignore[misc]


@pytest.mark.parametrize("document", ["env", "README.md"])
def test_every_option_is_documented(document):
    text = (ROOT / document).read_text()
    missing = [name for name in variables() if name not in text]
    assert not missing


def test_an_empty_log_file_turns_the_file_log_off():
    assert load_settings({"LOG_FILE": ""}).LOG_FILE == ""
    assert load_settings({}).LOG_FILE == "api.log"
    # Elsewhere empty still means "the default for the environment".
    assert load_settings({"LOG_LEVEL": ""}).LOG_LEVEL == logging.WARNING
