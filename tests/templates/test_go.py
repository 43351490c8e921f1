"""Ollama's prompt building with Go templates: the bundled templates, both execution
modes, tools, fill-in-the-middle, truncation, and capability inference.

Ported from ollama/template/template_test.go where the cases exist there.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

from jupyter_ollama.gotemplate import TemplateError
from jupyter_ollama.templates.go import (
    DEFAULT_TEMPLATE,
    capabilities,
    collate,
    execute,
    parse_template,
    render_chat,
    render_generate,
    think_tags,
    to_message,
)

# Ollama's bundled templates (ollama/template/*.gotmpl), byte for byte.
BUNDLED = {
    'alfred': (
        '{{- range .Messages }}<start_{{ .Role }}>{{ .Content }}<end_message>\n'
        '{{- end }}<start_assistant>'
    ),
    'alpaca': (
        '{{- $system := "" }}\n'
        '{{- range .Messages }}\n'
        '{{- if eq .Role "system" }}\n'
        '{{- if not $system }}{{ $system = .Content }}\n'
        '{{- else }}{{ $system = printf "%s\\n\\n%s" $system .Content }}\n'
        '{{- end }}\n'
        '{{- else if eq .Role "user" }}\n'
        '{{- if $system }}{{ $system }}\n'
        '\n'
        '{{ $system = "" }}\n'
        '{{- end }}### Instruction:\n'
        '{{ .Content }}\n'
        '\n'
        '{{ else if eq .Role "assistant" }}### Response:\n'
        '{{ .Content }}\n'
        '\n'
        '{{ end }}\n'
        '{{- end }}### Response:\n'
    ),
    'chatml': (
        '{{- range .Messages }}<|im_start|>{{ .Role }}\n'
        '{{ .Content }}<|im_end|>\n'
        '{{ end }}<|im_start|>assistant\n'
    ),
    'chatqa': (
        '{{- range .Messages }}\n'
        '{{- if eq .Role "system" }}System:\n'
        '{{- else if eq .Role "user" }}User:\n'
        '{{- else if eq .Role "assistant" }}Assistant:\n'
        '{{- end }} {{ .Content }}\n'
        '\n'
        '{{ end }}Assistant:'
    ),
    'codellama-70b-instruct': (
        '{{- range .Messages }}Source:\n'
        '{{- if eq .Role "system" }} system\n'
        '{{- else if eq .Role "user" }} user\n'
        '{{- else if eq .Role "assistant" }} assistant\n'
        '{{- end }}\n'
        '\n'
        ' {{ .Content }} <step> {{ end }}Source: assistant\n'
        'Destination: user\n'
        '\n'
        ' '
    ),
    'command-r': (
        '{{- if or .Tools .System }}<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>\n'
        '{{- if .Tools }}# Safety Preamble\n'
        "The instructions in this section override those in the task description and style guide sections. Don't answer questions that are harmful or immoral.\n"
        '\n'
        '# System Preamble\n'
        '## Basic Rules\n'
        "You are a powerful conversational AI trained by Cohere to help people. You are augmented by a number of tools, and your job is to use and consume the output of these tools to best help the user. You will see a conversation history between yourself and a user, ending with an utterance from the user. You will then see a specific instruction instructing you what kind of response to generate. When you answer the user's requests, you cite your sources in your answers, according to those instructions.\n"
        '\n'
        '{{ if .System }}# User Preamble\n'
        '{{ .System }}\n'
        '{{- end }}\n'
        '\n'
        '## Available Tools\n'
        'Here is a list of tools that you have available to you:\n'
        '{{- range .Tools }}\n'
        '\n'
        '```python\n'
        'def {{ .Function.Name }}(\n'
        '{{- range $name, $property := .Function.Parameters.Properties }}{{ $name }}: {{ $property.Type }}, {{ end }}) -> List[Dict]:\n'
        "    '''{{ .Function.Description }}\n"
        '\n'
        '{{- if .Function.Parameters.Properties }}\n'
        '\n'
        '    Args:\n'
        '{{- range $name, $property := .Function.Parameters.Properties }}\n'
        '        {{ $name }} ({{ $property.Type }}): {{ $property.Description }}\n'
        '{{- end }}\n'
        '{{- end }}\n'
        "    '''\n"
        '    pass\n'
        '```\n'
        '{{- end }}\n'
        '{{- else if .System }}{{ .System }}\n'
        '{{- end }}<|END_OF_TURN_TOKEN|>\n'
        '{{- end }}\n'
        '{{- range .Messages }}\n'
        '{{- if eq .Role "system" }}\n'
        '{{- continue }}\n'
        '{{- end }}<|START_OF_TURN_TOKEN|>\n'
        '{{- if eq .Role "user" }}<|USER_TOKEN|>{{ .Content }}\n'
        "{{- if $.Tools }}<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>Write 'Action:' followed by a json-formatted list of actions that you want to perform in order to produce a good response to the user's last input. You can use any of the supplied tools any number of times, but you should aim to execute the minimum number of necessary actions for the input. You should use the `directly-answer` tool if calling the other tools is unnecessary. The list of actions you want to call should be formatted as a list of json objects, for example:\n"
        '```json\n'
        '[\n'
        '    {\n'
        '        "tool_name": title of the tool in the specification,\n'
        '        "parameters": a dict of parameters to input into the tool as they are defined in the specs, or {} if it takes no parameters\n'
        '    }\n'
        ']```\n'
        '{{- end }}\n'
        '{{- else if eq .Role "assistant" }}<|CHATBOT_TOKEN|>\n'
        '{{- if .Content }}{{ .Content }}\n'
        '{{- else if .ToolCalls }}\n'
        'Action: ```json\n'
        '[\n'
        '{{- range .ToolCalls }}\n'
        '    {\n'
        '        "tool_name": "{{ .Function.Name }}",\n'
        '        "parameters": {{ .Function.Arguments }}\n'
        '    }\n'
        '{{- end }}\n'
        ']```\n'
        '{{- end }}\n'
        '{{- else if eq .Role "tool" }}<|SYSTEM_TOKEN|><results>\n'
        'console_output: {{ .Content }}\n'
        '</results>\n'
        '{{- end }}<|END_OF_TURN_TOKEN|>\n'
        '{{- end }}<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>\n'
    ),
    'falcon-instruct': (
        '{{- range .Messages }}\n'
        '{{- if eq .Role "system" }}System: {{ .Content }}\n'
        '{{ continue }}\n'
        '{{- else if eq .Role "user" }}User:\n'
        '{{- else if eq .Role "assistant" }}Falcon:\n'
        '{{- end }}\n'
        '{{ .Content }}\n'
        '{{ end }}Falcon:\n'
    ),
    'gemma-instruct': (
        '{{- $system := "" }}\n'
        '{{- range .Messages }}\n'
        '{{- if eq .Role "system" }}\n'
        '{{- if not $system }}{{ $system = .Content }}\n'
        '{{- else }}{{ $system = printf "%s\\n\\n%s" $system .Content }}\n'
        '{{- end }}\n'
        '{{- continue }}\n'
        '{{- else if eq .Role "user" }}<start_of_turn>user\n'
        '{{- if $system }}\n'
        '{{ $system }}\n'
        '{{- $system = "" }}\n'
        '{{- end }}\n'
        '{{- else if eq .Role "assistant" }}<start_of_turn>model\n'
        '{{- end }}\n'
        '{{ .Content }}<end_of_turn>\n'
        '{{ end }}<start_of_turn>model\n'
    ),
    'gemma3-instruct': (
        '{{- range $i, $_ := .Messages }}\n'
        '{{- $last := eq (len (slice $.Messages $i)) 1 }}\n'
        '{{- if eq .Role "user" }}<start_of_turn>user\n'
        '{{- if and (eq $i 1) $.System }}\n'
        '{{ $.System }}\n'
        '{{ end }}\n'
        '{{ .Content }}<end_of_turn>\n'
        '{{ else if eq .Role "assistant" }}<start_of_turn>model\n'
        '{{ .Content }}<end_of_turn>\n'
        '{{ end }}\n'
        '{{- if $last }}<start_of_turn>model\n'
        '{{ end }}\n'
        '{{- end }}\n'
    ),
    'granite-instruct': (
        '{{- range .Messages }}\n'
        '{{- if eq .Role "system" }}System:\n'
        '{{- else if eq .Role "user" }}Question:\n'
        '{{- else if eq .Role "assistant" }}Answer:\n'
        '{{- end }}\n'
        '{{ .Content }}\n'
        '\n'
        '{{ end }}Answer:\n'
    ),
    'llama2-chat': (
        '{{- $system := "" }}[INST] {{ range .Messages }}\n'
        '{{- if eq .Role "system" }}\n'
        '{{- if not $system }}{{ $system = .Content }}\n'
        '{{- else }}{{ $system = printf "%s\\n\\n%s" $system .Content }}\n'
        '{{- end }}\n'
        '{{- else if eq .Role "user" }}<<SYS>>\n'
        '{{- if $system }}\n'
        '{{ $system }}\n'
        '{{ $system = "" }}\n'
        '{{- end }}<</SYS>>\n'
        '\n'
        '{{ .Content }} [/INST]\n'
        '{{- else if eq .Role "assistant" }} {{ .Content }}</s><s>[INST] {{ end }}\n'
        '{{- end }}'
    ),
    'llama3-instruct': (
        '{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n'
        '\n'
        '{{ .Content }}<|eot_id|>\n'
        '{{- end }}<|start_header_id|>assistant<|end_header_id|>\n'
        '\n'
    ),
    'magicoder': (
        '{{- $system := "" }}\n'
        '{{- range .Messages }}\n'
        '{{- if eq .Role "system" }}\n'
        '{{- if not $system }}{{ $system = .Content }}\n'
        '{{- else }}{{ $system = printf "%s\\n\\n%s" $system .Content }}\n'
        '{{- end }}\n'
        '{{- continue }}\n'
        '{{- else if eq .Role "user" }}\n'
        '{{- if $system }}{{ $system }}\n'
        '\n'
        '{{ $system = "" }}\n'
        '{{- end }}@@ Instruction\n'
        '{{- else if eq .Role "assistant" }}@@ Response\n'
        '{{- end }}\n'
        '{{ .Content }}\n'
        '\n'
        '{{ end }}@@ Response\n'
    ),
    'mistral-instruct': (
        '[INST] {{ range $index, $_ := .Messages }}\n'
        '{{- if eq .Role "system" }}{{ .Content }}\n'
        '\n'
        '{{ else if eq .Role "user" }}{{ .Content }}[/INST]\n'
        '{{- else if eq .Role "assistant" }} {{ .Content }}</s>[INST] {{ end }}\n'
        '{{- end }}'
    ),
    'openchat': (
        '{{- range .Messages }}GPT4 Correct\n'
        '{{- if eq .Role "system" }} System:\n'
        '{{- else if eq .Role "user" }} User:\n'
        '{{- else if eq .Role "assistant" }} Assistant:\n'
        '{{- end }} {{ .Content }}<|end_of_turn|>\n'
        '{{- end }}GPT4 Correct Assistant:'
    ),
    'phi-3': (
        '{{- range .Messages }}<|{{ .Role }}|>\n'
        '{{ .Content }}<|end|>\n'
        '{{ end }}<|assistant|>\n'
    ),
    'solar-instruct': (
        '{{- range .Messages }}\n'
        '{{- if eq .Role "system" }}### System:\n'
        '{{- else if eq .Role "user" }}### User:\n'
        '{{- else if eq .Role "assistant" }}### Assistant:\n'
        '{{ .Content }}</s>\n'
        '\n'
        '{{ continue }}\n'
        '{{- end }}\n'
        '{{ .Content }}\n'
        '\n'
        '{{ end }}### Assistant:\n'
    ),
    'starcoder2-instruct': (
        '{{- $system := "" }}\n'
        '{{- range .Messages }}\n'
        '{{- if eq .Role "system" }}\n'
        '{{- if not $system }}{{ $system = .Content }}\n'
        '{{- else }}{{ $system = printf "%s\\n\\n%s" $system .Content }}\n'
        '{{- end }}\n'
        '{{- else if eq .Role "user" }}\n'
        '{{- if $system }}{{ $system }}\n'
        '\n'
        '{{ $system = "" }}\n'
        '{{- end }}### Instruction\n'
        '{{ .Content }}\n'
        '\n'
        '{{ else if eq .Role "assistant" }}### Response\n'
        '{{ .Content }}<|endoftext|>\n'
        '\n'
        '{{ end }}\n'
        '{{- end }}### Response\n'
    ),
    'vicuna': (
        '{{- $system := "" }}\n'
        '{{- range .Messages }}\n'
        '{{- if eq .Role "system" }}\n'
        '{{- if not $system }}{{ $system = .Content }}\n'
        '{{- else }}{{ $system = printf "%s\\n\\n%s" $system .Content }}\n'
        '{{- end }}\n'
        '{{- else if eq .Role "user" }}\n'
        '{{- if $system }}{{ $system }}\n'
        '\n'
        '{{ $system = "" }}\n'
        '{{- end }}USER: {{ .Content }}\n'
        '{{ else if eq .Role "assistant" }}ASSISTANT: {{ .Content }}</s>\n'
        '{{ end }}\n'
        '{{- end }}ASSISTANT:'
    ),
    'zephyr': (
        '{{- range .Messages }}<|{{ .Role }}|>\n'
        '{{ .Content }}</s>\n'
        '{{ end }}<|assistant|>\n'
    ),
}

# Ollama's expected renderings (template/testdata/<name>.gotmpl/system-user-assistant-user).
OLLAMA_EXPECTED = {
    'alfred': (
        "<start_system>You are a helpful assistant.<end_message><start_user>Hello, how are you?<end_message><start_assistant>I'm doing great. How can I help you today?<end_message><start_user>I'd like to show off how chat templating works!<end_message><start_assistant>"
    ),
    'alpaca': (
        'You are a helpful assistant.\n'
        '\n'
        '### Instruction:\n'
        'Hello, how are you?\n'
        '\n'
        '### Response:\n'
        "I'm doing great. How can I help you today?\n"
        '\n'
        '### Instruction:\n'
        "I'd like to show off how chat templating works!\n"
        '\n'
        '### Response:\n'
    ),
    'chatml': (
        '<|im_start|>system\n'
        'You are a helpful assistant.<|im_end|>\n'
        '<|im_start|>user\n'
        'Hello, how are you?<|im_end|>\n'
        '<|im_start|>assistant\n'
        "I'm doing great. How can I help you today?<|im_end|>\n"
        '<|im_start|>user\n'
        "I'd like to show off how chat templating works!<|im_end|>\n"
        '<|im_start|>assistant\n'
    ),
    'chatqa': (
        'System: You are a helpful assistant.\n'
        '\n'
        'User: Hello, how are you?\n'
        '\n'
        "Assistant: I'm doing great. How can I help you today?\n"
        '\n'
        "User: I'd like to show off how chat templating works!\n"
        '\n'
        'Assistant:'
    ),
    'codellama-70b-instruct': (
        'Source: system\n'
        '\n'
        ' You are a helpful assistant. <step> Source: user\n'
        '\n'
        ' Hello, how are you? <step> Source: assistant\n'
        '\n'
        " I'm doing great. How can I help you today? <step> Source: user\n"
        '\n'
        " I'd like to show off how chat templating works! <step> Source: assistant\n"
        'Destination: user\n'
        '\n'
        ' '
    ),
    'command-r': (
        "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>You are a helpful assistant.<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Hello, how are you?<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>I'm doing great. How can I help you today?<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>I'd like to show off how chat templating works!<|END_OF_TURN_TOKEN|><|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>\n"
    ),
    'falcon-instruct': (
        'System: You are a helpful assistant.\n'
        'User:\n'
        'Hello, how are you?\n'
        'Falcon:\n'
        "I'm doing great. How can I help you today?\n"
        'User:\n'
        "I'd like to show off how chat templating works!\n"
        'Falcon:\n'
    ),
    'gemma-instruct': (
        '<start_of_turn>user\n'
        'You are a helpful assistant.\n'
        'Hello, how are you?<end_of_turn>\n'
        '<start_of_turn>model\n'
        "I'm doing great. How can I help you today?<end_of_turn>\n"
        '<start_of_turn>user\n'
        "I'd like to show off how chat templating works!<end_of_turn>\n"
        '<start_of_turn>model\n'
    ),
    'gemma3-instruct': (
        '<start_of_turn>user\n'
        'You are a helpful assistant.\n'
        '\n'
        'Hello, how are you?<end_of_turn>\n'
        '<start_of_turn>model\n'
        "I'm doing great. How can I help you today?<end_of_turn>\n"
        '<start_of_turn>user\n'
        "I'd like to show off how chat templating works!<end_of_turn>\n"
        '<start_of_turn>model\n'
        '\n'
    ),
    'granite-instruct': (
        'System:\n'
        'You are a helpful assistant.\n'
        '\n'
        'Question:\n'
        'Hello, how are you?\n'
        '\n'
        'Answer:\n'
        "I'm doing great. How can I help you today?\n"
        '\n'
        'Question:\n'
        "I'd like to show off how chat templating works!\n"
        '\n'
        'Answer:\n'
    ),
    'llama2-chat': (
        '[INST] <<SYS>>\n'
        'You are a helpful assistant.\n'
        '<</SYS>>\n'
        '\n'
        "Hello, how are you? [/INST] I'm doing great. How can I help you today?</s><s>[INST] <<SYS>><</SYS>>\n"
        '\n'
        "I'd like to show off how chat templating works! [/INST]"
    ),
    'llama3-instruct': (
        '<|start_header_id|>system<|end_header_id|>\n'
        '\n'
        'You are a helpful assistant.<|eot_id|><|start_header_id|>user<|end_header_id|>\n'
        '\n'
        'Hello, how are you?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n'
        '\n'
        "I'm doing great. How can I help you today?<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
        '\n'
        "I'd like to show off how chat templating works!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
        '\n'
    ),
    'magicoder': (
        'You are a helpful assistant.\n'
        '\n'
        '@@ Instruction\n'
        'Hello, how are you?\n'
        '\n'
        '@@ Response\n'
        "I'm doing great. How can I help you today?\n"
        '\n'
        '@@ Instruction\n'
        "I'd like to show off how chat templating works!\n"
        '\n'
        '@@ Response\n'
    ),
    'mistral-instruct': (
        '[INST] You are a helpful assistant.\n'
        '\n'
        "Hello, how are you?[/INST] I'm doing great. How can I help you today?</s>[INST] I'd like to show off how chat templating works![/INST]"
    ),
    'openchat': (
        "GPT4 Correct System: You are a helpful assistant.<|end_of_turn|>GPT4 Correct User: Hello, how are you?<|end_of_turn|>GPT4 Correct Assistant: I'm doing great. How can I help you today?<|end_of_turn|>GPT4 Correct User: I'd like to show off how chat templating works!<|end_of_turn|>GPT4 Correct Assistant:"
    ),
    'phi-3': (
        '<|system|>\n'
        'You are a helpful assistant.<|end|>\n'
        '<|user|>\n'
        'Hello, how are you?<|end|>\n'
        '<|assistant|>\n'
        "I'm doing great. How can I help you today?<|end|>\n"
        '<|user|>\n'
        "I'd like to show off how chat templating works!<|end|>\n"
        '<|assistant|>\n'
    ),
    'solar-instruct': (
        '### System:\n'
        'You are a helpful assistant.\n'
        '\n'
        '### User:\n'
        'Hello, how are you?\n'
        '\n'
        '### Assistant:\n'
        "I'm doing great. How can I help you today?</s>\n"
        '\n'
        '### User:\n'
        "I'd like to show off how chat templating works!\n"
        '\n'
        '### Assistant:\n'
    ),
    'starcoder2-instruct': (
        'You are a helpful assistant.\n'
        '\n'
        '### Instruction\n'
        'Hello, how are you?\n'
        '\n'
        '### Response\n'
        "I'm doing great. How can I help you today?<|endoftext|>\n"
        '\n'
        '### Instruction\n'
        "I'd like to show off how chat templating works!\n"
        '\n'
        '### Response\n'
    ),
    'vicuna': (
        'You are a helpful assistant.\n'
        '\n'
        'USER: Hello, how are you?\n'
        "ASSISTANT: I'm doing great. How can I help you today?</s>\n"
        "USER: I'd like to show off how chat templating works!\n"
        'ASSISTANT:'
    ),
    'zephyr': (
        '<|system|>\n'
        'You are a helpful assistant.</s>\n'
        '<|user|>\n'
        'Hello, how are you?</s>\n'
        '<|assistant|>\n'
        "I'm doing great. How can I help you today?</s>\n"
        '<|user|>\n'
        "I'd like to show off how chat templating works!</s>\n"
        '<|assistant|>\n'
    ),
}

SYSTEM = {"role": "system", "content": "You are a concise assistant."}
Q1 = {"role": "user", "content": "What is the capital of France?"}
A1 = {"role": "assistant", "content": "Paris."}
Q2 = {"role": "user", "content": "And of Italy?"}
CONVERSATION = [SYSTEM, Q1, A1, Q2]

# Worked out by hand from each template's text.
EXPECTED = {
    "chatml": (
        "<|im_start|>system\nYou are a concise assistant.<|im_end|>\n"
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
        "<|im_start|>assistant\nParis.<|im_end|>\n"
        "<|im_start|>user\nAnd of Italy?<|im_end|>\n"
        "<|im_start|>assistant\n"
    ),
    "llama3-instruct": (
        "<|start_header_id|>system<|end_header_id|>\n\nYou are a concise assistant.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nWhat is the capital of France?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nParis.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nAnd of Italy?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    ),
    "mistral-instruct": (
        "[INST] You are a concise assistant.\n\n"
        "What is the capital of France?[/INST] Paris.</s>[INST] And of Italy?[/INST]"
    ),
    "gemma-instruct": (
        "<start_of_turn>user\nYou are a concise assistant.\nWhat is the capital of France?<end_of_turn>\n"
        "<start_of_turn>model\nParis.<end_of_turn>\n"
        "<start_of_turn>user\nAnd of Italy?<end_of_turn>\n"
        "<start_of_turn>model\n"
    ),
    "gemma3-instruct": (
        "<start_of_turn>user\nYou are a concise assistant.\n\nWhat is the capital of France?<end_of_turn>\n"
        "<start_of_turn>model\nParis.<end_of_turn>\n"
        "<start_of_turn>user\nAnd of Italy?<end_of_turn>\n"
        "<start_of_turn>model\n\n"
    ),
    "phi-3": (
        "<|system|>\nYou are a concise assistant.<|end|>\n<|user|>\nWhat is the capital of France?<|end|>\n"
        "<|assistant|>\nParis.<|end|>\n<|user|>\nAnd of Italy?<|end|>\n<|assistant|>\n"
    ),
    "zephyr": (
        "<|system|>\nYou are a concise assistant.</s>\n<|user|>\nWhat is the capital of France?</s>\n"
        "<|assistant|>\nParis.</s>\n<|user|>\nAnd of Italy?</s>\n<|assistant|>\n"
    ),
    "alpaca": (
        "You are a concise assistant.\n\n### Instruction:\nWhat is the capital of France?\n\n"
        "### Response:\nParis.\n\n### Instruction:\nAnd of Italy?\n\n### Response:\n"
    ),
    "vicuna": (
        "You are a concise assistant.\n\nUSER: What is the capital of France?\n"
        "ASSISTANT: Paris.</s>\nUSER: And of Italy?\nASSISTANT:"
    ),
    "command-r": (
        "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>You are a concise assistant.<|END_OF_TURN_TOKEN|>"
        "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>What is the capital of France?<|END_OF_TURN_TOKEN|>"
        "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>Paris.<|END_OF_TURN_TOKEN|>"
        "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>And of Italy?<|END_OF_TURN_TOKEN|>"
        "<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>\n"
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bundled_templates_by_hand(name: str) -> None:
    assert render_chat(BUNDLED[name], CONVERSATION) == EXPECTED[name]


# Ollama's own test conversation, and its test's allowance for a trailing space.
OLLAMA_CONVERSATIONS = {
    "user": [{"role": "user", "content": "Hello, how are you?"}],
    "user-assistant-user": [
        {"role": "user", "content": "Hello, how are you?"},
        {"role": "assistant", "content": "I'm doing great. How can I help you today?"},
        {"role": "user", "content": "I'd like to show off how chat templating works!"},
    ],
}
OLLAMA_CONVERSATIONS["system-user-assistant-user"] = [
    {"role": "system", "content": "You are a helpful assistant."},
    *OLLAMA_CONVERSATIONS["user-assistant-user"],
]
TRAILING_SPACE_OK = {"chatqa", "llama2-chat", "mistral-instruct", "openchat", "vicuna"}


def _ollama_render(name: str, conversation: str) -> str:
    out = execute(BUNDLED[name], OLLAMA_CONVERSATIONS[conversation])
    return out[:-1] if name in TRAILING_SPACE_OK and out.endswith(" ") else out


@pytest.mark.parametrize("name", sorted(OLLAMA_EXPECTED))
def test_every_bundled_template_matches_ollama(name: str) -> None:
    assert _ollama_render(name, "system-user-assistant-user") == OLLAMA_EXPECTED[name]
    for conversation in OLLAMA_CONVERSATIONS:  # every template renders every conversation
        assert _ollama_render(name, conversation).strip()


# ---------------------------------------------------------------- template.Parse


@pytest.mark.parametrize(
    ("template", "variables"),
    [
        ("{{ .Prompt }}", ["prompt", "response"]),
        ("{{ .System }} {{ .Prompt }}", ["prompt", "response", "system"]),
        ("{{ .System }} {{ .Prompt }} {{ .Response }}", ["prompt", "response", "system"]),
        ("{{ with .Tools }}{{ . }}{{ end }} {{ .System }} {{ .Prompt }}", ["prompt", "response", "system", "tools"]),
        ("{{ range .Messages }}{{ .Role }} {{ .Content }}{{ end }}", ["content", "messages", "role"]),
        (
            '{{ range .Messages }}{{ if eq .Role "tool" }}Tool Result: {{ .ToolName }} {{ .Content }}{{ end }}{{ end }}',
            ["content", "messages", "role", "toolname"],
        ),
        (
            "{{- range .Messages }}\n{{- if eq .Role \"system\" }}SYSTEM:\n{{- else if eq .Role \"user\" }}USER:\n"
            "{{- else if eq .Role \"assistant\" }}ASSISTANT:\n{{- else if eq .Role \"tool\" }}TOOL:\n{{- end }} {{ .Content }}\n{{- end }}",
            ["content", "messages", "role"],
        ),
        (
            "{{- if .Messages }}\n{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}"
            "<|im_start|>assistant\n{{ else -}}\n{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
            "{{ if .Prompt }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"
            "{{ .Response }}<|im_end|>\n{{- end -}}",
            ["content", "messages", "prompt", "response", "role", "system"],
        ),
    ],
)
def test_parse_vars(template: str, variables: list[str]) -> None:
    assert parse_template(template).vars() == variables


@pytest.mark.parametrize(
    ("template", "error"),
    [
        ("{{ .Prompt ", "unclosed action"),
        ('{{define "x"}}{{template "x"}}{{end}}{{template "x"}}', "undefined template specified"),
        ("{{ if .System }}", "unexpected EOF"),
        ("{{ .Prompt | upper }}", 'function "upper" not defined'),
    ],
)
def test_parse_errors(template: str, error: str) -> None:
    # Go's parser errors start with "template: "; Ollama's own check for {{template}} does not.
    with pytest.raises(TemplateError, match="^(template: .*)?" + error):
        parse_template(template)


def test_response_is_appended_when_missing() -> None:
    assert render_generate(DEFAULT_TEMPLATE, "Why is the sky blue?") == "Why is the sky blue?"
    assert execute("{{ .Prompt }}", [Q1, A1]) == "What is the capital of France?Paris."


# ---------------------------------------------------------------- template.Execute (TestExecuteWithMessages)

MISTRAL_LEGACY = "[INST] {{ if .System }}{{ .System }}\n\n{{ end }}{{ .Prompt }}[/INST] "
MISTRAL_RESPONSE = "[INST] {{ if .System }}{{ .System }}\n\n{{ end }}{{ .Prompt }}[/INST] {{ .Response }}"
MISTRAL_MESSAGES = (
    '[INST] {{ if .System }}{{ .System }}\n\n{{ end }}\n{{- range .Messages }}\n{{- if eq .Role "user" }}'
    '{{ .Content }}[/INST] {{ else if eq .Role "assistant" }}{{ .Content }}[INST] {{ end }}\n{{- end }}'
)
FRIEND = [
    {"role": "user", "content": "Hello friend!"},
    {"role": "assistant", "content": "Hello human!"},
    {"role": "user", "content": "What is your name?"},
]


@pytest.mark.parametrize("template", [MISTRAL_LEGACY, MISTRAL_RESPONSE, MISTRAL_MESSAGES])
def test_execute_mistral(template: str) -> None:
    expected = "[INST] Hello friend![/INST] Hello human![INST] What is your name?[/INST] "
    assert execute(template, FRIEND) == expected
    system = {"role": "system", "content": "You are a helpful assistant!"}
    expected = "[INST] You are a helpful assistant!\n\nHello friend![/INST] Hello human![INST] What is your name?[/INST] "
    assert execute(template, [system, *FRIEND]) == expected


@pytest.mark.parametrize(
    "template",
    [
        "[INST] {{ .Prompt }}[/INST] ",
        "[INST] {{ .Prompt }}[/INST] {{ .Response }}",
        '\n{{- range $i, $m := .Messages }}\n{{- if eq .Role "user" }}[INST] {{ .Content }}[/INST] '
        '{{ else if eq .Role "assistant" }}{{ .Content }}{{ end }}\n{{- end }}',
    ],
)
def test_execute_continues_a_partial_assistant_message(template: str) -> None:
    messages = [*FRIEND, {"role": "assistant", "content": "My name is Ollama and I"}]
    expected = "[INST] Hello friend![/INST] Hello human![INST] What is your name?[/INST] My name is Ollama and I"
    assert execute(template, messages) == expected


@pytest.mark.parametrize(
    "template",
    [
        "{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}{{ if .Prompt }}<|im_start|>user\n"
        "{{ .Prompt }}<|im_end|>\n{{ end }}<|im_start|>assistant\n{{ .Response }}<|im_end|>\n",
        "\n{{- range $index, $_ := .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n",
    ],
)
def test_execute_chatml_legacy_and_messages_agree(template: str) -> None:
    messages = [{"role": "system", "content": "You are a helpful assistant!"}, *FRIEND]
    assert execute(template, messages) == (
        "<|im_start|>system\nYou are a helpful assistant!<|im_end|>\n<|im_start|>user\nHello friend!<|im_end|>\n"
        "<|im_start|>assistant\nHello human!<|im_end|>\n<|im_start|>user\nWhat is your name?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_legacy_cut_keeps_text_before_response_only() -> None:
    template = "{{ if .System }}S:{{ .System }} {{ end }}U:{{ .Prompt }} A:{{ .Response }}</s>{{ if .Prompt }}never{{ end }}"
    assert execute(template, [SYSTEM, Q1, A1, Q2]) == (
        "S:You are a concise assistant. U:What is the capital of France? A:Paris.</s>never"
        "U:And of Italy? A:"
    )


# ---------------------------------------------------------------- fill-in-the-middle (TestExecuteWithSuffix)

FIM = "{{- if .Suffix }}<PRE> {{ .Prompt }} <SUF>{{ .Suffix }} <MID>\n{{- else }}{{ .Prompt }}\n{{- end }}"


def test_suffix() -> None:
    assert execute(FIM, [{"role": "user", "content": "hello"}]) == "hello"
    assert execute(FIM, prompt="def add(", suffix="return x") == "<PRE> def add( <SUF>return x <MID>"
    assert render_generate(FIM, "def add(", suffix="return x") == "<PRE> def add( <SUF>return x <MID>"
    assert render_chat(FIM, [{"role": "user", "content": "def add("}], suffix="return x") == "<PRE> def add( <SUF>return x <MID>"


# ---------------------------------------------------------------- Ollama's template functions (TestDateFunctions)


def test_date_functions() -> None:
    today = datetime.date.today()
    hello = [{"role": "user", "content": "Hello"}]
    template = "{{- range .Messages }}{{ .Content }}{{ end }} Today is {{ currentDate }}"
    assert execute(template, hello) == f"Hello Today is {today.isoformat()}"
    template = "{{- range .Messages }}{{ .Content }}{{ end }} Yesterday was {{ yesterdayDate }}"
    assert execute(template, hello) == f"Hello Yesterday was {(today - datetime.timedelta(days=1)).isoformat()}"


# ---------------------------------------------------------------- collate (TestCollate)


def test_collate() -> None:
    system, merged = collate([to_message(m) for m in [{"role": "user", "content": "Hello"}, {"role": "user", "content": "How are you?"}]])
    assert system == "" and [(m.Role, m.Content) for m in merged] == [("user", "Hello\n\nHow are you?")]

    tools = [
        {"role": "user", "content": "What's the weather?"},
        {"role": "tool", "content": "sunny", "tool_name": "get_conditions"},
        {"role": "tool", "content": "72F", "tool_name": "get_temperature"},
    ]
    _, merged = collate([to_message(m) for m in tools])
    assert [(m.Role, m.Content, m.ToolName) for m in merged] == [
        ("user", "What's the weather?", ""), ("tool", "sunny", "get_conditions"), ("tool", "72F", "get_temperature"),
    ]

    mixed = [{"role": "system", "content": "You are helpful"}, {"role": "system", "content": "Be brief"}, Q1]
    system, merged = collate([to_message(m) for m in mixed])
    assert system == "You are helpful\n\nBe brief"
    assert [m.Content for m in merged] == ["You are helpful\n\nBe brief", Q1["content"]]


def test_messages_mode_joins_all_system_messages() -> None:
    template = "{{ .System }}|{{ range .Messages }}{{ .Role }};{{ end }}"
    messages = [SYSTEM, Q1, {"role": "system", "content": "Be brief."}, Q2]
    assert execute(template, messages) == "You are a concise assistant.\n\nBe brief.|system;user;system;user;"


# ---------------------------------------------------------------- tools and tool calls

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather <now>",
        "parameters": {
            "type": "object",
            "required": ["location"],
            "properties": {
                "location": {"type": "string", "description": "City name", "default": "dropped"},
                "unit": {"type": ["string", "null"], "enum": ["celsius", "fahrenheit"]},
            },
            "additionalProperties": False,
        },
    },
}
WEATHER_JSON = (
    '{"type":"function","function":{"name":"get_weather","description":"Get the weather \\u003cnow\\u003e",'
    '"parameters":{"type":"object","required":["location"],"properties":{"location":{"type":"string",'
    '"description":"City name"},"unit":{"type":["string","null"],"enum":["celsius","fahrenheit"]}}}}}'
)
CALL = {
    "role": "assistant",
    "content": "",
    "tool_calls": [{"function": {"name": "get_weather", "arguments": {"unit": "celsius", "location": "Tokyo", "days": 3}}}],
}


def test_tool_call_arguments_print_as_json_and_range() -> None:  # TestTemplateArgumentsJSON / Range
    template = "{{- range .Messages }}{{- range .ToolCalls }}{{ .Function.Name }}:{{ .Function.Arguments }}{{- end }}{{- end }}"
    assert execute(template, [CALL]) == 'get_weather:{"days":3,"location":"Tokyo","unit":"celsius"}'
    template = "{{- range .Messages }}{{- range .ToolCalls }}{{- range $k, $v := .Function.Arguments }}{{ $k }}={{ $v }};{{- end }}{{- end }}{{- end }}"
    assert execute(template, [CALL]) == "days=3;location=Tokyo;unit=celsius;"
    openai_style = {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": '{"a": 1}'}}]}
    assert execute("{{ range .Messages }}{{ range .ToolCalls }}{{ .Function.Arguments }}{{ end }}{{ end }}", [openai_style]) == '{"a":1}'


def test_tool_properties_print_as_json_and_range() -> None:  # TestTemplatePropertiesJSON / Range
    template = "{{- range .Messages }}{{- end }}{{- range .Tools }}{{ .Function.Parameters.Properties }}{{- end }}"
    properties = json.loads(execute(template, [Q1], tools=[WEATHER_TOOL]))
    assert properties == {"location": {"type": "string", "description": "City name"}, "unit": {"type": ["string", "null"], "enum": ["celsius", "fahrenheit"]}}
    template = (
        "{{- range .Messages }}{{- end }}{{- range .Tools }}{{- range $name, $prop := .Function.Parameters.Properties }}"
        "{{ $name }}:{{ $prop.Type }}:{{ toTypeScriptType $prop }};{{- end }}{{- end }}"
    )
    assert execute(template, [Q1], tools=[WEATHER_TOOL]) == "location:string:string;unit:[string null]:string | null;"


def test_tools_print_like_ollama() -> None:
    template = "{{ if .Tools }}{{ range $.Tools }}{{ . }}\n{{ end }}{{ json .Tools }}{{ end }}{{ range .Messages }}{{ end }}"
    assert execute(template, [Q1], tools=[WEATHER_TOOL]) == WEATHER_JSON + "\n[" + WEATHER_JSON + "]"
    assert execute(template, [Q1]) == ""
    assert execute("{{ .Tools }} {{ json .Tools }}{{ .Messages }}", []) == "null null[]"


def test_command_r_with_tools() -> None:
    messages = [Q1, CALL, {"role": "tool", "content": "sunny"}]
    out = render_chat(BUNDLED["command-r"], messages, tools=[WEATHER_TOOL])
    assert "def get_weather(location: string, unit: [string null], ) -> List[Dict]:" in out
    assert "        location (string): City name\n" in out
    assert '"tool_name": "get_weather",\n        "parameters": {"days":3,"location":"Tokyo","unit":"celsius"}' in out
    assert out.endswith(
        "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|><results>\nconsole_output: sunny\n</results><|END_OF_TURN_TOKEN|>"
        "<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>\n"
    )


# ---------------------------------------------------------------- think flags

THINK = "{{ .Think }}|{{ .ThinkLevel }}|{{ .IsThinkSet }}{{ range .Messages }}{{ end }}"


@pytest.mark.parametrize(
    ("think", "expected"),
    [(None, "false||false"), (True, "true|medium|true"), (False, "false||true"), ("high", "true|high|true")],
)
def test_think_values(think: Any, expected: str) -> None:
    assert render_chat(THINK, [Q1], think=think) == expected
    assert render_generate("{{ .Think }}|{{ .ThinkLevel }}|{{ .IsThinkSet }}", "x", think=think) == expected


# ---------------------------------------------------------------- chat and generate flows


def test_render_chat_model_system_and_history() -> None:
    template = BUNDLED["chatml"]
    history = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    out = render_chat(template, [Q2], system="You are a concise assistant.", history=history)
    assert out == (
        "<|im_start|>system\nYou are a concise assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nAnd of Italy?<|im_end|>\n<|im_start|>assistant\n"
    )
    # a request that brings its own system message keeps it, and the model's is not added
    own = {"role": "system", "content": "Mine."}
    assert render_chat(template, [own, Q2], system="Model's.").startswith("<|im_start|>system\nMine.<|im_end|>\n<|im_start|>user")


def test_render_chat_truncates_oldest_messages_but_keeps_system_and_last() -> None:
    template = BUNDLED["chatml"]
    messages = [SYSTEM, Q1, A1, Q2]
    seen: list[str] = []

    def fits(prompt: str) -> bool:
        seen.append(prompt)
        return "France" not in prompt

    out = render_chat(template, messages, fits=fits)
    assert out == (
        "<|im_start|>system\nYou are a concise assistant.<|im_end|>\n<|im_start|>assistant\nParis.<|im_end|>\n"
        "<|im_start|>user\nAnd of Italy?<|im_end|>\n<|im_start|>assistant\n"
    )
    assert len(seen) == 3  # all four, then without the system message (kept anyway), then without Q1
    assert render_chat(template, messages, fits=lambda prompt: False).endswith("<|im_start|>user\nAnd of Italy?<|im_end|>\n<|im_start|>assistant\n")
    assert "Paris" not in render_chat(template, messages, fits=lambda prompt: False)


def test_render_generate() -> None:
    template = BUNDLED["llama3-instruct"]
    assert render_generate(template, "Hi", raw=True) == "Hi"
    assert render_generate(template, "Hi", system="Be brief.") == (
        "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    history = [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]
    assert render_generate("{{ range .Messages }}{{ .Role }}:{{ .Content }} {{ end }}", "Hi", history=history) == "user:Q assistant:A user:Hi "
    legacy = "{{ if .System }}[{{ .System }}] {{ end }}{{ .Prompt }}"
    assert render_generate(legacy, "Hi", system="S") == "[S] Hi"


# ---------------------------------------------------------------- capabilities


def test_capabilities_and_think_tags() -> None:
    assert capabilities(BUNDLED["chatml"]) == []
    assert capabilities(BUNDLED["command-r"]) == ["tools"]
    assert capabilities(FIM) == ["insert"]
    qwen3_like = (
        "{{- range $i, $_ := .Messages }}{{- if eq .Role \"assistant\" }}<|im_start|>assistant\n"
        "{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}{{ .Content }}<|im_end|>{{ end }}{{ end }}"
        "{{ if .Tools }}{{ end }}"
    )
    assert think_tags(qwen3_like) == ("<think>", "</think>")
    assert capabilities(qwen3_like) == ["tools", "thinking"]
    assert think_tags("{{ .Thinking }}{{ range .Messages }}{{ end }}") == ("", "")  # outside range .Messages


def test_references_choose_the_mode() -> None:
    assert parse_template(BUNDLED["chatml"]).references(".Messages")
    assert not parse_template(MISTRAL_RESPONSE).references(".Messages")
    assert parse_template(MISTRAL_LEGACY).references(".Response")  # appended by parse_template


# A llama3.1-style template: `$last` via `slice`, tools printed as JSON, tool calls and results.
LLAMA31_STYLE = """\
{{- if or .System .Tools }}<|start_header_id|>system<|end_header_id|>
{{- if .System }}

{{ .System }}
{{- end }}
{{- if .Tools }}

You are a helpful assistant with tool calling capabilities.
{{- end }}<|eot_id|>
{{- end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if eq .Role "user" }}<|start_header_id|>user<|end_header_id|>
{{- if and $.Tools $last }}

Functions:

{{ range $.Tools }}
{{- . }}
{{ end }}
Question: {{ .Content }}<|eot_id|>
{{- else }}

{{ .Content }}<|eot_id|>
{{- end }}{{ if $last }}<|start_header_id|>assistant<|end_header_id|>

{{ end }}
{{- else if eq .Role "assistant" }}<|start_header_id|>assistant<|end_header_id|>
{{- if .ToolCalls }}
{{ range .ToolCalls }}
{"name": "{{ .Function.Name }}", "parameters": {{ .Function.Arguments }}}{{ end }}
{{- else }}

{{ .Content }}
{{- end }}{{ if not $last }}<|eot_id|>{{ end }}
{{- else if eq .Role "tool" }}<|start_header_id|>ipython<|end_header_id|>

{{ .Content }}<|eot_id|>{{ if $last }}<|start_header_id|>assistant<|end_header_id|>

{{ end }}
{{- end }}
{{- end }}"""


def test_llama31_style_tools_round_trip() -> None:
    question = {"role": "user", "content": "Weather in Tokyo?"}
    assert render_chat(LLAMA31_STYLE, [question], tools=[WEATHER_TOOL]) == (
        "<|start_header_id|>system<|end_header_id|>\n\n"
        "You are a helpful assistant with tool calling capabilities.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nFunctions:\n\n"
        + WEATHER_JSON
        + "\n\nQuestion: Weather in Tokyo?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    result = {"role": "tool", "content": '{"temp": 21}'}
    assert render_chat(LLAMA31_STYLE, [question, CALL, result], system="Be brief.") == (
        "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nWeather in Tokyo?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
        '{"name": "get_weather", "parameters": {"days":3,"location":"Tokyo","unit":"celsius"}}<|eot_id|>'
        '<|start_header_id|>ipython<|end_header_id|>\n\n{"temp": 21}<|eot_id|>'
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    assert capabilities(LLAMA31_STYLE) == ["tools"]


def test_a_struct_without_string_method_prints_like_go() -> None:
    # qwen2.5's template prints `{{ .Function }}`: Ollama's templateToolFunction has no
    # String method, so Go prints the struct's fields; JSON-printing fields stay JSON.
    template = "{{ range .Messages }}{{ end }}{{ range .Tools }}{{ .Function }}{{ end }}"
    properties = json.loads(execute(template.replace(".Function }}", ".Function.Parameters.Properties }}"), [Q1], tools=[WEATHER_TOOL]))
    assert execute(template, [Q1], tools=[WEATHER_TOOL]) == (
        "{get_weather Get the weather <now> {object <nil> <nil> [location] " + json.dumps(properties, separators=(",", ":")) + "}}"
    )
