// The decision document `apply` returns, read into an object. The next state is cut out of the
// document as the engine wrote it, byte for byte, so a host stores exactly what the engine made
// (re-serialising a parsed state could reorder keys or round a large number).

/**
 * `{"applied":{"next":<state>,"effects":[…]}}` or `{"ignored":<reason>}` as
 * `{ applied, next, effects, ignored, document }`.
 */
export function readDecision(document) {
  const parsed = JSON.parse(document);
  if (parsed.applied !== undefined) {
    const next = rawMember(rawMember(document, 'applied'), 'next');
    return { applied: true, next, effects: parsed.applied.effects ?? [], ignored: null, document };
  }
  return { applied: false, next: null, effects: [], ignored: parsed.ignored ?? null, document };
}

/** The raw text of member `key` of the JSON object `text` (which must be valid JSON). */
export function rawMember(text, key) {
  let i = skipSpace(text, 0);
  if (text[i] !== '{') throw new SyntaxError('the decision document is not a JSON object');
  i = skipSpace(text, i + 1);
  while (text[i] === '"') {
    const keyEnd = skipString(text, i);
    const name = JSON.parse(text.slice(i, keyEnd));
    i = skipSpace(text, keyEnd);
    i = skipSpace(text, i + 1); // the ':'
    const valueEnd = skipValue(text, i);
    if (name === key) return text.slice(i, valueEnd);
    i = skipSpace(text, valueEnd);
    if (text[i] === ',') i = skipSpace(text, i + 1);
  }
  return null;
}

function skipSpace(text, i) {
  while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  return i;
}

function skipString(text, i) {
  for (i += 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i + 1;
  }
  return i;
}

function skipValue(text, i) {
  if (text[i] === '"') return skipString(text, i);
  if (text[i] === '{' || text[i] === '[') {
    let depth = 0;
    while (i < text.length) {
      const c = text[i];
      if (c === '"') {
        i = skipString(text, i);
        continue;
      }
      if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return i;
  }
  while (i < text.length && !',}] \t\n\r'.includes(text[i])) i++;
  return i;
}
