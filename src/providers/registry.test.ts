import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lookupGenaiPrice } from '../pricing/genai-prices.ts';
import { SERVICE_TYPES } from '../usage.ts';
import { extractUsage } from './index.ts';
import {
  PROVIDER_IDS,
  PROVIDER_REGISTRY,
  providerEntry,
  providerFromAiSdk,
  providerFromLangChain,
  providerFromLangChainEmbeddings,
  providerOfClient,
  type SdkKind,
} from './registry.ts';

// The provider ids the architecture names (label values, ledger values, config keys).
const ARCHITECTURE_IDS = [
  'openai',
  'azure_openai',
  'anthropic',
  'gemini',
  'vertex_ai',
  'groq',
  'mistral',
  'cohere',
  'voyage',
  'aws_bedrock',
  'ollama',
];

// A model each provider serves, by the name its calls record, and the genai-prices model it prices as.
const KNOWN_MODEL: Record<string, [string, string]> = {
  openai: ['gpt-4o', 'gpt-4o'],
  azure_openai: ['gpt-4o', 'gpt-4o'],
  anthropic: ['claude-sonnet-4-5-20250929', 'claude-sonnet-4-5'],
  gemini: ['gemini-2.5-flash', 'gemini-2.5-flash'],
  vertex_ai: ['gemini-2.5-flash', 'gemini-2.5-flash'],
  groq: ['llama-3.3-70b-versatile', 'llama-3.3-70b-versatile'],
  mistral: ['mistral-large-latest', 'mistral-large'],
  cohere: ['command-r-plus', 'command-r-plus'],
  voyage: ['voyage-3.5', 'voyage-3.5'],
  aws_bedrock: [
    'arn:aws:bedrock:us-east-1:123:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0',
    'regional.anthropic.claude-3-7-sonnet-20250219-v1:0',
  ],
};

describe('the provider registry', () => {
  it('has one entry for each provider id the architecture names, and no other', () => {
    expect([...PROVIDER_IDS].sort()).toEqual([...ARCHITECTURE_IDS].sort());
    expect(new Set(PROVIDER_IDS).size).toBe(PROVIDER_IDS.length);
  });

  it.each(PROVIDER_REGISTRY.map((p) => [p.id, p] as const))('fills every part of %s', (id, p) => {
    expect(p.displayName).not.toBe('');
    expect(p.serviceTypes.length).toBeGreaterThan(0);
    for (const t of p.serviceTypes) expect(SERVICE_TYPES).toContain(t);
    expect(p.semconvName).toMatch(/^[a-z_.]+$/);
    expect(p.clients.length, 'instrument() recognises a client of it').toBeGreaterThan(0);
    expect(p.aiSdkPrefixes.length).toBeGreaterThan(0);
    expect(p.langchain.lsProviders.length + (p.langchain.embeddingsClass === undefined ? 0 : 1)).toBeGreaterThan(0);
    expect(p.pricing.genaiPrices !== undefined || p.pricing.local === true, 'priced from genai-prices, or local').toBe(true);
    // The converter names the provider itself, so a usage read outside extractUsage is labelled right.
    expect(p.converter.fromResponse({}, {}).provider).toBe(id);
    expect(p.converter.fromStream([], {}).provider).toBe(id);
  });

  it.each(PROVIDER_REGISTRY.filter((p) => p.pricing.genaiPrices !== undefined).map((p) => [p.id, p.pricing.genaiPrices] as const))(
    "finds %s's models in the bundled genai-prices data under its id %s",
    (id, genaiId) => {
      const [model, priced] = KNOWN_MODEL[id] ?? ['', ''];
      const price = lookupGenaiPrice(id, model);
      expect(price, `${id} ${model}`).toBeDefined();
      expect(price?.sourceDetail).toContain(`: ${genaiId}/`);
      expect(price?.matchedModel).toBe(priced);
      expect(price?.input?.base).toBeGreaterThan(0);
    },
  );

  it('gives each SDK one provider of its own, taken when no other matches', () => {
    const sdks = new Set(PROVIDER_REGISTRY.flatMap((p) => p.clients.map((c) => c.sdk)));
    for (const sdk of sdks) {
      const own = PROVIDER_REGISTRY.filter((p) => p.clients.some((c) => c.sdk === sdk && c.when === undefined));
      expect(
        own.map((p) => p.id),
        sdk,
      ).toHaveLength(1);
    }
  });

  it('tells which provider an SDK client calls, from its class, base URL or flag', () => {
    class AzureOpenAI {}
    class Groq {}
    class AnthropicBedrock {}
    class AnthropicVertex {}
    const cases: [SdkKind, object, string][] = [
      ['openai', { baseURL: 'https://api.openai.com/v1' }, 'openai'],
      ['openai', { baseURL: 'https://my-gateway.example/v1' }, 'openai'],
      ['openai', new AzureOpenAI(), 'azure_openai'],
      ['openai', { baseURL: 'https://res.openai.azure.com/openai' }, 'azure_openai'],
      ['groq-sdk', new Groq(), 'groq'],
      ['openai', { baseURL: 'https://api.groq.com/openai/v1' }, 'groq'],
      ['openai', { baseURL: 'https://api.mistral.ai/v1' }, 'mistral'],
      ['openai', { baseURL: 'https://generativelanguage.googleapis.com/v1beta/openai/' }, 'gemini'],
      ['openai', { baseURL: 'http://localhost:11434/v1' }, 'ollama'],
      ['@google/genai', { vertexai: false }, 'gemini'],
      ['@google/genai', { vertexai: true }, 'vertex_ai'],
      ['@anthropic-ai/sdk', {}, 'anthropic'],
      ['@anthropic-ai/sdk', new AnthropicBedrock(), 'aws_bedrock'],
      ['@anthropic-ai/sdk', new AnthropicVertex(), 'vertex_ai'],
      ['@aws-sdk/client-bedrock-runtime', {}, 'aws_bedrock'],
      ['voyageai', {}, 'voyage'],
      ['cohere-ai', {}, 'cohere'],
      ['@mistralai/mistralai', {}, 'mistral'],
      ['ollama', {}, 'ollama'],
    ];
    for (const [sdk, client, provider] of cases) expect(providerOfClient(sdk, client), `${sdk} ${JSON.stringify(client)}`).toBe(provider);
  });

  it("reads LangChain's ls_provider and embeddings class names", () => {
    for (const p of PROVIDER_REGISTRY) for (const ls of p.langchain.lsProviders) expect(providerFromLangChain(ls)).toBe(p.id);
    expect(providerFromLangChain('fireworks')).toBe('fireworks');
    expect(providerFromLangChainEmbeddings('AzureOpenAIEmbeddings')).toBe('azure_openai');
    expect(providerFromLangChainEmbeddings('OpenAIEmbeddings')).toBe('openai');
    expect(providerFromLangChainEmbeddings('VoyageEmbeddings')).toBe('voyage');
    expect(providerFromLangChainEmbeddings('GoogleVertexAIEmbeddings')).toBe('vertex_ai');
    expect(providerFromLangChainEmbeddings('BedrockEmbeddings')).toBe('aws_bedrock');
    expect(providerFromLangChainEmbeddings('SyntheticEmbeddings')).toBeUndefined();
  });

  it("reads the AI SDK's provider names", () => {
    const cases: [string, string][] = [
      ['openai.chat', 'openai'],
      ['openai.responses', 'openai'],
      ['azure.chat', 'azure_openai'],
      ['anthropic.messages', 'anthropic'],
      ['google.generative-ai', 'gemini'],
      ['google.vertex.chat', 'vertex_ai'],
      // @ai-sdk/google-vertex's Claude models: Vertex AI bills them.
      ['vertex.anthropic.messages', 'vertex_ai'],
      ['amazon-bedrock', 'aws_bedrock'],
      ['mistral.chat', 'mistral'],
      ['groq.chat', 'groq'],
      ['cohere.chat', 'cohere'],
      ['ollama.chat', 'ollama'],
      ['voyage.embedding', 'voyage'],
      // Any other provider: the name's first part, not a registry id it happens to start with.
      ['openai-compatible.chat', 'openai-compatible'],
      ['xai.chat', 'xai'],
    ];
    for (const [name, provider] of cases) expect(providerFromAiSdk(name), name).toBe(provider);
  });

  it("gives a response the converter cannot read the provider's default service type", () => {
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('unreadable');
        },
      },
    );
    expect(extractUsage({ provider: 'voyage', response: hostile })).toMatchObject({
      provider: 'voyage',
      serviceType: 'embedding',
      operation: 'embeddings',
      usageSource: 'missing',
    });
    expect(extractUsage({ provider: 'openai', response: hostile })).toMatchObject({ serviceType: 'llm', operation: 'chat' });
    expect(providerEntry('my-gateway')).toBeUndefined();
  });

  it('imports nothing above it: providers/ reads only the record (usage.ts, usage-fields.ts) beside its own files', () => {
    const dir = import.meta.dirname;
    const outside: string[] = [];
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts') && !n.endsWith('.test.ts'))) {
      for (const [, from] of readFileSync(join(dir, f), 'utf8').matchAll(/^import [^;]*? from '([^']+)';/gms)) {
        if (from?.startsWith('../') && from !== '../usage.ts' && from !== '../usage-fields.ts') outside.push(`${f}: ${from}`);
      }
    }
    expect(outside).toEqual([]);
  });
});
