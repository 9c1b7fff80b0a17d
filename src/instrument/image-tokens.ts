import { modelFamily } from '../providers/registry.ts';
/**
 * Tokens an image in a request costs, by the providers' published rules, for the hold an enforced
 * budget takes before a call: the image's size is read from the first bytes of its inline data
 * (PNG, JPEG, GIF, WebP headers; no image library), and an image whose size cannot be read (a URL,
 * a file id, another format) is taken at the most its rule allows.
 */

/** An image's size in pixels. */
export interface ImageSize {
  width: number;
  height: number;
}

/** Bytes read on demand: a Uint8Array, or base64 text decoded four characters at a time. */
interface Bytes {
  /** The byte at `i`, or -1 past the end. */
  at(i: number): number;
}

const B64 = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i;
// base64url too.
B64[45] = 62;
B64[95] = 63;

function fromArray(a: Uint8Array): Bytes {
  return { at: (i) => (i < a.length ? (a[i] as number) : -1) };
}

/** Only the groups of four characters that hold the bytes asked for are decoded. */
function fromBase64(s: string, start: number): Bytes {
  return {
    at(i) {
      const g = start + Math.floor(i / 3) * 4;
      if (g + 1 >= s.length) return -1;
      const v = (k: number) => {
        const c = s.charCodeAt(g + k);
        return c < 128 ? (B64[c] as number) : -1;
      };
      const a = v(0);
      const b = v(1);
      if (a < 0 || b < 0) return -1;
      const r = i % 3;
      if (r === 0) return ((a << 2) | (b >> 4)) & 255;
      const c = v(2);
      if (c < 0) return -1;
      if (r === 1) return ((b << 4) | (c >> 2)) & 255;
      const d = v(3);
      return d < 0 ? -1 : ((c << 6) | d) & 255;
    },
  };
}

const u16be = (b: Bytes, i: number) => (b.at(i) << 8) | b.at(i + 1);
const u16le = (b: Bytes, i: number) => b.at(i) | (b.at(i + 1) << 8);
const u24le = (b: Bytes, i: number) => b.at(i) | (b.at(i + 1) << 8) | (b.at(i + 2) << 16);
const u32be = (b: Bytes, i: number) => b.at(i) * 0x1000000 + ((b.at(i + 1) << 16) | (b.at(i + 2) << 8) | b.at(i + 3));
const tag = (b: Bytes, i: number, s: string) => [...s].every((c, k) => b.at(i + k) === c.charCodeAt(0));

/** Header walks for JPEG stop after this many segments (EXIF, ICC profiles and thumbnails come before the frame). */
const MAX_SEGMENTS = 64;

function jpegSize(b: Bytes): ImageSize | undefined {
  let i = 2;
  for (let n = 0; n < MAX_SEGMENTS; n++) {
    if (b.at(i) !== 0xff) return undefined;
    let m = b.at(i + 1);
    // Fill bytes before a marker.
    while (m === 0xff) m = b.at(++i + 1);
    if (m < 0) return undefined;
    // SOF0-SOF15 carry the frame's size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but are not frames.
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      const height = u16be(b, i + 5);
      const width = u16be(b, i + 7);
      return width > 0 && height > 0 ? { width, height } : undefined;
    }
    if (m === 0xda || m === 0xd9) return undefined;
    // Markers without a length: TEM and RST0-7.
    if (m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
      i += 2;
      continue;
    }
    const len = u16be(b, i + 2);
    if (len < 2) return undefined;
    i += 2 + len;
  }
  return undefined;
}

function sizeOf(b: Bytes): ImageSize | undefined {
  let size: ImageSize | undefined;
  // PNG: the signature, then IHDR's width and height (https://www.w3.org/TR/png/#11IHDR).
  if (b.at(0) === 0x89 && tag(b, 1, 'PNG')) size = { width: u32be(b, 16), height: u32be(b, 20) };
  // GIF87a/89a: the logical screen's size.
  else if (tag(b, 0, 'GIF8')) size = { width: u16le(b, 6), height: u16le(b, 8) };
  else if (b.at(0) === 0xff && b.at(1) === 0xd8) return jpegSize(b);
  // WebP (https://developers.google.com/speed/webp/docs/riff_container): lossy, lossless or extended.
  else if (tag(b, 0, 'RIFF') && tag(b, 8, 'WEBP')) {
    if (tag(b, 12, 'VP8 ')) size = { width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff };
    else if (tag(b, 12, 'VP8L')) {
      const [b1, b2, b3, b4] = [b.at(22), b.at(23), b.at(24), b.at(21)];
      size = { width: 1 + (((b1 & 0x3f) << 8) | b4), height: 1 + (((b3 & 0xf) << 10) | (b2 << 2) | ((b1 & 0xc0) >> 6)) };
    } else if (tag(b, 12, 'VP8X')) size = { width: 1 + u24le(b, 24), height: 1 + u24le(b, 27) };
  }
  return size !== undefined && size.width > 0 && size.height > 0 ? size : undefined;
}

/** The size of a PNG, JPEG, GIF or WebP image from its bytes; undefined for anything else. */
export function imageSizeOfBytes(bytes: Uint8Array): ImageSize | undefined {
  return sizeOf(fromArray(bytes));
}

/**
 * The size of an image given as base64 (or base64url), or as a `data:` URL; undefined when it is
 * neither or not a PNG, JPEG, GIF or WebP. Only the header's bytes are decoded.
 */
export function imageSizeOfBase64(data: string): ImageSize | undefined {
  let start = 0;
  if (data.startsWith('data:')) {
    const comma = data.indexOf(',', 5);
    if (comma < 0 || !data.slice(0, comma).endsWith(';base64')) return undefined;
    start = comma + 1;
  }
  return sizeOf(fromBase64(data, start));
}

/** The token rule of a model's images: its tokens for a size (undefined: unknown, the most the rule allows) and detail. */
export type ImageRule = (size: ImageSize | undefined, detail: string | undefined) => number;

/**
 * OpenAI's tile rule (https://platform.openai.com/docs/guides/images-vision#calculating-costs):
 * `detail: low` costs the base; otherwise the image is scaled to fit 2048x2048, then its shortest
 * side to 768, and each 512px tile costs `tile` more. The most: 2048x768, 8 tiles.
 */
function openaiTiles(base: number, tile: number): ImageRule {
  return (size, detail) => {
    if (detail === 'low') return base;
    let { width: w, height: h } = size ?? { width: 2048, height: 768 };
    const fit = Math.min(1, 2048 / Math.max(w, h));
    w *= fit;
    h *= fit;
    const short = Math.min(1, 768 / Math.min(w, h));
    w *= short;
    h *= short;
    return base + tile * Math.ceil(w / 512) * Math.ceil(h / 512);
  };
}

/**
 * OpenAI's patch rule for gpt-4.1-mini, gpt-4.1-nano, o4-mini (and the gpt-5 mini and nano
 * models): one token per 32px patch, at most 1536 (a larger image is scaled down to fit), times
 * the model's multiplier (same page as above). Detail does not change it.
 */
function openaiPatches(multiplier: number): ImageRule {
  return (size) => {
    const patches = size === undefined ? 1536 : Math.min(1536, Math.ceil(size.width / 32) * Math.ceil(size.height / 32));
    return Math.ceil(patches * multiplier);
  };
}

/**
 * Anthropic (https://docs.anthropic.com/en/docs/build-with-claude/vision#calculate-image-costs):
 * width x height / 750, after the image is scaled to fit 1568px on its long edge (and about 1.15
 * megapixels), so about 1,600 tokens at most.
 */
export const ANTHROPIC_MAX_IMAGE_TOKENS = 1600;
const anthropic: ImageRule = (size) => {
  if (size === undefined) return ANTHROPIC_MAX_IMAGE_TOKENS;
  const fit = Math.min(1, 1568 / Math.max(size.width, size.height));
  return Math.min(ANTHROPIC_MAX_IMAGE_TOKENS, Math.ceil((size.width * fit * size.height * fit) / 750));
};

/**
 * Gemini (https://ai.google.dev/gemini-api/docs/tokens#multimodal-tokens): 258 tokens for an image
 * of at most 384px both ways, else 258 per 768x768 tile it is cut into. The rule sets no largest
 * size: an image of unknown size is taken as a 12-megapixel photo (4032x3024, 24 tiles).
 */
const gemini: ImageRule = (size) => {
  const { width, height } = size ?? { width: 4032, height: 3024 };
  if (width <= 384 && height <= 384) return 258;
  return 258 * Math.ceil(width / 768) * Math.ceil(height / 768);
};

/**
 * Mistral's Pixtral encoders (https://mistralai.github.io/mistral-common/usage/images): one token
 * per 16px patch plus one image-break token per row, the image scaled to fit its `max_image_size`
 * (1024 for Pixtral 12B, 1540 for Pixtral Large; the larger is taken).
 */
const mistral: ImageRule = (size) => {
  const { width, height } = size ?? { width: 1540, height: 1540 };
  const fit = Math.min(1, 1540 / Math.max(width, height));
  const rows = Math.ceil((height * fit) / 16);
  return Math.ceil((width * fit) / 16) * rows + rows;
};

/** Models of unknown rules (Ollama's, Bedrock's Llama and Nova, Cohere's): the most any rule above gives for the size. */
const anyRule: ImageRule = (size, detail) =>
  Math.max(anthropic(size, detail), openaiTiles(85, 170)(size, detail), gemini(size, detail), mistral(size, detail));

/** OpenAI models by name, first match wins (same page as above). */
const OPENAI_RULES: [RegExp, ImageRule][] = [
  [/^(gpt-4\.1-mini|gpt-5(\.\d+)?-mini)/, openaiPatches(1.62)],
  [/^(gpt-4\.1-nano|gpt-5(\.\d+)?-nano)/, openaiPatches(2.46)],
  [/^o4-mini/, openaiPatches(1.72)],
  [/^gpt-4o-mini/, openaiTiles(2833, 5667)],
  [/^(o1|o3)(?!-mini)/, openaiTiles(75, 150)],
  [/^gpt-5/, openaiTiles(70, 140)],
  [/^computer-use/, openaiTiles(65, 129)],
];

/** The image rule of a provider's model. */
export function imageRuleFor(provider: string, model: string): ImageRule {
  const m = model.toLowerCase().replace(/^.*\//, '');
  const family = modelFamily(provider);
  if (family === 'anthropic' || /(^|\.)anthropic\.|claude/.test(m)) return anthropic;
  if (family === 'gemini' || /^gemini/.test(m)) return gemini;
  if (family === 'mistral' || /pixtral|mistral/.test(m)) return mistral;
  if (family === 'openai' || /^(gpt-|o\d|chatgpt|computer-use)/.test(m)) {
    for (const [re, rule] of OPENAI_RULES) if (re.test(m)) return rule;
    return openaiTiles(85, 170);
  }
  return anyRule;
}
