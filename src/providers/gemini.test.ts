import { describe, expect, it } from 'vitest';
import { geminiShapedConverter } from './gemini.ts';

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
