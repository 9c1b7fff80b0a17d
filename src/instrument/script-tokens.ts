/**
 * Tokens per character by script, upper bounds for o200k_base measured by bench/estimate-rates.ts
 * over 200-, 2,000- and 20,000-character segments of Markdown, code, 17 languages' message catalogues,
 * random ids and emoji (the estimate is below the true count in 8 of 6,419 segments, by 4% at
 * most; it is about 2-2.5x the true count for English and code, 1.2-1.7x for Chinese, Japanese and
 * Korean): ASCII in words 0.5 (Markdown's p99 is 0.43); ASCII in a run of more than 16 characters
 * without a space 1 (ids, hashes, base64: random base64 is 0.73, an id whose digits and letters
 * alternate up to 0.95); other BMP letters (Cyrillic,
 * Greek, Arabic, Hebrew, Devanagari, Thai) 0.75; CJK ideographs, kana, Hangul and full-width forms
 * 1.1 (running text: Chinese 0.67, Japanese 0.67, Korean 0.80, traditional Chinese 0.90);
 * astral code points (emoji, rare ideographs, up to about 2.3) 3; and half a token where ASCII and
 * another script meet (neither side's token runs across).
 */
export const SCRIPT_RATES = { ascii: 0.5, asciiRun: 1, other: 0.75, wide: 1.1, astral: 3, boundary: 0.5 } as const;
/** A run of ASCII without whitespace longer than this is taken for an id, hash or blob (SCRIPT_RATES.asciiRun). */
const LONG_RUN = 16;

function isWide(c: number): boolean {
  return (
    (c >= 0x2e80 && c <= 0x9fff) || // CJK radicals, punctuation, kana, Bopomofo, Hangul compatibility, ideographs
    (c >= 0xac00 && c <= 0xd7af) || // Hangul syllables
    (c >= 0x1100 && c <= 0x11ff) || // Hangul jamo
    (c >= 0xf900 && c <= 0xfaff) || // CJK compatibility ideographs
    (c >= 0xff00 && c <= 0xffef) // half- and full-width forms
  );
}

/** Counts of a text's characters by class, for SCRIPT_RATES. */
function scan(text: string, from: number, to: number): number {
  // Integer counts in the loop (a few ns a character), rates applied once at the end.
  let words = 0;
  let runs = 0;
  let spaces = 0;
  let other = 0;
  let wide = 0;
  let astral = 0;
  let boundaries = 0;
  let run = 0;
  let ascii = true;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      if (!ascii) {
        ascii = true;
        boundaries++;
      }
      if (c > 32) run++;
      else {
        if (run > LONG_RUN) runs += run;
        else words += run;
        run = 0;
        spaces++;
      }
      continue;
    }
    if (ascii) {
      ascii = false;
      boundaries++;
    }
    if (isWide(c)) wide++;
    else if (c >= 0xd800 && c <= 0xdbff) {
      astral++;
      i++;
    } else other++;
  }
  if (run > LONG_RUN) runs += run;
  else words += run;
  const r = SCRIPT_RATES;
  // Whitespace mostly joins the next word's token; a quarter token each covers runs of it.
  return (
    words * r.ascii + runs * r.asciiRun + spaces * 0.25 + other * r.other + wide * r.wide + astral * r.astral + boundaries * r.boundary
  );
}

/** Texts longer than this are estimated from SAMPLES windows of WINDOW characters spread over them. */
const SAMPLE_ABOVE = 8192;
const SAMPLES = 32;
const WINDOW = 128;

/**
 * A conservative token count of `text` by script (see SCRIPT_RATES), a few ns a character; a text
 * of more than 8,192 characters from 32 windows of 128 spread over it (4,096 characters read,
 * scaled to its length), so that a long document costs the caller no more than a short one
 * (bench/budgets.ts `enforce-estimate-*`). A window's cut words count a little more than whole
 * ones; a document mixing scripts in unequal stretches is estimated by the mix its windows see.
 */
export function scriptTokens(text: string): number {
  const n = text.length;
  if (n <= SAMPLE_ABOVE) return scan(text, 0, n);
  const step = Math.floor(n / SAMPLES);
  let tokens = 0;
  for (let k = 0; k < SAMPLES; k++) tokens += scan(text, k * step, k * step + WINDOW);
  return (tokens * n) / (SAMPLES * WINDOW);
}
