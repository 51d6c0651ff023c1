"""The Swagger UI, tried as a user would: headless Chromium (Debian's chromium and
chromium-driver, driven by selenium; no browser is downloaded) opens the docs,
expands /embed, uses "Try it out" with a sample body, executes it and sees a
200 with embeddings. A screenshot is saved with the test output."""
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


def test_try_it_out_on_embed_answers_200_with_embeddings(docs, browser, tmp_path):
    wait = WebDriverWait(browser, 30)
    browser.get(docs)
    # The namespace's operations start folded under their tag.
    wait.until(ready.element_to_be_clickable((By.ID, "operations-tag-models"))).click()
    operation = wait.until(ready.presence_of_element_located(
        (By.ID, "operations-models-post_embed")))
    operation.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    wait.until(lambda _: operation.find_element(By.CSS_SELECTOR, ".try-out__btn")).click()
    name = wait.until(lambda _: operation.find_element(
        By.CSS_SELECTOR, "input[placeholder='name']"))
    name.send_keys("bow-spanish")
    body = operation.find_element(By.CSS_SELECTOR, "textarea.body-param__text")
    body.clear()
    body.send_keys(json.dumps({"texts": ["Hola mundo", "Buenos días"],
                               "encoding_format": "float"}))
    operation.find_element(By.CSS_SELECTOR, "button.execute").click()
    status = wait.until(lambda _: operation.find_element(
        By.CSS_SELECTOR, ".live-responses-table .response .response-col_status"))
    answer = operation.find_element(
        By.CSS_SELECTOR, ".live-responses-table .response-col_description pre").text
    SHOTS.mkdir(exist_ok=True)
    for target in (tmp_path / "swagger-embed.png", SHOTS / "swagger-embed.png"):
        browser.save_screenshot(str(target))
    assert status.text.strip().startswith("200"), answer[:500]
    result = json.loads(answer)
    assert result["model"] == "bow-spanish" and len(result["embeddings"]) == 2
    assert len(result["embeddings"][0]) == 300
    assert result["tokens"] == [["hola", "mundo"], ["buenos", "días"]]
