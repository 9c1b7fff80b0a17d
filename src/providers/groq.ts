import { openaiShapedConverter } from './openai.ts';
import { obj } from './read.ts';
import type { ProviderConverter } from './types.ts';

/**
 * Groq (https://console.groq.com/docs/api-reference): OpenAI-compatible bodies (`usage.prompt_tokens`
 * includes cached tokens), but in streams the usage arrives in the last chunk's `x_groq.usage`.
 */
export const groqConverter: ProviderConverter = openaiShapedConverter('groq', (event) => obj(event.x_groq)?.usage);
