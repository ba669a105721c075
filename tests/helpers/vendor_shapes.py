"""Response bodies in the shapes real vendors send, reconstructed from their public
documentation and from captures published in public repositories.

Each constant is the raw bytes a server puts on the wire (SSE text or JSON), so
the tests exercise SSE framing, comments and ``[DONE]`` handling too.
"""

from __future__ import annotations

OPENAI_STREAM_TOOLS = """\
data: {"id":"chatcmpl-A1","object":"chat.completion.chunk","created":1730000000,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_abc","type":"function","function":{"name":"read_file","arguments":""}}],"refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-A1","object":"chat.completion.chunk","created":1730000000,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"pa"}}]},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-A1","object":"chat.completion.chunk","created":1730000000,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"th\\": \\"a.txt\\"}"}}]},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-A1","object":"chat.completion.chunk","created":1730000000,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_def","type":"function","function":{"name":"terminal","arguments":""}}]},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-A1","object":"chat.completion.chunk","created":1730000000,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\\"command\\": \\"ls\\"}"}}]},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-A1","object":"chat.completion.chunk","created":1730000000,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}],"usage":null}

data: {"id":"chatcmpl-A1","object":"chat.completion.chunk","created":1730000000,"model":"gpt-4o-2024-08-06","choices":[],"usage":{"prompt_tokens":120,"completion_tokens":40,"total_tokens":160,"prompt_tokens_details":{"cached_tokens":64,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}}}

data: [DONE]

"""

OPENROUTER_STREAM_REASONING = """\
: OPENROUTER PROCESSING

: OPENROUTER PROCESSING

data: {"id":"gen-1","provider":"Anthropic","model":"anthropic/claude-sonnet-4","object":"chat.completion.chunk","created":1730000001,"choices":[{"index":0,"delta":{"role":"assistant","content":"","reasoning":"Let me think","reasoning_details":[{"type":"reasoning.text","text":"Let me think","index":0,"format":"anthropic-claude-v1"}]},"finish_reason":null,"native_finish_reason":null,"logprobs":null}]}

data: {"id":"gen-1","provider":"Anthropic","model":"anthropic/claude-sonnet-4","object":"chat.completion.chunk","created":1730000001,"choices":[{"index":0,"delta":{"role":"assistant","content":"","reasoning":" about it.","reasoning_details":[{"type":"reasoning.text","text":" about it.","index":0,"format":"anthropic-claude-v1"}]},"finish_reason":null,"native_finish_reason":null,"logprobs":null}]}

data: {"id":"gen-1","provider":"Anthropic","model":"anthropic/claude-sonnet-4","object":"chat.completion.chunk","created":1730000001,"choices":[{"index":0,"delta":{"role":"assistant","content":"","reasoning_details":[{"type":"reasoning.text","signature":"EqQBCkYIBRgCKkD","index":0,"format":"anthropic-claude-v1"}]},"finish_reason":null,"native_finish_reason":null,"logprobs":null}]}

data: {"id":"gen-1","provider":"Anthropic","model":"anthropic/claude-sonnet-4","object":"chat.completion.chunk","created":1730000001,"choices":[{"index":0,"delta":{"role":"assistant","content":"The answer"},"finish_reason":null,"native_finish_reason":null,"logprobs":null}]}

data: {"id":"gen-1","provider":"Anthropic","model":"anthropic/claude-sonnet-4","object":"chat.completion.chunk","created":1730000001,"choices":[{"index":0,"delta":{"role":"assistant","content":" is 42."},"finish_reason":"stop","native_finish_reason":"end_turn","logprobs":null}]}

data: {"id":"gen-1","provider":"Anthropic","model":"anthropic/claude-sonnet-4","object":"chat.completion.chunk","created":1730000001,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null,"native_finish_reason":null,"logprobs":null}],"usage":{"prompt_tokens":50,"completion_tokens":30,"total_tokens":80,"cost":0.00061,"is_byok":false,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":12}}}

data: [DONE]

"""

DEEPSEEK_STREAM_REASONING = """\
data: {"id":"d1","object":"chat.completion.chunk","created":1730000002,"model":"deepseek-reasoner","system_fingerprint":"fp_ds","choices":[{"index":0,"delta":{"role":"assistant","content":null,"reasoning_content":""},"logprobs":null,"finish_reason":null}]}

data: {"id":"d1","object":"chat.completion.chunk","created":1730000002,"model":"deepseek-reasoner","system_fingerprint":"fp_ds","choices":[{"index":0,"delta":{"content":null,"reasoning_content":"Two plus two"},"logprobs":null,"finish_reason":null}]}

data: {"id":"d1","object":"chat.completion.chunk","created":1730000002,"model":"deepseek-reasoner","system_fingerprint":"fp_ds","choices":[{"index":0,"delta":{"content":null,"reasoning_content":" is four."},"logprobs":null,"finish_reason":null}]}

data: {"id":"d1","object":"chat.completion.chunk","created":1730000002,"model":"deepseek-reasoner","system_fingerprint":"fp_ds","choices":[{"index":0,"delta":{"content":"4","reasoning_content":null},"logprobs":null,"finish_reason":null}]}

data: {"id":"d1","object":"chat.completion.chunk","created":1730000002,"model":"deepseek-reasoner","system_fingerprint":"fp_ds","choices":[{"index":0,"delta":{"content":"","reasoning_content":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":9,"total_tokens":19,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":7},"prompt_cache_hit_tokens":0,"prompt_cache_miss_tokens":10}}

data: [DONE]

"""

# Ollama's OpenAI-compatible endpoint sends each tool call whole, one per chunk.
OLLAMA_STREAM_TOOLS = """\
data: {"id":"chatcmpl-18","object":"chat.completion.chunk","created":1744446075,"model":"qwen2.5-coder:7b","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":"","tool_calls":[{"id":"call_wteop8bt","index":0,"type":"function","function":{"name":"terminal","arguments":"{\\"command\\":\\"ls\\"}"}}]},"finish_reason":null}]}

data: {"id":"chatcmpl-18","object":"chat.completion.chunk","created":1744446075,"model":"qwen2.5-coder:7b","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":"","tool_calls":[{"id":"call_rk2xye1l","index":1,"type":"function","function":{"name":"terminal","arguments":"{\\"command\\":\\"ls -l\\"}"}}]},"finish_reason":null}]}

data: {"id":"chatcmpl-18","object":"chat.completion.chunk","created":1744446075,"model":"qwen2.5-coder:7b","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":"tool_calls"}]}

data: {"id":"chatcmpl-18","object":"chat.completion.chunk","created":1744446075,"model":"qwen2.5-coder:7b","system_fingerprint":"fp_ollama","choices":[],"usage":{"prompt_tokens":200,"completion_tokens":22,"total_tokens":222}}

data: [DONE]

"""

# Some gateways (e.g. Gemini's OpenAI compatibility layer in 2024) omit ``index`` on
# tool-call deltas and send each call whole with its id.
NO_INDEX_STREAM_TOOLS = """\
data: {"choices":[{"delta":{"role":"assistant","tool_calls":[{"function":{"arguments":"{\\"url\\":\\"http://a\\"}","name":"web_fetch"},"id":"0","type":"function"}]},"finish_reason":null,"index":0}],"created":1730000003,"model":"gemini-2.5-flash","object":"chat.completion.chunk"}

data: {"choices":[{"delta":{"role":"assistant","tool_calls":[{"function":{"arguments":"{\\"url\\":\\"http://b\\"}","name":"web_fetch"},"id":"1","type":"function"}]},"finish_reason":"tool_calls","index":0}],"created":1730000003,"model":"gemini-2.5-flash","object":"chat.completion.chunk","usage":{"completion_tokens":20,"prompt_tokens":70,"total_tokens":90}}

data: [DONE]

"""

# llama.cpp's server adds ``timings`` and streams arguments in fragments.
LLAMACPP_STREAM_TOOLS = """\
data: {"choices":[{"finish_reason":null,"index":0,"delta":{"role":"assistant","content":null}}],"created":1730000004,"id":"chatcmpl-l","model":"gpt-3.5-turbo","system_fingerprint":"b4000","object":"chat.completion.chunk"}

data: {"choices":[{"finish_reason":null,"index":0,"delta":{"tool_calls":[{"index":0,"id":"Xy1","type":"function","function":{"name":"todo","arguments":"{\\"todos\\""}}]}}],"created":1730000004,"id":"chatcmpl-l","model":"gpt-3.5-turbo","object":"chat.completion.chunk"}

data: {"choices":[{"finish_reason":null,"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":": null}"}}]}}],"created":1730000004,"id":"chatcmpl-l","model":"gpt-3.5-turbo","object":"chat.completion.chunk"}

data: {"choices":[{"finish_reason":"tool_calls","index":0,"delta":{}}],"created":1730000004,"id":"chatcmpl-l","model":"gpt-3.5-turbo","object":"chat.completion.chunk","usage":{"completion_tokens":12,"prompt_tokens":80,"total_tokens":92},"timings":{"prompt_n":80,"predicted_n":12}}

data: [DONE]

"""

OPENROUTER_MIDSTREAM_ERROR = """\
data: {"id":"gen-2","model":"openai/gpt-4o","object":"chat.completion.chunk","created":1730000005,"choices":[{"index":0,"delta":{"role":"assistant","content":"Partial"},"finish_reason":null}]}

data: {"id":"gen-2","model":"openai/gpt-4o","object":"chat.completion.chunk","created":1730000005,"error":{"code":502,"message":"Provider returned error","metadata":{"raw":"upstream connection reset"}},"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}

"""

OPENAI_COMPLETION_TOOLS = """\
{"id":"chatcmpl-B","object":"chat.completion","created":1730000006,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"terminal","arguments":"{\\"command\\":\\"date\\"}"}}],"refusal":null},"logprobs":null,"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":82,"completion_tokens":17,"total_tokens":99,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}},"system_fingerprint":"fp_2"}
"""

OLLAMA_COMPLETION_OBJECT_ARGS = """\
{"id":"chatcmpl-9","object":"chat.completion","created":1730000007,"model":"llama3.1:8b","system_fingerprint":"fp_ollama","choices":[{"index":0,"message":{"role":"assistant","content":"","tool_calls":[{"id":"call_x","type":"function","function":{"name":"read_file","arguments":{"path":"README.md"}}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":30,"completion_tokens":10,"total_tokens":40}}
"""

ERRORS = {
    "openai_rate_limit": (
        429,
        {"retry-after-ms": "1500", "retry-after": "2", "content-type": "application/json"},
        '{"error":{"message":"Rate limit reached for gpt-4o in organization org-x on tokens per '
        'min (TPM): Limit 30000, Used 29000. Please try again in 1.5s.","type":"tokens",'
        '"param":null,"code":"rate_limit_exceeded"}}',
    ),
    "openai_quota": (
        429,
        {"content-type": "application/json"},
        '{"error":{"message":"You exceeded your current quota, please check your plan and '
        'billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}',
    ),
    "openai_context": (
        400,
        {"content-type": "application/json"},
        '{"error":{"message":"This model\'s maximum context length is 128000 tokens. However, '
        'your messages resulted in 130512 tokens. Please reduce the length of the messages.",'
        '"type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}',
    ),
    "openai_auth": (
        401,
        {"content-type": "application/json"},
        '{"error":{"message":"Incorrect API key provided: sk-abc***xyz. You can find your API '
        'key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error",'
        '"param":null,"code":"invalid_api_key"}}',
    ),
    "openrouter_no_credits": (
        402,
        {"content-type": "application/json"},
        '{"error":{"message":"Insufficient credits. Add more using '
        'https://openrouter.ai/settings/credits","code":402}}',
    ),
    "openrouter_anthropic_too_long": (
        400,
        {"content-type": "application/json"},
        '{"error":{"message":"Provider returned error","code":400,"metadata":{"raw":'
        '"{\\"type\\":\\"error\\",\\"error\\":{\\"type\\":\\"invalid_request_error\\",'
        '\\"message\\":\\"prompt is too long: 210000 tokens > 200000 maximum\\"}}",'
        '"provider_name":"Anthropic"}}}',
    ),
    "vllm_context": (
        400,
        {"content-type": "application/json"},
        '{"object":"error","message":"This model\'s maximum context length is 4096 tokens. '
        "However, you requested 5000 tokens (4000 in the messages, 1000 in the completion). "
        'Please reduce the length of the messages or completion.","type":"BadRequestError",'
        '"param":null,"code":400}',
    ),
    "fastapi_validation": (
        422,
        {"content-type": "application/json"},
        '{"detail":[{"type":"missing","loc":["body","messages"],"msg":"Field required",'
        '"input":{}}]}',
    ),
    "anthropic_overloaded": (
        529,
        {"content-type": "application/json"},
        '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
    ),
    "nginx_502_html": (
        502,
        {"content-type": "text/html"},
        "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
        "</h1></center><hr><center>nginx</center></body></html>",
    ),
    "ollama_model_missing": (
        404,
        {"content-type": "application/json"},
        '{"error":{"message":"model \\"llama9\\" not found, try pulling it first",'
        '"type":"api_error","param":null,"code":null}}',
    ),
}
