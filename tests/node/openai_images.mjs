// The official openai Node SDK against Iris's Images API. One JSON argument:
// {baseURL, apiKey, headers, action: "generate" | "edit" | "stream-generate" | "stream-edit",
//  params, images: [path], mask: path}. Prints one JSON object: what the SDK returned.
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import OpenAI, { toFile } from "openai";

// Node 18 (Debian's) has File in node:buffer only; the SDK's uploads need the global.
globalThis.File ??= (await import("node:buffer")).File;

const config = JSON.parse(process.argv[2]);
const client = new OpenAI({
  baseURL: config.baseURL,
  apiKey: config.apiKey,
  defaultHeaders: config.headers,
  maxRetries: 0,
});
const file = (path) => toFile(readFileSync(path), basename(path), { type: "image/png" });

async function main() {
  const params = { ...config.params };
  if (config.action.endsWith("edit")) {
    const images = await Promise.all(config.images.map(file));
    params.image = images.length === 1 ? images[0] : images;
    if (config.mask) params.mask = await file(config.mask);
  }
  const method = config.action.endsWith("edit") ? "edit" : "generate";
  if (config.action.startsWith("stream")) {
    const { data: stream, response } = await client.images[method]({ ...params, stream: true }).withResponse();
    const events = [];
    for await (const event of stream) events.push(event);
    return { requestId: response.headers.get("x-iris-request-id"), events };
  }
  const { data, response } = await client.images[method](params).withResponse();
  return { requestId: response.headers.get("x-iris-request-id"), result: data };
}

main().then(
  (out) => console.log(JSON.stringify(out)),
  (error) => {
    console.log(JSON.stringify({ error: { status: error.status ?? null, message: String(error.message) } }));
    process.exitCode = 1;
  },
);
