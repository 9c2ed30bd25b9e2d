// 'k6/html': parseHTML(text).find(tag).toArray()[i].attr(name), for the start tags of a page the
// tests serve (k6 itself uses a full HTML parser).
const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" };
const ATTRIBUTE = /([^\s"'=<>\/]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;

function unescaped(text) {
  return text.replace(/&(amp|lt|gt|quot|#39);/g, (_, name) => ENTITIES[name]);
}

function element(attributes) {
  return {
    attr(name) {
      return attributes.has(name) ? attributes.get(name) : undefined;
    },
  };
}

export function parseHTML(text) {
  return {
    find(tag) {
      const found = [];
      const pattern = new RegExp(`<${tag}(\\s[^>]*)?>`, 'gi');
      for (const match of String(text).matchAll(pattern)) {
        const attributes = new Map();
        for (const a of (match[1] || '').matchAll(ATTRIBUTE)) {
          const name = a[1].toLowerCase();
          if (!attributes.has(name)) {
            attributes.set(name, unescaped(a[2] ?? a[3] ?? a[4] ?? ''));
          }
        }
        found.push(element(attributes));
      }
      return { toArray: () => found };
    },
  };
}
