/**
 * `node --import ./test/helpers/hide-tiktoken.ts ...`: the process runs as if the optional peer
 * js-tiktoken were not installed (its imports fail the way a missing package's do).
 */
import { registerHooks } from 'node:module';

registerHooks({
  resolve(specifier, context, next) {
    if (specifier === 'js-tiktoken' || specifier.startsWith('js-tiktoken/')) {
      throw Object.assign(new Error(`Cannot find package '${specifier}'`), { code: 'ERR_MODULE_NOT_FOUND' });
    }
    return next(specifier, context);
  },
});
