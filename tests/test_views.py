"""A reply as the CLI and a terminal's magics print it (views.Transcript), as Ollama's cmd/cmd.go prints it."""

from __future__ import annotations

from jupyter_ollama.views import BOLD, DEFAULT, GREY, Transcript


def test_thinking_then_the_answer():
    shown = Transcript()
    written = shown.thinking("Two plus") + shown.thinking(" two.") + shown.content("4") + shown.content(".")
    assert written == "Thinking...\nTwo plus two.\n...done thinking.\n\n4."
    ends_a_line = Transcript()
    assert ends_a_line.thinking("Sure.\n") + ends_a_line.content("4") == "Thinking...\nSure.\n...done thinking.\n\n4"
    only = Transcript()
    assert only.thinking("Hm.") == "Thinking...\nHm." and only.content("") == ""  # still thinking: no closing line


def test_hidden_thinking_and_colours():
    hidden = Transcript(hide_thinking=True)
    assert hidden.thinking("secret") + hidden.content("4") == "4"
    grey = Transcript(color=True)
    assert grey.thinking("Hm.") == f"{GREY}{BOLD}Thinking...\n{DEFAULT}{GREY}Hm."
    assert grey.content("4") == f"\n{GREY}{BOLD}...done thinking.\n\n{DEFAULT}4"


def test_tool_calls_the_cli_did_not_offer():
    shown = Transcript()
    said = shown.thinking("Call it.") + shown.tool_calls([("get_weather", {"city": "Paris"}), ("f", {})])
    assert said == ("Thinking...\nCall it.\n...done thinking.\n\n"
                    "  Model called a non-existent function 'get_weather()' with arguments: {\"city\":\"Paris\"}\n"
                    "  Model called a non-existent function 'f()' with arguments: {}")
    assert Transcript().tool_calls([]) == ""
