"""Image files named in a prompt, found as `ollama run` finds them (client/images.py), and `run` sending them."""

from __future__ import annotations

import base64
import subprocess
import sys

import pytest

from jupyter_ollama.client import ClientError
from jupyter_ollama.client.images import extract_images
from tests.projector import png


def test_named_images_leave_the_text_and_go_as_images(tmp_path):
    (tmp_path / "red.png").write_bytes(png(4, 4, (255, 0, 0)))
    (tmp_path / "my cat.png").write_bytes(png(4, 4, (0, 0, 255)))
    found = extract_images(f"Compare ./red.png with '{tmp_path}/my\\ cat.png', please.", tmp_path)
    assert found.prompt == "Compare  with , please."
    assert found.files == ["./red.png", f"{tmp_path}/my cat.png"]
    assert [base64.b64decode(i)[:4] for i in found.images] == [b"\x89PNG"] * 2


def test_what_is_not_an_image_file_stays_text(tmp_path):
    for prompt in ("What is in ./missing.png?", "A word like file.png needs ./ or / before it.", "No files."):
        found = extract_images(prompt, tmp_path)
        assert (found.prompt, found.images) == (prompt.strip(), [])


def test_a_named_file_that_is_not_a_picture_is_an_error(tmp_path):
    (tmp_path / "fake.jpg").write_text("not a picture")
    with pytest.raises(ClientError, match="Couldn't process file: ./fake.jpg: not a JPEG, PNG or WebP image"):
        extract_images("Look at ./fake.jpg", tmp_path)


def test_run_sends_the_images_a_prompt_names(server, client, seeing, tmp_path):
    client.create(model="seeing-short", from_=seeing, parameters={"num_predict": 8, "temperature": 0})
    (tmp_path / "red.png").write_bytes(png(24, 24, (220, 20, 20)))
    ran = subprocess.run([sys.executable, "-m", "jupyter_ollama", "run", "seeing-short", "What is in ./red.png?"], cwd=tmp_path,
                         env=server.env(), capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert "Added image './red.png'" in ran.stderr and ran.stdout.strip()
