// The Vercel AI SDK's default model, `openai(model)` (OpenAI's Responses API, POST /v1/responses),
// pointed at Iris. One JSON argument: {baseURL, apiKey, headers, model, action, text, image: path,
// schema: {field: "string"}, then: text}. action: "generate" (generateText), "stream"
// (streamText), "object" (generateObject), "output" (generateText with Output.object) or
// "conversation" (generateText, then the reply's messages and `then` sent again, as apps keep a
// conversation: the AI SDK sends its reply back as an item_reference); the schema becomes a
// zod object of strings, sent as Responses `text.format`. The image goes as a Uint8Array.
// Prints one JSON object: what the SDK returned, and Iris's request id.
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { createOpenAI } from "@ai-sdk/openai";
import { generateObject, generateText, Output, streamText } from "ai";
import { z } from "zod";

const config = JSON.parse(process.argv[2]);
const openai = createOpenAI({ baseURL: config.baseURL, apiKey: config.apiKey, headers: config.headers });
const model = openai(config.model);

const content = [{ type: "text", text: config.text }];
if (config.image) content.push({ type: "image", image: new Uint8Array(readFileSync(config.image)) });
if (config.pdf) {
  const data = new Uint8Array(readFileSync(config.pdf));
  content.push({ type: "file", data, mediaType: "application/pdf", filename: basename(config.pdf) });
}
const messages = [{ role: "user", content }];
const schema = z.object(Object.fromEntries(Object.keys(config.schema ?? {}).map((key) => [key, z.string()])));

const requestId = (response) => response?.headers?.["x-iris-request-id"] ?? null;

async function main() {
  if (config.action === "generate") {
    const result = await generateText({ model, messages, maxRetries: 0 });
    return {
      text: result.text,
      finishReason: result.finishReason,
      usage: result.usage,
      responseId: result.response.id,
      requestId: requestId(result.response),
    };
  }
  if (config.action === "stream") {
    const errors = [];
    const result = streamText({ model, messages, maxRetries: 0, onError: ({ error }) => errors.push(String(error)) });
    const deltas = [];
    for await (const delta of result.textStream) deltas.push(delta);
    const response = await result.response;
    return {
      deltas,
      text: await result.text,
      finishReason: await result.finishReason,
      usage: await result.usage,
      responseId: response.id,
      requestId: requestId(response),
      errors,
    };
  }
  if (config.action === "object") {
    const result = await generateObject({ model, messages, schema, schemaName: "answer", maxRetries: 0 });
    return { object: result.object, responseId: result.response.id, requestId: requestId(result.response) };
  }
  if (config.action === "output") {
    const result = await generateText({ model, messages, output: Output.object({ schema, name: "answer" }), maxRetries: 0 });
    return { object: result.output, responseId: result.response.id, requestId: requestId(result.response) };
  }
  if (config.action === "conversation") {
    const first = await generateText({ model, messages, maxRetries: 0 });
    const history = [...messages, ...first.response.messages, { role: "user", content: config.then }];
    const second = await generateText({ model, messages: history, maxRetries: 0 });
    return {
      texts: [first.text, second.text],
      responseIds: [first.response.id, second.response.id],
      requestIds: [requestId(first.response), requestId(second.response)],
    };
  }
  throw new Error(`unknown action ${config.action}`);
}

main().then(
  (out) => console.log(JSON.stringify(out)),
  (error) => {
    const body = error.responseBody ?? error.cause?.responseBody ?? null;
    console.log(JSON.stringify({ error: { name: error.name, message: String(error.message), status: error.statusCode ?? null, body } }));
    process.exitCode = 1;
  },
);
