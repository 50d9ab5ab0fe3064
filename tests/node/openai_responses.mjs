// The official openai Node SDK's Responses API against Iris. One JSON argument:
// {baseURL, apiKey, headers, action: "create" | "stream", params, image: path}. The image is
// added to the last user message as an input_image data URI. Prints one JSON object: what the
// SDK returned (the stream: its event types, its text deltas and its final response).
import { readFileSync } from "node:fs";
import OpenAI from "openai";

const config = JSON.parse(process.argv[2]);
let requestId = null; // Iris's x-iris-request-id of the last answer (the stream helper hides headers)
const client = new OpenAI({
  baseURL: config.baseURL,
  apiKey: config.apiKey,
  defaultHeaders: config.headers,
  maxRetries: 0,
  fetch: async (url, init) => {
    const response = await fetch(url, init);
    requestId = response.headers.get("x-iris-request-id");
    return response;
  },
});

function params() {
  const out = structuredClone(config.params);
  if (config.image) {
    const url = `data:image/png;base64,${readFileSync(config.image).toString("base64")}`;
    out.input.at(-1).content.push({ type: "input_image", image_url: url, detail: "auto" });
  }
  return out;
}

async function main() {
  if (config.action === "create") {
    const response = await client.responses.create(params());
    return { requestId, outputText: response.output_text, response };
  }
  if (config.action === "stream") {
    const stream = client.responses.stream(params());
    const types = [];
    const deltas = [];
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "response.output_text.delta") deltas.push(event.delta);
    }
    const final = await stream.finalResponse();
    return { requestId, types, deltas, outputText: final.output_text, response: final };
  }
  throw new Error(`unknown action ${config.action}`);
}

main().then(
  (out) => console.log(JSON.stringify(out)),
  (error) => {
    console.log(
      JSON.stringify({ error: { name: error.name, status: error.status ?? null, message: String(error.message) } }),
    );
    process.exitCode = 1;
  },
);
