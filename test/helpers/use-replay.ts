import { afterAll, beforeAll } from 'vitest';
import { type ReceivedRequest, type ReplayServer, type Reply, replayServer } from './replay-server.ts';

/** A replay server for one test file: started before its tests, closed after them. */
export interface Replay {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** Every request it got. */
  readonly requests: ReceivedRequest[];
  /** The reply to the next request only, instead of the route's (a 429, a cut stream...). */
  next: Reply | undefined;
}

/** Starts a replay server answering with `route` for the test file that calls it. */
export function useReplay(route: (req: ReceivedRequest) => Reply): Replay {
  let server: ReplayServer | undefined;
  const started = () => {
    if (server === undefined) throw new Error('the replay server starts in beforeAll');
    return server;
  };
  const replay: Replay = {
    next: undefined,
    get url() {
      return started().url;
    },
    get requests() {
      return started().requests;
    },
  };
  beforeAll(async () => {
    server = await replayServer((req) => {
      const once = replay.next;
      if (once !== undefined) {
        replay.next = undefined;
        return once;
      }
      return route(req);
    });
  });
  afterAll(async () => {
    await server?.close();
  });
  return replay;
}
