"""Which GGUF of a Hugging Face repo a tag names."""

from __future__ import annotations

import pytest

from jupyter_ollama.errors import OllamaError
from jupyter_ollama.transfers.hf_files import RepoFile, cached_listing, pick_gguf, pick_projector, side_files

REPO = [
    RepoFile("README.md"),
    RepoFile("params"),
    RepoFile("system"),
    RepoFile("Model-7B-Q2_K.gguf"),
    RepoFile("Model-7B-Q4_K_M.gguf"),
    RepoFile("Model-7B-Q4_K_M-imat.gguf"),
    RepoFile("Model-7B-Q8_0.gguf"),
    RepoFile("Model-7B.IQ4_XS.gguf"),
    RepoFile("Model-7B-UD-Q4_K_XL.gguf"),
    RepoFile("mmproj-Model-7B-F16.gguf"),
    RepoFile("BF16/Model-7B-BF16-00001-of-00002.gguf"),
    RepoFile("BF16/Model-7B-BF16-00002-of-00002.gguf"),
]


def pick(tag: str, files: list[RepoFile] = REPO) -> str:
    return pick_gguf(files, tag, "user/repo").name


def test_default_is_q4_k_m_then_a_sensible_preference():
    assert pick("latest") == "Model-7B-Q4_K_M.gguf"
    assert pick("latest", [RepoFile("a-Q8_0.gguf"), RepoFile("a-Q6_K.gguf"), RepoFile("a-Q4_0.gguf")]) == "a-Q4_0.gguf"
    assert pick("latest", [RepoFile("only.gguf")]) == "only.gguf"


def test_quant_tags_are_case_insensitive():
    assert pick("q8_0") == "Model-7B-Q8_0.gguf"
    assert pick("Q4_K_M") == "Model-7B-Q4_K_M.gguf"  # the plain file before the -imat one
    assert pick("iq4_xs") == "Model-7B.IQ4_XS.gguf"
    assert pick("ud-q4_k_xl") == "Model-7B-UD-Q4_K_XL.gguf"
    assert pick("Q4_K_XL") == "Model-7B-UD-Q4_K_XL.gguf"


def test_full_file_name():
    assert pick("model-7b-q8_0.gguf") == "Model-7B-Q8_0.gguf"
    assert pick("Model-7B-Q4_K_M-imat.gguf") == "Model-7B-Q4_K_M-imat.gguf"


def test_projectors_are_never_the_model():
    with pytest.raises(OllamaError, match='no GGUF file for "F16"'):
        pick("F16")


def test_unknown_quant_lists_what_there_is():
    with pytest.raises(OllamaError) as err:
        pick("Q3_K_S")
    assert err.value.message.startswith("pull model manifest: file does not exist: ")
    assert "Q4_K_M" in err.value.message and "Q8_0" in err.value.message


def test_split_files_are_refused_clearly():
    with pytest.raises(OllamaError, match=r"split GGUF \(2 parts\).*llama-gguf-split --merge"):
        pick("BF16")


def test_repo_without_gguf():
    with pytest.raises(OllamaError, match="has no GGUF files"):
        pick("latest", [RepoFile("model.safetensors")])


def test_side_files():
    assert [f.name for f in side_files(REPO)] == ["system", "params"]


def test_cached_listing(tmp_path):
    folder = tmp_path / "models--user--repo"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text("abc123")
    snapshot = folder / "snapshots" / "abc123"
    (snapshot / "sub").mkdir(parents=True)
    (snapshot / "m-Q4_K_M.gguf").write_bytes(b"x")
    (snapshot / "sub" / "n.gguf").write_bytes(b"y")
    commit, files = cached_listing(tmp_path, "user/repo")
    assert commit == "abc123" and [f.name for f in files] == ["m-Q4_K_M.gguf", "sub/n.gguf"]
    assert cached_listing(tmp_path, "user/other") is None


def test_cached_listing_without_a_main_ref(tmp_path):
    snapshot = tmp_path / "models--user--repo" / "snapshots" / "def456"
    snapshot.mkdir(parents=True)
    (snapshot / "m.gguf").write_bytes(b"x")
    assert cached_listing(tmp_path, "user/repo") == ("def456", [RepoFile("m.gguf")])


def test_the_projector_of_a_vision_repo() -> None:
    files = [RepoFile(n) for n in ("gemma-3-4b-it-Q4_K_M.gguf", "mmproj-model-Q8_0.gguf", "mmproj-model-f16.gguf",
                                   "mmproj-model-bf16.gguf", "README.md")]
    assert pick_projector(files) == RepoFile("mmproj-model-f16.gguf")  # F16 first, as hf.co picks it
    assert pick_projector(files[:2]) == RepoFile("mmproj-model-Q8_0.gguf")
    assert pick_projector([files[0], files[4]]) is None
    assert pick_gguf(files, "latest", "r") == files[0]  # a projector is never the model
