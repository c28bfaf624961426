// Consumes with the Node.js 5.x PushConsumer until COUNT distinct bodies
// arrived (prints "received N" and exits 0) or TIMEOUT_MS passed (exit 1).
// Usage: node push.js ENDPOINT GROUP TOPIC COUNT TIMEOUT_MS
'use strict';
const { PushConsumer, ConsumeResult } = require('rocketmq-client-nodejs');

async function main() {
  const [endpoints, consumerGroup, topic, count, timeout] = process.argv.slice(2);
  const t0 = Date.now();
  const seen = new Set();
  let done;
  const finished = new Promise(resolve => { done = resolve; });
  const consumer = new PushConsumer({
    endpoints, consumerGroup, requestTimeout: 5000,
    subscriptions: new Map([[ topic, '*' ]]),
    messageListener: {
      async consume(mv) {
        if (seen.size === 0) console.log(`first message after ${Date.now() - t0} ms`);
        seen.add(mv.body.toString('utf-8'));
        if (seen.size >= Number(count)) done();
        return ConsumeResult.SUCCESS;
      },
    },
  });
  await consumer.startup();
  console.log('started');
  const timer = setTimeout(() => done(), Number(timeout));
  await finished;
  clearTimeout(timer);
  console.log(`received ${seen.size} after ${Date.now() - t0} ms`);
  // shutdown() waits out in-flight long polls (up to 20 s): give the acks
  // a moment and leave.
  await Promise.race([ consumer.shutdown().catch(() => {}), new Promise(r => setTimeout(r, 1500)) ]);
  return seen.size >= Number(count);
}

main().then(ok => process.exit(ok ? 0 : 1), err => {
  console.error(err);
  process.exit(1);
});
