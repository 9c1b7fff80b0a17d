/**
 * The time a wrapper adds, measured in pairs: each round times a batch of bare calls and a batch of
 * wrapped calls back to back (order alternating), and the figure is the median of the per-round
 * differences, so a busy moment on the machine falls on both sides of a pair. It leaves out what
 * the mean of long batches in fresh processes catches: garbage collection (the two sides share
 * it) and work off the call's path (the ledger's writes).
 *
 * The warm-up is long on purpose: code run once per call (all of the wrapper's) reaches V8's top
 * tier (TurboFan) only after some 10,000 to 25,000 calls, while the SDK's own code, run many times
 * per call, gets there far sooner. With a warm-up of 500 calls the rounds measured the wrapper
 * mostly in its middle tier (Maglev), a state a long-running process soon leaves behind: this
 * measures the steady state, both sides warmed alike (interleaved).
 */
export async function pairedMedian(
  bare: (n: number) => Promise<void>,
  wrapped: (n: number) => Promise<void>,
  rounds = 120,
): Promise<{ added: number; bare: number }> {
  const batch = 100;
  const warmupBatches = 300;
  for (let r = 0; r < warmupBatches; r++) {
    await bare(batch);
    await wrapped(batch);
  }
  const time = async (run: (n: number) => Promise<void>) => {
    const t0 = process.hrtime.bigint();
    await run(batch);
    return Number(process.hrtime.bigint() - t0) / batch;
  };
  const diffs: number[] = [];
  const bares: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let b: number;
    let w: number;
    if (r % 2 === 0) {
      b = await time(bare);
      w = await time(wrapped);
    } else {
      w = await time(wrapped);
      b = await time(bare);
    }
    diffs.push(w - b);
    bares.push(b);
  }
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1] as number;
  return { added: med(diffs), bare: med(bares) };
}
