// Segment's Node.js library, unchanged: sends the calls given as JSON ([[method, params], ...]) to
// HOST with KEY, batched, and prints the requests it made (with their answers' status) and any error
// it reported, as JSON.
import { Analytics } from "@segment/analytics-node";

const [host, writeKey, calls] = process.argv.slice(2);
const list = JSON.parse(calls);
const analytics = new Analytics({ writeKey, host, flushAt: list.length, flushInterval: 30000, maxRetries: 0 });
const requests = [];
const errors = [];
analytics.on("http_request", (request) => {
  requests.push({ url: request.url, types: JSON.parse(request.body).batch.map((message) => message.type) });
});
analytics.on("http_response", (response) => {
  requests[requests.length - 1].status = response.status;
});
analytics.on("error", (error) => errors.push(String(error.code ?? error)));
for (const [method, params] of list) {
  analytics[method](params);
}
await analytics.closeAndFlush({ timeout: 20000 });
console.log(JSON.stringify({ requests, errors }));
