"""OpenAI's Responses API (POST /v1/responses, GET/DELETE /v1/responses/{id}, and
/v1/responses/{id}/input_items) on every provider route.

openai and azure-openai speak it: the body goes as sent and the typed events come back as
they are. anthropic, google and bedrock do not: the request becomes a Chat Completions body
for the provider's chat translator (translate.py), and its answer or chunks become a
Response or typed events (events.py). Iris keeps no state of its own: previous_response_id
and the GET/DELETE/input_items of a translated response read the request log (store.py), so
a response is kept exactly as long as its log record (log retention).

- request.py: the parsed request (what the log keeps of it, its images and PDFs);
- translate.py / events.py: pure translation both ways, the stream translator included;
- passthrough.py: openai and azure-openai, the body as sent and their typed events relayed
  unchanged;
- proxy.py: the rest of the I/O (routing, the translated path, the log lookups, the
  GET/DELETE/input_items answers).
"""
