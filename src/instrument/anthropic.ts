import { type Instrumenter, wrapMethod } from './wrap.ts';

/**
 * The `@anthropic-ai/sdk` client: `messages.create` (streamed or not) and the `messages.stream()`
 * helper, which calls `create` on the same resource. The beta resource is wrapped alike.
 */
export const instrumentAnthropic: Instrumenter = (client, recorder) => {
  const c = client as { messages?: object; beta?: { messages?: object } };
  wrapMethod(c.messages, 'create', recorder);
  wrapMethod(c.beta?.messages, 'create', recorder);
};
