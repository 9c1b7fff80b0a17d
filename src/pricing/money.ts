/**
 * Money as integers, so sums are exact. A cost is an integer number of picodollars (1e-12 USD):
 * any price quoted per million tokens with up to six decimals is then an integer number of
 * picodollars per token, and a call's cost is exact while it stays under 2^53 pico (about $9,007).
 * Sums use {@link CostSum}, exact far beyond that.
 *
 * Why: genai-prices and most tables hold prices as floats, and float sums drift
 * (1,000 gpt-4o input tokens come out as 0.0022500000000000003 USD).
 */
export const PICO_PER_USD = 1e12;

/** USD per 1M tokens → picodollars per token (rounded to the nearest, which undoes float noise). */
export function perMillionToPico(usdPerMillion: number): number {
  return Math.round(usdPerMillion * 1e6);
}

/** USD per unit → picodollars per unit. */
export function usdToPico(usd: number): number {
  return Math.round(usd * PICO_PER_USD);
}

/** Picodollars per token → USD per 1M tokens, for display. */
export function picoToPerMillion(pico: number): number {
  return pico / 1e6;
}

/** Picodollars → USD as a number (the nearest double to the exact decimal). */
export function picoToUsd(pico: number): number {
  return pico / PICO_PER_USD;
}

const MICRO_IN_PICO = 1e6;

/**
 * An exact running sum of picodollar amounts, held as whole microdollars plus a picodollar
 * remainder below one microdollar: exact up to 2^53 microdollars (about 9 billion USD).
 */
export class CostSum {
  micro = 0;
  pico = 0;

  add(pico: number): void {
    let p = this.pico + pico;
    if (p >= MICRO_IN_PICO) {
      const carry = Math.floor(p / MICRO_IN_PICO);
      this.micro += carry;
      p -= carry * MICRO_IN_PICO;
    }
    this.pico = p;
  }

  addSum(other: CostSum): void {
    this.micro += other.micro;
    this.add(other.pico);
  }

  /**
   * The sum as USD (a double, for metrics and display): the double nearest the exact decimal, so
   * that JSON shows 1.42155, not the 1.4215499999999999 that adding the two parts as doubles gives.
   */
  get usd(): number {
    if (this.pico === 0) return this.micro / 1e6;
    // Below 2^53 pico (about $9,007) the sum in picodollars is an exact double, and one division
    // rounds to the double nearest the exact decimal: no BigInt or string (record() reports the
    // provider's running total with every call).
    const pico = this.micro * MICRO_IN_PICO + this.pico;
    return pico <= Number.MAX_SAFE_INTEGER ? pico / PICO_PER_USD : Number(this.toDecimalString());
  }

  /** The exact sum in picodollars. */
  toPicoBigInt(): bigint {
    return BigInt(this.micro) * 1_000_000n + BigInt(this.pico);
  }

  /** The exact sum as a decimal string of USD with 12 decimals, e.g. "12.345000000000". */
  toDecimalString(): string {
    return formatPico(this.toPicoBigInt());
  }

  /** The sum rounded half-up to whole cents. */
  toCents(): bigint {
    return (this.toPicoBigInt() + 5_000_000_000n) / 10_000_000_000n;
  }
}

/** Formats an exact picodollar amount as a USD decimal string with 12 decimals. */
export function formatPico(pico: bigint): string {
  const negative = pico < 0n;
  const abs = negative ? -pico : pico;
  const whole = abs / 1_000_000_000_000n;
  const frac = (abs % 1_000_000_000_000n).toString().padStart(12, '0');
  return `${negative ? '-' : ''}${whole}.${frac}`;
}
