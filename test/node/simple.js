// Receives with the Node.js 5.x SimpleConsumer and acks until COUNT
// distinct bodies arrived (prints "received N", exit 0) or TIMEOUT_MS
// passed (exit 1).
// Usage: node simple.js ENDPOINT GROUP TOPIC COUNT TIMEOUT_MS
'use strict';
const { SimpleConsumer } = require('rocketmq-client-nodejs');

async function main() {
  const [endpoints, consumerGroup, topic, count, timeout] = process.argv.slice(2);
  const consumer = new SimpleConsumer({
    endpoints, consumerGroup, requestTimeout: 5000, awaitDuration: 3000,
    subscriptions: new Map([[ topic, '*' ]]),
  });
  await consumer.startup();
  const seen = new Set();
  const deadline = Date.now() + Number(timeout);
  while (seen.size < Number(count) && Date.now() < deadline) {
    const messages = await consumer.receive(16, 15000);
    for (const m of messages) {
      seen.add(m.body.toString('utf-8'));
      await consumer.ack(m);
    }
  }
  console.log(`received ${seen.size} `);
  await Promise.race([ consumer.shutdown().catch(() => {}), new Promise(r => setTimeout(r, 1500)) ]);
  return seen.size >= Number(count);
}

main().then(ok => process.exit(ok ? 0 : 1), err => {
  console.error(err);
  process.exit(1);
});
