// Shared by the jupyter-ollama widgets: prepended to each widget's module (anywidget loads one file).

/** An element with attributes (`class`, `title`, `on*` handlers, others as attributes) and children. */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "style") Object.assign(node.style, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Replace `node`'s children, skipping the null/false ones (conditional parts). */
export function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

/** Bytes for people: decimal units like Ollama's CLI, or binary ones (GiB) for memory. */
export function formatBytes(bytes, binary = false) {
  const n = Number(bytes) || 0;
  const base = binary ? 1024 : 1000;
  const units = binary ? ["B", "KiB", "MiB", "GiB", "TiB"] : ["B", "KB", "MB", "GB", "TB"];
  let value = n;
  let unit = 0;
  while (value >= base && unit < units.length - 1) {
    value /= base;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

/** A short duration: "45 s", "3 min 20 s", "1 h 5 min". */
export function formatDuration(seconds) {
  const s = Math.max(0, Math.round(Number(seconds) || 0));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** Keep JupyterLab's notebook shortcuts (Shift+Enter runs the cell, D D deletes it...) out of our inputs. */
export function isolateKeys(node) {
  node.setAttribute("data-lm-suppress-shortcuts", "true");
  for (const type of ["keydown", "keypress", "keyup"]) {
    node.addEventListener(type, (event) => event.stopPropagation());
  }
}

/** A message line that shows an error, or nothing. */
export function errorLine(message) {
  return message ? h("div", { class: "jo-error", role: "alert" }, message) : null;
}

/** The class that colours a segment: grey for "other", else its `color` (or position) of 8. */
function segmentClass(segment, i) {
  return segment.kind === "other" ? "jo-other" : `jo-color-${(segment.color ?? i) % 8}`;
}

/** A horizontal bar of segments: [{value, label, kind, color}] over `total`; the rest is free. */
export function stackedBar(total, segments, formatValue) {
  const bar = h("div", { class: "jo-bar", role: "img" });
  const sum = segments.reduce((a, s) => a + Math.max(0, s.value), 0);
  bar.setAttribute("aria-label", `${formatValue(sum)} of ${formatValue(total)}`);
  segments.forEach((segment, i) => {
    if (!(segment.value > 0) || !(total > 0)) return;
    const width = Math.min(100, (100 * segment.value) / total);
    bar.append(h("div", {
      class: `jo-segment ${segmentClass(segment, i)}`,
      style: { width: `${width}%` },
      title: `${segment.label}: ${formatValue(segment.value)}`,
    }));
  });
  return bar;
}

/** The key under a stacked bar: a swatch, name and size per segment. */
export function legend(segments, formatValue) {
  const items = segments
    .map((segment, i) => (segment.value > 0 ? h("span", { class: "jo-legend-item" },
      h("span", { class: `jo-swatch ${segmentClass(segment, i)}` }),
      h("span", { class: "jo-legend-name" }, segment.label),
      h("span", { class: "jo-muted" }, formatValue(segment.value))) : null))
    .filter(Boolean);
  return items.length ? h("div", { class: "jo-legend" }, items) : null;
}
