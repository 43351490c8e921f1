/** How the panel writes sizes, times and speeds: Ollama's CLI conventions, compact. */

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];

/** Decimal units as `ollama list` prints them: `271 MB`, `1.3 GB`, `12 GB`. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) {
    return '?';
  }
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const text = value < 10 && unit > 0 ? value.toFixed(1).replace(/\.0$/, '') : String(Math.round(value));
  return `${text} ${UNITS[unit]}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Further out than this is a negative keep_alive: Go's "forever" is ~292 years. */
const FOREVER = 100 * 365 * DAY;

/** A span in the largest whole unit: `45 seconds`, `4 minutes`, `2 hours`, `3 days`. */
export function formatSpan(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < MINUTE) {
    return plural(s, 'second');
  }
  if (s < HOUR) {
    return plural(Math.floor(s / MINUTE), 'minute');
  }
  if (s < DAY) {
    return plural(Math.floor(s / HOUR), 'hour');
  }
  if (s < 60 * DAY) {
    return plural(Math.floor(s / DAY), 'day');
  }
  if (s < 365 * DAY) {
    return plural(Math.floor(s / (30 * DAY)), 'month');
  }
  return plural(Math.floor(s / (365 * DAY)), 'year');
}

/** `modified_at` as `ollama list` shows it: `just now`, `3 minutes ago`. */
export function formatAgo(iso: string, now: number): string {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) {
    return '?';
  }
  const seconds = (now - then) / 1000;
  return seconds < 1 ? 'just now' : `${formatSpan(seconds)} ago`;
}

/** `expires_at` as `ollama ps` shows it: `in 4 minutes`, `forever`, `stopping…`. */
export function formatUntil(iso: string, now: number): string {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) {
    return '?';
  }
  const seconds = (then - now) / 1000;
  if (seconds > FOREVER) {
    return 'forever';
  }
  return seconds <= 0 ? 'stopping…' : `in ${formatSpan(seconds)}`;
}

/** Ollama's PROCESSOR column: `100% GPU`, `100% CPU`, `25%/75% CPU/GPU`. */
export function formatProcessor(size: number, sizeVram: number): string {
  if (size <= 0 || sizeVram <= 0) {
    return '100% CPU';
  }
  if (sizeVram >= size) {
    return '100% GPU';
  }
  // Ollama rounds the CPU share and gives the GPU the rest.
  const cpu = Math.round(((size - sizeVram) / size) * 100);
  return `${cpu}%/${100 - cpu}% CPU/GPU`;
}

/** Generation speed from a final chat line: `eval_count` tokens in `eval_duration` nanoseconds. */
export function tokensPerSecond(evalCount?: number, evalDurationNs?: number): number | null {
  if (!evalCount || !evalDurationNs || evalDurationNs <= 0) {
    return null;
  }
  return evalCount / (evalDurationNs / 1e9);
}

export function formatRate(rate: number): string {
  return `${rate >= 100 ? Math.round(rate) : rate.toFixed(1)} tokens/s`;
}

/** `sha256:abcdef…` as Ollama's progress lines name a layer: its first 12 hex digits. */
export function shortDigest(digest: string): string {
  return digest.replace(/^sha256[:-]/, '').slice(0, 12);
}

export function formatPercent(fraction: number): string {
  return `${Math.round(Math.min(1, Math.max(0, fraction)) * 100)}%`;
}
