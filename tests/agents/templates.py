"""A Modelfile TEMPLATE (Go syntax) that gives Gemma 3 tools, for the agent tests.

`GEMMA_TOOLS`: Gemma's turns (`<start_of_turn>user` ... `<end_of_turn>`, the reply in a
`model` turn; Gemma has no system role, so the system prompt and the tools open the
conversation as a user turn) with Hermes-style tool instructions, as tests/api/templates.py's
`TOOLS` gives ChatML: the tools listed in `<tools>`, calls written as
`<tool_call>{json}</tool_call>`, results sent back in `<tool_response>`.
"""

GEMMA_TOOLS = """{{- if or .System .Tools }}<start_of_turn>user
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
{{- end }}<end_of_turn>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 -}}
{{- if eq .Role "user" }}<start_of_turn>user
{{ .Content }}<end_of_turn>
{{ else if eq .Role "assistant" }}<start_of_turn>model
{{ if .Content }}{{ .Content }}
{{- else if .ToolCalls }}<tool_call>
{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}
{{ end }}</tool_call>
{{- end }}{{ if not $last }}<end_of_turn>
{{ end }}
{{- else if eq .Role "tool" }}<start_of_turn>user
<tool_response>
{{ .Content }}
</tool_response><end_of_turn>
{{ end }}
{{- if and (ne .Role "assistant") $last }}<start_of_turn>model
{{ end }}
{{- end }}"""
