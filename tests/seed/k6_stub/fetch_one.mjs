// One HTTP request, described as JSON on stdin; its answer as JSON on stdout (status 0 and an
// error when it could not be sent, as k6 reports it).
import http from 'node:http';

let input = '';
process.stdin.on('data', (chunk) => (input += chunk));
process.stdin.on('end', () => {
  const sent = JSON.parse(input);
  if (sent.body !== null) {
    sent.headers['Content-Length'] = String(Buffer.byteLength(sent.body)); // as k6 sends it
  }
  const request = http.request(sent.url, { method: sent.method, headers: sent.headers }, (res) => {
    const chunks = [];
    res.on('data', (chunk) => chunks.push(chunk));
    res.on('end', () => {
      const headers = [];
      for (let i = 0; i < res.rawHeaders.length; i += 2) {
        headers.push([res.rawHeaders[i], res.rawHeaders[i + 1]]);
      }
      const body = Buffer.concat(chunks).toString('utf8');
      process.stdout.write(JSON.stringify({ status: res.statusCode, headers, body }));
    });
  });
  request.on('error', (error) => {
    process.stdout.write(JSON.stringify({ status: 0, headers: [], body: null, error: String(error) }));
  });
  if (sent.body !== null) {
    request.write(sent.body);
  }
  request.end();
});
