from jupyter_ollama.runner.textstream import TextStream


def run(pieces: list[bytes], stop: list[str] | None = None) -> tuple[list[str], str, bool]:
    stream = TextStream(stop)
    shown = [stream.feed(p) for p in pieces]
    return shown, "".join(shown) + stream.flush(), stream.stopped


def test_utf8_split_across_tokens():
    snowman = "☃".encode()
    shown, text, _ = run([b"a", snowman[:1], snowman[1:], b"b"])
    assert shown == ["a", "", "☃", "b"] and text == "a☃b"


def test_stop_string_across_tokens_is_never_shown():
    shown, text, stopped = run([b"Hello", b" Us", b"er:", b" more"], stop=["User:"])
    assert stopped and text == "Hello "
    assert "Us" not in "".join(shown)


def test_held_text_released_when_it_cannot_start_a_stop():
    shown, text, stopped = run([b"a U", b"p"], stop=["User:"])
    assert shown == ["a ", "Up"] and not stopped and text == "a Up"


def test_unfinished_prefix_is_shown_at_the_end():
    _, text, stopped = run([b"end Us"], stop=["User:"])
    assert not stopped and text == "end Us"


def test_stop_at_start_and_multiple_stops():
    _, text, stopped = run([b"</s>rest"], stop=["\n\n", "</s>"])
    assert stopped and text == ""
