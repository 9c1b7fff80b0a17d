import { describe, expect, it } from 'vitest';
import { medianMad, outlierBound, percentileSorted } from './stats.ts';

describe('robust statistics', () => {
  it('median and MAD, odd and even counts', () => {
    expect(medianMad([1, 2, 3, 4, 100])).toEqual({ median: 3, mad: 1 });
    expect(medianMad([10, 20, 30, 40])).toEqual({ median: 25, mad: 10 });
    expect(medianMad([])).toEqual({ median: Number.NaN, mad: Number.NaN });
  });

  it('outliers: modified z-score above 3.5 and at least twice the median', () => {
    // 100 + 3.5 / 0.6745 × 50 = 359.45..., above 2 × 100.
    expect(outlierBound(100, 50)).toBeCloseTo(100 + (3.5 / 0.6745) * 50, 9);
    // A small MAD: twice the median rules.
    expect(outlierBound(1000, 10)).toBe(2000);
    // No spread at all: still twice the median, not "anything above the median".
    expect(outlierBound(1000, 0)).toBe(2000);
  });

  it('percentiles by nearest rank', () => {
    const s = Array.from({ length: 10 }, (_, i) => i + 1);
    expect(percentileSorted(s, 0.9)).toBe(9);
    expect(percentileSorted(s, 0.5)).toBe(5);
    expect(percentileSorted(s, 1)).toBe(10);
    expect(percentileSorted([], 0.9)).toBeNaN();
  });
});
