// What the stand-ins saw while a script ran, read by run.mjs at the end.
export const record = { requests: [], checks: [], groups: [], sleeps: [] };
// One virtual user's cookie jar, emptied before each iteration as k6 does.
export const jar = new Map();
