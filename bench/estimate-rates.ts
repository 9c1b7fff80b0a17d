/**
 * `node bench/estimate-rates.ts`: how the hold's script estimate (src/instrument/hold-estimate.ts)
 * compares with o200k_base's true count over samples of text: Markdown and code from
 * node_modules, the translations of /usr/share/locale in 17 languages (Debian's message
 * catalogues, read with msgunfmt where installed), random base64, hex and UUIDs, and emoji.
 * Prints JSON: per sample set and size, how many segments the estimate was below the true count,
 * the worst true/estimate ratio, and the mean estimate/true (how far the hold over-reserves).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Tiktoken } from 'js-tiktoken/lite';
import o200k from 'js-tiktoken/ranks/o200k_base';
import { scriptTokens } from '../src/instrument/script-tokens.ts';

const enc = new Tiktoken(o200k);
// Pieces of 512 characters: js-tiktoken is quadratic in a run without spaces (CJK text).
const count = (s: string) => {
  let n = 0;
  for (let i = 0; i < s.length; i += 512) n += enc.encode(s.slice(i, i + 512), [], []).length;
  return n;
};

function files(dir: string, re: RegExp, out: string[], max: number): string[] {
  for (const f of readdirSync(dir)) {
    if (out.length >= max) break;
    const p = join(dir, f);
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) files(p, re, out, max);
    else if (re.test(f) && st.size > 4000 && st.size < 200_000) out.push(p);
  }
  return out;
}

function catalogue(lang: string): string {
  const dir = `/usr/share/locale/${lang}/LC_MESSAGES`;
  if (!existsSync(dir)) return '';
  let text = '';
  for (const f of readdirSync(dir)) {
    try {
      const po = execFileSync('msgunfmt', [join(dir, f)], { encoding: 'utf8', maxBuffer: 64 << 20 });
      for (const m of po.matchAll(/^msgstr(?:\[\d\])? "(.*)"$/gm)) text += `${m[1]}\n`;
    } catch {
      // msgunfmt missing or a catalogue it cannot read.
    }
    if (text.length > 400_000) break;
  }
  return text;
}

const root = join(import.meta.dirname, '..', 'node_modules');
const sets: Record<string, string> = {
  markdown: files(root, /\.md$/i, [], 300)
    .map((p) => readFileSync(p, 'utf8').slice(0, 6000))
    .join('\n'),
  code: files(root, /\.(js|ts|json)$/, [], 300)
    .map((p) => readFileSync(p, 'utf8').slice(0, 6000))
    .join('\n'),
  base64: Array.from({ length: 200 }, () => randomBytes(300).toString('base64')).join(' '),
  hex: Array.from({ length: 200 }, () => randomBytes(300).toString('hex')).join(' '),
  uuid: Array.from({ length: 2000 }, () => randomUUID()).join(', '),
  emoji: Array.from({ length: 3000 }, (_, i) => String.fromCodePoint(0x1f300 + ((i * 37) % 0x300))).join(''),
};
for (const lang of ['zh_CN', 'zh_TW', 'ja', 'ko', 'ru', 'uk', 'ar', 'hi', 'th', 'el', 'he', 'vi', 'de', 'fr', 'es', 'pl', 'tr']) {
  const text = catalogue(lang);
  if (text !== '') sets[lang] = text;
}

const results = [];
for (const size of [200, 2000, 20_000]) {
  for (const [name, text] of Object.entries(sets)) {
    let below = 0;
    let worst = 0;
    let over = 0;
    let n = 0;
    for (let i = 0; i + size <= text.length && n < (size > 5000 ? 20 : 150); i += size, n++) {
      const s = text.slice(i, i + size);
      const t = count(s);
      const e = scriptTokens(s);
      if (e < t) below++;
      worst = Math.max(worst, t / e);
      over += e / t;
    }
    if (n > 0)
      results.push({
        set: name,
        chars: size,
        segments: n,
        below,
        worstTrueOverEstimate: +worst.toFixed(3),
        meanEstimateOverTrue: +(over / n).toFixed(2),
      });
  }
}
process.stdout.write(`${JSON.stringify({ node: process.version, results }, null, 2)}\n`);
