// Sends COUNT messages "PREFIX-i" to TOPIC through the proxy at ENDPOINT
// with the RocketMQ Node.js 5.x client, then prints "sent N".
// Usage: node producer.js ENDPOINT TOPIC COUNT PREFIX
'use strict';
const { Producer } = require('rocketmq-client-nodejs');

async function main() {
  const [endpoints, topic, count, prefix] = process.argv.slice(2);
  const producer = new Producer({ endpoints, topics: [ topic ], requestTimeout: 5000 });
  await producer.startup();
  let n = 0;
  for (let i = 0; i < Number(count); i++) {
    const r = await producer.send({ topic, tag: 'node', keys: [ `k-${i}` ], body: Buffer.from(`${prefix}-${i}`) });
    if (!r.messageId) throw new Error('no message id in receipt');
    n++;
  }
  console.log(`sent ${n}`);
  await producer.shutdown();
}

main().then(() => process.exit(0), err => {
  console.error(err);
  process.exit(1);
});
