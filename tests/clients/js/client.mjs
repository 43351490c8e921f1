// The official ollama-js client against a jupyter-ollama server: node client.mjs <url> <model> <vision model> <png>.
// Prints one JSON object of what came back; tests/api/test_ollama_js.py checks it.
import { readFileSync } from 'node:fs';
import { Ollama } from 'ollama';

const [url, model, seeing, png] = process.argv.slice(2);
const ollama = new Ollama({ host: url });
const greedy = { temperature: 0, num_predict: 8 };
const out = {};

const listed = await ollama.list();
out.models = listed.models.map(m => m.name);
out.capabilities = (await ollama.show({ model: seeing })).capabilities;

const pieces = [];
for await (const part of await ollama.generate({ model, prompt: 'Count: 1, 2, 3,', options: greedy, stream: true,
                                                 logprobs: true, top_logprobs: 3 })) {
  pieces.push(part);
}
out.generate = { text: pieces.map(p => p.response).join(''), chunks: pieces.length, done: pieces.at(-1).done,
                 logprobs: pieces.flatMap(p => p.logprobs ?? []) };

const chat = [];
for await (const part of await ollama.chat({ model, messages: [{ role: 'user', content: 'Say hi.' }], options: greedy,
                                             stream: true })) {
  chat.push(part);
}
out.chat = { text: chat.map(p => p.message.content).join(''), chunks: chat.length, done_reason: chat.at(-1).done_reason };

const image = new Uint8Array(readFileSync(png));
const ask = content => ollama.chat({ model: seeing, options: greedy, messages: [{ role: 'user', content, images: [image] }] });
const plain = await ollama.chat({ model: seeing, options: greedy, messages: [{ role: 'user', content: 'What is this?' }] });
const seen = await ask('What is this?');
out.image = { done: seen.done, prompt_eval_count: seen.prompt_eval_count, without: plain.prompt_eval_count };

console.log(JSON.stringify(out));
