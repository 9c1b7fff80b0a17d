import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { imageRuleFor, imageSizeOfBase64, imageSizeOfBytes } from './image-tokens.ts';

const image = (name: string) => readFileSync(join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'images', name));

describe('image size from the header', () => {
  // Sizes as ImageMagick's identify reads them.
  it.each([
    ['a.png', 3001, 17],
    ['a.gif', 3001, 17],
    ['progressive.jpg', 3001, 17],
    ['baseline.jpg', 37, 2049],
    ['lossy.webp', 3001, 17],
    ['lossless.webp', 3001, 17],
    ['extended.webp', 3001, 17],
  ])('%s is %ix%i, from bytes, base64, base64url and a data: URL', (name, width, height) => {
    const bytes = image(name);
    expect(imageSizeOfBytes(bytes)).toEqual({ width, height });
    expect(imageSizeOfBase64(bytes.toString('base64'))).toEqual({ width, height });
    expect(imageSizeOfBase64(bytes.toString('base64url'))).toEqual({ width, height });
    expect(imageSizeOfBase64(`data:image/whatever;base64,${bytes.toString('base64')}`)).toEqual({ width, height });
  });

  it('is unknown for other data, a cut header or a data: URL that is not base64', () => {
    expect(imageSizeOfBytes(new TextEncoder().encode('%PDF-1.7 not an image'))).toBeUndefined();
    expect(imageSizeOfBytes(image('a.png').subarray(0, 12))).toBeUndefined();
    expect(imageSizeOfBytes(image('baseline.jpg').subarray(0, 40))).toBeUndefined();
    expect(imageSizeOfBase64('data:image/svg+xml,<svg width="10" height="10"/>')).toBeUndefined();
    expect(imageSizeOfBase64('not base64 at all!')).toBeUndefined();
  });
});

describe('image tokens by the providers rules', () => {
  const s = (width: number, height: number) => ({ width, height });
  it.each([
    // OpenAI's worked examples (https://platform.openai.com/docs/guides/images-vision#calculating-costs).
    ['openai', 'gpt-4o', s(1024, 1024), 'high', 765],
    ['openai', 'gpt-4o-2024-08-06', s(2048, 4096), 'high', 1105],
    ['openai', 'gpt-4o', s(4096, 8192), 'low', 85],
    ['azure_openai', 'gpt-4.1', undefined, undefined, 85 + 170 * 8],
    ['openai', 'gpt-4o-mini', s(1024, 1024), 'auto', 2833 + 5667 * 4],
    ['openai', 'o3', s(1024, 1024), 'high', 75 + 150 * 4],
    ['openai', 'gpt-5', s(1024, 1024), 'high', 70 + 140 * 4],
    ['openai', 'gpt-4.1-mini', s(1024, 1024), 'high', 1659],
    ['openai', 'gpt-4.1-mini', s(1800, 2400), 'low', 2489],
    ['openai', 'gpt-4.1-nano', undefined, undefined, Math.ceil(1536 * 2.46)],
    ['openai', 'o4-mini', s(1024, 1024), 'high', Math.ceil(1024 * 1.72)],
    // Anthropic (https://docs.anthropic.com/en/docs/build-with-claude/vision): its table's 1000x1000 ≈ 1334, 1092x1092 ≈ 1590.
    ['anthropic', 'claude-sonnet-4-5', s(1000, 1000), undefined, 1334],
    ['anthropic', 'claude-sonnet-4-5', s(1092, 1092), undefined, 1590],
    ['anthropic', 'claude-opus-4-1', s(4000, 3000), undefined, 1600],
    ['aws_bedrock', 'us.anthropic.claude-3-7-sonnet-20250219-v1:0', undefined, undefined, 1600],
    // Gemini (https://ai.google.dev/gemini-api/docs/tokens#multimodal-tokens).
    ['gemini', 'gemini-2.5-flash', s(384, 384), undefined, 258],
    ['gemini', 'gemini-2.5-flash', s(385, 100), undefined, 258],
    ['vertex_ai', 'gemini-2.0-flash', s(1024, 1024), undefined, 258 * 4],
    ['gemini', 'gemini-2.5-pro', undefined, undefined, 258 * 24],
    // Pixtral: 16px patches and a break token per row.
    ['mistral', 'pixtral-12b-2409', s(1024, 1024), undefined, 64 * 64 + 64],
    ['mistral', 'pixtral-large-latest', undefined, undefined, 97 * 97 + 97],
    // Unknown rules: the most of the others for the size.
    ['ollama', 'llava', s(1024, 1024), undefined, 64 * 64 + 64],
    ['aws_bedrock', 'amazon.nova-lite-v1:0', s(100, 100), undefined, 258],
  ] as const)('%s %s %o detail %s: %i', (provider, model, size, detail, tokens) => {
    expect(imageRuleFor(provider, model)(size, detail)).toBe(tokens);
  });
});
