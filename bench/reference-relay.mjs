#!/usr/bin/env node
// Calibration for `npm run bench -- --reference`: two plain Node.js TCP relays in two processes (socket.pipe;
// no WebSocket, no parsing, no recording), shaped like agent → gateway → PostgreSQL. They show what this machine
// allows a two-hop Node.js proxy before any of hoop's work.
//   node bench/reference-relay.mjs <listenPort> <targetPort>     one relay, until killed
import { createConnection, createServer } from 'node:net';

const [listenPort, targetPort] = process.argv.slice(2).map(Number);
if (!listenPort || !targetPort) {
  process.stderr.write('usage: node bench/reference-relay.mjs <listen port> <target port>\n');
  process.exit(2);
}
createServer({ noDelay: true }, (client) => {
  const up = createConnection({ host: '127.0.0.1', port: targetPort, noDelay: true });
  client.pipe(up).pipe(client);
  const end = () => {
    client.destroy();
    up.destroy();
  };
  client.on('error', end).on('close', end);
  up.on('error', end).on('close', end);
}).listen(listenPort, '127.0.0.1');
