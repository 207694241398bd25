// receiver.mjs: a webhook receiver for the vsr tests. It verifies each
// delivery with the official `standardwebhooks` package and prints one JSON
// line per request on stdout; the first line is {"port": N}.
//   node receiver.mjs SECRET [FAIL_FIRST]
// The first FAIL_FIRST requests (default 1) are answered 500 with
// "Retry-After: 1", so the sender's retry is exercised; later ones 200 when
// the signature verifies and 400 when it does not. Requests to /gone are
// answered 410 and to /slow after 5 s; neither counts as a request.
import http from 'node:http';
import { Webhook } from 'standardwebhooks';

const secret = process.argv[2];
const failFirst = Number(process.argv[3] ?? 1);
const webhook = new Webhook(secret);
let count = 0;

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    if (req.url === '/gone') {
      res.writeHead(410);
      res.end();
      return;
    }
    if (req.url === '/slow') {
      setTimeout(() => { res.writeHead(200); res.end(); }, 5000).unref();
      return;
    }
    count += 1;
    const entry = {
      n: count,
      t: Date.now(),
      id: req.headers['webhook-id'] ?? null,
      verified: false,
    };
    if (count <= failFirst) {
      entry.answered = 500;
      res.writeHead(500, { 'Retry-After': '1' });
      res.end('not now');
    } else {
      try {
        const payload = webhook.verify(body, req.headers);
        entry.verified = true;
        entry.type = payload.type;
        entry.job = payload.data?.id ?? null;
        entry.answered = 200;
        res.writeHead(200);
      } catch (err) {
        entry.error = String(err);
        entry.answered = 400;
        res.writeHead(400);
      }
      res.end();
    }
    process.stdout.write(JSON.stringify(entry) + '\n');
  });
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
