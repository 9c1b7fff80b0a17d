import { createRequire } from 'node:module';

/**
 * @pydantic/genai-prices, loaded from its CommonJS build: the same code and bundled data, which
 * hold 2.5 MB of heap there against 3.2 MB in its ES module build (not minified). Every app that
 * prices a call holds it, so the smaller one is loaded.
 */
export const genaiPrices = createRequire(import.meta.url)('@pydantic/genai-prices') as typeof import('@pydantic/genai-prices');
