"""The Swagger UI, tried as a user would: headless Chromium (Debian's chromium and
chromium-driver, driven by selenium; no browser is downloaded) opens the docs,
finds the four groups, expands an operation of the native, OpenAI and TF
Serving groups, uses "Try it out" with a sample body, executes it and sees a
200 with embeddings. Screenshots are saved with the test output."""
from __future__ import annotations

import json
import shutil
import threading

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait
from werkzeug.serving import make_server

from tests.conftest import ROOT

CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SHOTS = ROOT / "test-output"


@pytest.fixture()
def docs(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/api/v1/"
    server.shutdown()
    thread.join(10)


@pytest.fixture()
def browser():
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1400,2200"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def try_it_out(browser, tag: str, operation_id: str, body: dict,
               name: str | None = None) -> tuple[str, str, object]:
    """Unfold `tag`, run `operation_id` with `body`: (status, answer, element)."""
    wait = WebDriverWait(browser, 30)
    # A group's operations start folded under its tag.
    wait.until(ready.element_to_be_clickable((By.ID, f"operations-tag-{tag}"))).click()
    operation = wait.until(ready.presence_of_element_located(
        (By.ID, f"operations-{tag}-{operation_id}")))
    operation.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    wait.until(lambda _: operation.find_element(By.CSS_SELECTOR, ".try-out__btn")).click()
    if name is not None:
        wait.until(lambda _: operation.find_element(
            By.CSS_SELECTOR, "input[placeholder='name']")).send_keys(name)
    text = wait.until(lambda _: operation.find_element(
        By.CSS_SELECTOR, "textarea.body-param__text"))
    text.clear()
    text.send_keys(json.dumps(body))
    operation.find_element(By.CSS_SELECTOR, "button.execute").click()
    status = wait.until(lambda _: operation.find_element(
        By.CSS_SELECTOR, ".live-responses-table .response .response-col_status"))
    answer = operation.find_element(
        By.CSS_SELECTOR, ".live-responses-table .response-col_description pre").text
    return status.text.strip(), answer, operation


def screenshot(browser, tmp_path, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    for target in (tmp_path / name, SHOTS / name):
        browser.save_screenshot(str(target))


def test_try_it_out_on_embed_answers_200_with_embeddings(docs, browser, tmp_path):
    browser.get(docs)
    status, answer, _ = try_it_out(
        browser, "native", "post_embed",
        {"texts": ["Hola mundo", "Buenos días"], "encoding_format": "float"}, "bow-spanish")
    screenshot(browser, tmp_path, "swagger-embed.png")
    assert status.startswith("200"), answer[:500]
    result = json.loads(answer)
    assert result["model"] == "bow-spanish" and len(result["embeddings"]) == 2
    assert len(result["embeddings"][0]) == 300
    assert result["tokens"] == [["hola", "mundo"], ["buenos", "días"]]


def test_every_group_is_listed_and_openai_and_tfserving_answer(docs, browser, tmp_path):
    browser.get(docs)
    wait = WebDriverWait(browser, 30)
    for tag in ("native", "openai", "tfserving", "operations"):
        wait.until(ready.presence_of_element_located((By.ID, f"operations-tag-{tag}")))
    status, answer, _ = try_it_out(browser, "openai", "openai_embeddings", {
        "model": "lstm-multilingual", "input": ["Hola mundo", "hello"],
        "encoding_format": "float"})
    assert status.startswith("200"), answer[:500]
    result = json.loads(answer)
    assert [item["index"] for item in result["data"]] == [0, 1]
    assert len(result["data"][0]["embedding"]) == 256
    status, answer, _ = try_it_out(browser, "tfserving", "tfserving_predict",
                                   {"instances": ["Hola mundo"]}, "bow-spanish")
    screenshot(browser, tmp_path, "swagger-tfserving.png")
    assert status.startswith("200"), answer[:500]
    assert len(json.loads(answer)["predictions"][0]) == 300
