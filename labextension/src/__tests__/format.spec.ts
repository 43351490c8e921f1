import {
  formatAgo,
  formatBytes,
  formatPercent,
  formatProcessor,
  formatRate,
  formatSpan,
  formatUntil,
  shortDigest,
  tokensPerSecond
} from '../format';

describe('formatBytes', () => {
  it('uses decimal units like ollama list', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1000)).toBe('1 KB');
    expect(formatBytes(1500)).toBe('1.5 KB');
    expect(formatBytes(270_898_272)).toBe('271 MB');
    expect(formatBytes(1_300_000_000)).toBe('1.3 GB');
    expect(formatBytes(12_400_000_000)).toBe('12 GB');
    expect(formatBytes(-1)).toBe('?');
  });
});

describe('times', () => {
  const now = Date.parse('2026-11-22T12:00:00Z');

  it('writes spans in their largest whole unit', () => {
    expect(formatSpan(1)).toBe('1 second');
    expect(formatSpan(59.9)).toBe('59 seconds');
    expect(formatSpan(4 * 60 + 30)).toBe('4 minutes');
    expect(formatSpan(2 * 3600)).toBe('2 hours');
    expect(formatSpan(3 * 86400)).toBe('3 days');
    expect(formatSpan(90 * 86400)).toBe('3 months');
    expect(formatSpan(800 * 86400)).toBe('2 years');
  });

  it('says how long ago a model was modified', () => {
    expect(formatAgo('2026-11-22T12:00:00Z', now)).toBe('just now');
    expect(formatAgo('2026-11-22T11:57:00.123456Z', now)).toBe('2 minutes ago');
    expect(formatAgo('2026-11-21T12:00:00Z', now)).toBe('1 day ago');
    expect(formatAgo('garbage', now)).toBe('?');
  });

  it('says when a running model expires', () => {
    expect(formatUntil('2026-11-22T12:04:59Z', now)).toBe('in 4 minutes');
    expect(formatUntil('2026-11-22T11:59:59Z', now)).toBe('stopping…');
    expect(formatUntil('2318-11-22T12:00:00Z', now)).toBe('forever'); // keep_alive < 0
  });
});

describe('formatProcessor', () => {
  it("follows ollama ps's PROCESSOR column", () => {
    expect(formatProcessor(1000, 0)).toBe('100% CPU');
    expect(formatProcessor(1000, 1000)).toBe('100% GPU');
    expect(formatProcessor(1000, 750)).toBe('25%/75% CPU/GPU');
    expect(formatProcessor(1000, 515)).toBe('49%/51% CPU/GPU'); // 48.5% on the CPU rounds up, as Ollama's
  });
});

describe('speed', () => {
  it('is tokens over seconds of eval_duration', () => {
    expect(tokensPerSecond(50, 2_000_000_000)).toBe(25);
    expect(tokensPerSecond(0, 1)).toBeNull();
    expect(tokensPerSecond(10, undefined)).toBeNull();
    expect(formatRate(25)).toBe('25.0 tokens/s');
    expect(formatRate(123.4)).toBe('123 tokens/s');
  });
});

describe('small things', () => {
  it('shortens digests the way pull lines do', () => {
    expect(shortDigest('sha256:6a1a2eb6d15622bf3c96857206351ba97e1af16c30d7a74ee38970e434e9407e')).toBe('6a1a2eb6d156');
  });

  it('clamps percentages', () => {
    expect(formatPercent(0.424)).toBe('42%');
    expect(formatPercent(1.7)).toBe('100%');
  });
});
