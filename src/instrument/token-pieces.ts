/**
 * Longest text js-tiktoken is given at once. It is quadratic in the length of a run without spaces
 * (CJK text, minified JSON, base64): a piece of 65,536 such characters took over a second and a
 * half, one of 2,048 at most about 50 ms (bench/budgets.ts, enforce-tiktoken-*). Pieces of text
 * with spaces add up exactly (see `pieces`); text without may count a token more a cut.
 */
export const PIECE = 2048;

function isSpace(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13) || code === 0xa0 || code === 0x3000 || (code >= 0x2000 && code <= 0x200a);
}

/**
 * Cuts a long text into pieces of at most `size` characters, each cut just before a single space
 * between two non-space characters: tiktoken's pre-tokenizer splits there too (a word takes the
 * space before it), so the pieces' counts add up to the whole text's count.
 */
export function* pieces(text: string, size = PIECE): Generator<string> {
  let start = 0;
  while (text.length - start > size) {
    const min = start + (size >> 1);
    let cut = start + size;
    while (cut > min && !(text.charCodeAt(cut) === 32 && !isSpace(text.charCodeAt(cut - 1)) && !isSpace(text.charCodeAt(cut + 1)))) cut--;
    if (cut === min) {
      // No such space (code, CJK text, base64): cut anywhere, not inside a surrogate pair.
      cut = start + size;
      const c = text.charCodeAt(cut - 1);
      if (c >= 0xd800 && c <= 0xdbff) cut--;
    }
    yield text.slice(start, cut);
    start = cut;
  }
  yield start === 0 ? text : text.slice(start);
}
