// The Vercel AI SDK's generateImage with @ai-sdk/openai pointed at Iris. One JSON argument:
// {baseURL, apiKey, headers, model, prompt, n, size, images: [path], mask: path}. With images
// it edits them (generateImage's {images, mask, text} prompt). Prints one JSON object.
import { readFileSync } from "node:fs";
import { createOpenAI } from "@ai-sdk/openai";
import { generateImage } from "ai";

const config = JSON.parse(process.argv[2]);
const openai = createOpenAI({ baseURL: config.baseURL, apiKey: config.apiKey, headers: config.headers });

async function main() {
  const prompt = config.images
    ? {
        text: config.prompt,
        images: config.images.map((path) => readFileSync(path)),
        ...(config.mask ? { mask: readFileSync(config.mask) } : {}),
      }
    : config.prompt;
  const result = await generateImage({
    model: openai.image(config.model),
    prompt,
    n: config.n,
    size: config.size,
    maxRetries: 0,
  });
  return {
    images: result.images.map((image) => ({ base64: image.base64, mediaType: image.mediaType })),
    usage: result.usage,
    requestIds: result.responses.map((r) => r.headers?.["x-iris-request-id"] ?? null),
    providerMetadata: result.providerMetadata,
  };
}

main().then(
  (out) => console.log(JSON.stringify(out)),
  (error) => {
    console.log(JSON.stringify({ error: { name: error.name, message: String(error.message) } }));
    process.exitCode = 1;
  },
);
