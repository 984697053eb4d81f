"""OpenAI Batch API: the input file (``{"custom_id","method","url","body"}``) joined with the output
file (``{"id","custom_id","response":{"status_code","body"},"error"}``) on ``custom_id``.

Output lines come back in any order; the input file is indexed first (a batch holds at most 50,000
requests). An output line with an ``error``, or a non-2xx ``status_code``, is reported, not priced.
The endpoint (``url``) decides how the body is read: Chat Completions or Responses.
"""

from __future__ import annotations

from typing import Any

from ..model.calls import Call
from .common import LineError, as_dict, dumps, guarded
from .openai_chat import parse_openai_chat
from .openai_responses import parse_openai_responses


def is_input_line(obj: Any) -> bool:
    return isinstance(obj, dict) and "custom_id" in obj and "body" in obj and "url" in obj


@guarded
def parse_openai_batch_pair(input_line: Any, output_line: Any, source: str, line: int) -> Call:
    inp = as_dict(input_line, "the batch input line")
    out = as_dict(output_line, "a batch output line")
    cid = out.get("custom_id")
    err = out.get("error")
    if err:
        raise LineError("batch_error", f"batch request {cid!r} failed: {dumps(err)[:200]}")
    response = as_dict(out.get("response"), "`response`")
    status = response.get("status_code")
    body = as_dict(response.get("body"), "`response.body`")
    if isinstance(status, int) and not 200 <= status < 300:
        raise LineError(
            "batch_error", f"batch request {cid!r} returned HTTP {status}: {dumps(body.get('error', body))[:200]}"
        )
    request = as_dict(inp.get("body"), "the input line's `body`")
    rec = {"request": request, "response": body}
    url = str(inp.get("url") or "")
    call = (
        parse_openai_responses(rec, source, line)
        if url.endswith("/responses")
        else parse_openai_chat(rec, source, line)
    )
    call.call_id = str(cid or call.call_id)
    call.notes.append("batch")
    call.service_tier = "batch"  # the Batch API bills 50% of the standard rates
    return call
