"""A Modelfile TEMPLATE (Go syntax) that gives Gemma 3 tools, for the agent tests.

`GEMMA_TOOLS`: tests/api/templates.py's `TOOLS` (Hermes-style tool instructions: the tools listed in
`<tools>`, calls written as `<tool_call>{json}</tool_call>`, results sent back in `<tool_response>`)
in Gemma's turns instead of ChatML's: `<start_of_turn>user` ... `<end_of_turn>`, the reply in a
`model` turn; Gemma has no system role, so the system prompt and the tools open the conversation
as a user turn.
"""

from ..api.templates import TOOLS

CHATML_TO_GEMMA = (("<|im_start|>system", "<start_of_turn>user"), ("<|im_start|>assistant", "<start_of_turn>model"),
                   ("<|im_start|>user", "<start_of_turn>user"), ("<|im_end|>", "<end_of_turn>"))

GEMMA_TOOLS = TOOLS
for chatml, gemma in CHATML_TO_GEMMA:
    GEMMA_TOOLS = GEMMA_TOOLS.replace(chatml, gemma)
