import { describe, expect, it } from 'vitest';
import { geminiConverter, geminiShapedConverter } from './gemini.ts';

const vertex = geminiShapedConverter('vertex_ai');
const request = { model: 'text-embedding-005', contents: ['a', 'b'] };

describe('Vertex AI predict-style embeddings', () => {
  it('sums the per-instance token counts of the wire body (token_count)', () => {
    const body = {
      predictions: [
        { embeddings: { values: [0.1], statistics: { truncated: false, token_count: 8 } } },
        { embeddings: { values: [0.2], statistics: { truncated: false, token_count: 7 } } },
      ],
      metadata: { billableCharacterCount: 51 },
    };
    expect(vertex.fromResponse(body, request)).toMatchObject({ serviceType: 'embedding', inputTokens: 15, usageSource: 'reported' });
  });

  it('sums them as @google/genai returns them (embeddings[].statistics.tokenCount)', () => {
    const body = {
      embeddings: [
        { values: [0.1], statistics: { truncated: false, tokenCount: 8 } },
        { values: [0.2], statistics: { truncated: false, tokenCount: 7 } },
      ],
      metadata: { billableCharacterCount: 51 },
    };
    expect(vertex.fromResponse(body, request)).toMatchObject({ serviceType: 'embedding', inputTokens: 15, usageSource: 'reported' });
  });

  it('leaves them unknown without statistics (the Gemini API), and notes a count of the wrong type', () => {
    const none = vertex.fromResponse({ embeddings: [{ values: [0.1] }] }, request);
    expect(none).toMatchObject({ usageSource: 'missing' });
    expect(none).not.toHaveProperty('inputTokens');
    const bad = vertex.fromResponse({ embeddings: [{ values: [0.1], statistics: { tokenCount: 'eight' } }] }, request);
    expect(bad).toMatchObject({ usageSource: 'missing', unread: ['embeddings.statistics.tokenCount'] });
  });
});

describe('Gemini audio counts', () => {
  const body = (usageMetadata: unknown) => ({ candidates: [{ finishReason: 'STOP' }], usageMetadata, modelVersion: 'gemini-2.5-flash' });

  it('reads the snake_case details of some Vertex surfaces (token_count)', () => {
    const meta = {
      prompt_token_count: 1000,
      candidates_token_count: 400,
      cached_content_token_count: 600,
      prompt_tokens_details: [
        { modality: 'TEXT', token_count: 100 },
        { modality: 'AUDIO', token_count: 900 },
      ],
      cache_tokens_details: [{ modality: 'AUDIO', token_count: 600 }],
      candidates_tokens_details: [
        { modality: 'TEXT', token_count: 40 },
        { modality: 'AUDIO', token_count: 360 },
      ],
    };
    expect(vertex.fromResponse(body(meta))).toMatchObject({
      inputTokens: 1000,
      inputAudioTokens: 900,
      cachedAudioTokens: 600,
      outputTokens: 400,
      outputAudioTokens: 360,
    });
  });

  it('counts the audio of tool-use prompts as input audio, as their tokens are input', () => {
    const meta = {
      promptTokenCount: 50,
      toolUsePromptTokenCount: 320,
      candidatesTokenCount: 10,
      promptTokensDetails: [{ modality: 'TEXT', tokenCount: 50 }],
      toolUsePromptTokensDetails: [
        { modality: 'TEXT', tokenCount: 0 },
        { modality: 'AUDIO', tokenCount: 320 },
      ],
    };
    expect(geminiConverter.fromResponse(body(meta))).toMatchObject({ inputTokens: 370, inputAudioTokens: 320 });
  });

  it('reads the images an image model generated, within the output beside its audio', () => {
    const meta = {
      prompt_token_count: 14,
      candidates_token_count: 1308,
      candidates_tokens_details: [
        { modality: 'TEXT', token_count: 18 },
        { modality: 'IMAGE', token_count: 1290 },
      ],
    };
    expect(vertex.fromResponse(body(meta))).toMatchObject({ outputTokens: 1308, outputImageTokens: 1290 });
    expect(vertex.fromResponse(body(meta))).not.toHaveProperty('outputAudioTokens');
    // Counts that overlap (odd data): the images get what the audio leaves of the output.
    const odd = {
      promptTokenCount: 1,
      candidatesTokenCount: 100,
      candidatesTokensDetails: [
        { modality: 'AUDIO', tokenCount: 80 },
        { modality: 'IMAGE', tokenCount: 80 },
      ],
    };
    expect(geminiConverter.fromResponse(body(odd))).toMatchObject({ outputAudioTokens: 80, outputImageTokens: 20 });
  });

  it('leaves audio unknown without an AUDIO entry, and names odd details', () => {
    const text = geminiConverter.fromResponse(body({ promptTokenCount: 10, promptTokensDetails: [{ modality: 'TEXT', tokenCount: 10 }] }));
    expect(text).not.toHaveProperty('inputAudioTokens');
    expect(text).not.toHaveProperty('outputAudioTokens');
    const odd = geminiConverter.fromResponse(
      body({ promptTokenCount: 10, promptTokensDetails: [{ modality: 'AUDIO', tokenCount: 'x' }], candidatesTokensDetails: 'AUDIO' }),
    );
    expect(odd.unread).toEqual(['promptTokensDetails.tokenCount', 'candidatesTokensDetails']);
  });
});
