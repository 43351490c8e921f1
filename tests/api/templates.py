"""Modelfile TEMPLATEs (Go syntax) that give SmolLM2 tools or thinking, for the API tests.

`TOOLS`: ChatML with Hermes-style tool instructions (Qwen 2.5's layout): the tools
listed in the system turn, calls written as `<tool_call>{json}</tool_call>`,
results sent back in `<tool_response>`. `THINKING`: ChatML whose assistant turns
keep their `<think>` part and whose prompt opens one when the request thinks.
`JSON_TOOLS`: ChatML where a call is a bare JSON object (Llama 3.x's way), so that
output constrained by a `format` schema reads as a tool call. `THINKING_TOOLS`: `THINKING`
with such tools listed in a system turn (a model that thinks and calls, as Qwen 3 does).
"""

TOOLS = """{{- if or .System .Tools }}<|im_start|>system
{{- if .System }}
{{ .System }}
{{- end }}
{{- if .Tools }}

# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{{- range .Tools }}
{{ . }}
{{- end }}
</tools>

For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call>
{{- end }}<|im_end|>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 -}}
{{- if eq .Role "user" }}<|im_start|>user
{{ .Content }}<|im_end|>
{{ else if eq .Role "assistant" }}<|im_start|>assistant
{{ if .Content }}{{ .Content }}
{{- else if .ToolCalls }}<tool_call>
{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}
{{ end }}</tool_call>
{{- end }}{{ if not $last }}<|im_end|>
{{ end }}
{{- else if eq .Role "tool" }}<|im_start|>user
<tool_response>
{{ .Content }}
</tool_response><|im_end|>
{{ end }}
{{- if and (ne .Role "assistant") $last }}<|im_start|>assistant
{{ end }}
{{- end }}"""

THINKING = """{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 -}}
<|im_start|>{{ .Role }}
{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}{{ .Content }}{{ if not $last }}<|im_end|>
{{ end }}
{{- if and (ne .Role "assistant") $last }}<|im_end|>
<|im_start|>assistant
{{ if $.Think }}<think>{{ end }}
{{- end }}
{{- end }}"""


THINKING_TOOLS = """{{- if .Tools }}<|im_start|>system
You can call these functions. To call one, answer with JSON: {"name": function name, "arguments": {argument: value}}.
{{- range .Tools }}
{{ . }}
{{- end }}<|im_end|>
{{ end }}""" + THINKING


def create_variant(client, base: str, name: str, template: str) -> str:
    """Create `name` from `base` with `template`; returns its full name."""
    client.create(model=name, from_=base, template=template)
    return f"{name}:latest"

JSON_TOOLS = """{{- if or .System .Tools }}<|im_start|>system
{{- if .System }}
{{ .System }}
{{- end }}
{{- if .Tools }}
You can call these functions. To call one, answer with JSON: {"name": function name, "arguments": {argument: value}}.
{{- range .Tools }}
{{ . }}
{{- end }}
{{- end }}<|im_end|>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 -}}
{{- if eq .Role "assistant" }}<|im_start|>assistant
{{ if .ToolCalls }}{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}{{ end }}
{{- else }}{{ .Content }}{{ end }}{{ if not $last }}<|im_end|>
{{ end }}
{{- else }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}
{{- if and (ne .Role "assistant") $last }}<|im_start|>assistant
{{ end }}
{{- end }}"""
