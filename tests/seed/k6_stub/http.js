// 'k6/http': http.request, made synchronous as k6's is by sending each request from a child
// node process (fetch_one.mjs); redirects are not followed (the seeded script sets
// maxRedirects 0) and cookies go through one jar, as in k6.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { jar, record } from './state.js';

const FETCH = fileURLToPath(new URL('./fetch_one.mjs', import.meta.url));

// Go's canonical header names, as k6 gives them: content-type → Content-Type.
function canonical(name) {
  return name
    .split('-')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1).toLowerCase())
    .join('-');
}

function request(method, url, body, params) {
  const headers = { ...((params && params.headers) || {}) };
  if (jar.size > 0) {
    headers.Cookie = [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
  }
  if (body !== null && body !== undefined && typeof body !== 'string') {
    throw new Error('the stub sends string bodies only, got ' + typeof body);
  }
  const sent = { method, url, headers, body: body ?? null };
  const answer = JSON.parse(execFileSync(process.execPath, [FETCH], { input: JSON.stringify(sent) }));
  record.requests.push({ method, url, tags: params && params.tags });
  const found = {};
  const cookies = {};
  for (const [name, value] of answer.headers) {
    const key = canonical(name);
    found[key] = key in found ? `${found[key]}, ${value}` : value;
    if (key === 'Set-Cookie') {
      const [pair] = value.split(';');
      const at = pair.indexOf('=');
      const cookie = { name: pair.slice(0, at).trim(), value: pair.slice(at + 1).trim() };
      jar.set(cookie.name, cookie.value);
      (cookies[cookie.name] = cookies[cookie.name] || []).push(cookie);
    }
  }
  return {
    status: answer.status,
    url,
    body: answer.body,
    error: answer.error || '',
    headers: found,
    cookies,
    json() {
      return JSON.parse(this.body);
    },
  };
}

export default { request };
