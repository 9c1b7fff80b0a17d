/**
 * Calls an enforced budget cannot afford, with input the old four-characters-a-token estimate
 * missed: Chinese and Japanese prompts and inline images, through the official OpenAI and
 * Anthropic clients against a replay server (`replayUrl`), four at a time until the budget
 * refuses a whole round. Run in the test's process, or as a child process
 * (`node [--import ./test/helpers/hide-tiktoken.ts] test/helpers/enforce-scenario.ts <url>`,
 * printing the outcome as JSON) to see it without js-tiktoken.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { isBudgetExceededError, TokenMonitor } from '../../src/index.ts';
import { holdCountsSettled, holdTokenizerLoaded, preloadHoldTokenizer } from '../../src/instrument/exact-counts.ts';

/** A PNG of `width` x `height` as its header and filler bytes (a real file's size), base64. */
export function pngBase64(width: number, height: number, bytes = 60_000): string {
  const b = Buffer.alloc(bytes);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]).copy(b, 0);
  b.write('IHDR', 12, 'latin1');
  b.writeUInt32BE(width, 16);
  b.writeUInt32BE(height, 20);
  b[24] = 8;
  b[25] = 2;
  return b.toString('base64');
}

export const ZH_SYSTEM = '你是一名严谨的财务分析师。请只根据用户提供的材料回答，所有金额保留两位小数，并在结尾列出你所依据的段落编号。';
const ZH =
  '本季度公司营业收入同比增长百分之十二，主要来自华东地区的新合同和线上渠道的扩张。成本方面，原材料价格基本持平，但物流费用上升了百分之七。' +
  '管理层预计下半年将继续投入研发，并计划在深圳设立新的数据中心。请分析这些数据对全年利润率的影响，并指出主要风险。';
const JA =
  '今四半期の売上高は前年同期比で一二パーセント増加しました。主な要因は関東地域での新規契約とオンライン販売の拡大です。' +
  '一方で、物流コストは七パーセント上昇しました。経営陣は下半期も研究開発への投資を続ける方針です。この内容を三つの要点にまとめてください。';

export const MAX_TOKENS = 200;
export const LIMIT_USD = 0.05;

export interface Outcome {
  limitUsd: number;
  usedUsd: number;
  sent: number;
  blocked: number;
  tokenizer: boolean;
  reserved: number;
}

export async function overspend(replayUrl: string, options: { awaitTokenizer?: boolean } = {}): Promise<Outcome> {
  if (options.awaitTokenizer) await preloadHoldTokenizer();
  const monitor = new TokenMonitor({
    dir: mkdtempSync(join(tmpdir(), 'tm-enforce-')),
    loadConfig: false,
    metrics: false,
    logLevel: 'silent',
    budgets: [{ scope: 'global', limit: LIMIT_USD, enforce: true }],
  });
  const openai = monitor.instrument(new OpenAI({ apiKey: 'sk-test-enforce-0000000000', baseURL: `${replayUrl}/v1`, maxRetries: 0 }));
  const anthropic = monitor.instrument(new Anthropic({ apiKey: 'sk-ant-test-enforce-0000', baseURL: replayUrl, maxRetries: 0 }));
  const image = pngBase64(1024, 1024);
  const photo = pngBase64(1000, 1000);
  let sent = 0;
  let blocked = 0;
  for (let round = 0; round < 20; round++) {
    const calls = [
      openai.chat.completions.create({
        model: 'gpt-4o',
        max_tokens: MAX_TOKENS,
        messages: [
          { role: 'system', content: ZH_SYSTEM },
          { role: 'user', content: `${ZH.repeat(8)}（第${round}轮）` },
        ],
      }),
      openai.chat.completions.create({
        model: 'gpt-4o',
        max_tokens: MAX_TOKENS,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: JA.repeat(4) },
              { type: 'image_url', image_url: { url: `data:image/png;base64,${image}` } },
            ],
          },
        ],
      }),
      anthropic.messages.create({
        model: 'claude-sonnet-4-5',
        max_tokens: MAX_TOKENS,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: photo } },
              { type: 'text', text: JA.repeat(3) },
            ],
          },
        ],
      }),
      openai.chat.completions.create({
        model: 'gpt-4o',
        max_tokens: MAX_TOKENS,
        messages: [
          { role: 'system', content: ZH_SYSTEM },
          { role: 'user', content: ZH.repeat(12) },
        ],
      }),
    ];
    const results = await Promise.allSettled(calls);
    for (const r of results) {
      if (r.status === 'fulfilled') sent++;
      else if (isBudgetExceededError(r.reason)) blocked++;
      else throw r.reason;
    }
    if (results.every((r) => r.status === 'rejected')) break;
    // Texts seen in this round are counted exactly for the next, where js-tiktoken is loaded.
    await holdCountsSettled();
  }
  await monitor.flush();
  const outcome: Outcome = {
    limitUsd: LIMIT_USD,
    usedUsd: monitor.usageSummary().reduce((n, s) => n + (s.costUsd ?? 0), 0),
    sent,
    blocked,
    tokenizer: holdTokenizerLoaded(),
    reserved: monitor.budgetStatus()[0]?.reserved ?? -1,
  };
  await monitor.close();
  return outcome;
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  const url = process.argv[2];
  if (url === undefined) throw new Error('usage: enforce-scenario.ts <replay server url>');
  process.stdout.write(`${JSON.stringify(await overspend(url))}\n`);
}
