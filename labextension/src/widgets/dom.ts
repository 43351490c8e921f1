/** DOM helpers shared by the notebook widgets (bundled into each widget's module). */

type Attrs = Record<string, unknown>;
type Child = Node | string | number | null | undefined | false | Child[];

/** An element with attributes (`class`, `style`, `on*` handlers, others as attributes) and children. */
export function h(tag: string, attrs: Attrs = {}, ...children: Child[]): HTMLElement {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) {
      continue;
    }
    if (key === 'class') {
      node.className = String(value);
    } else if (key === 'style') {
      Object.assign(node.style, value);
    } else if (key.startsWith('on')) {
      node.addEventListener(key.slice(2), value as EventListener);
    } else {
      node.setAttribute(key, value === true ? '' : String(value));
    }
  }
  node.append(...present(children).map(c => (c instanceof Node ? c : document.createTextNode(String(c)))));
  return node;
}

function present(children: Child[]): (Node | string | number)[] {
  return (children.flat(Infinity as 1) as Child[]).filter(
    (c): c is Node | string | number => c !== null && c !== undefined && c !== false
  );
}

/** Replace `node`'s children, skipping the null/false ones (conditional parts). */
export function fill(node: HTMLElement, ...children: Child[]): void {
  node.replaceChildren(...present(children).map(c => (c instanceof Node ? c : String(c))));
}

/** Keep JupyterLab's notebook shortcuts (Shift+Enter runs the cell, D D deletes it...) out of our inputs. */
export function isolateKeys(node: HTMLElement): void {
  node.setAttribute('data-lm-suppress-shortcuts', 'true');
  for (const type of ['keydown', 'keypress', 'keyup']) {
    node.addEventListener(type, event => event.stopPropagation());
  }
}

/** A message line that shows an error, or nothing. */
export function errorLine(message: string | null | undefined): HTMLElement | null {
  return message ? h('div', { class: 'jo-error', role: 'alert' }, message) : null;
}

export interface Segment {
  value: number;
  label: string;
  kind: 'model' | 'other';
  color?: number;
}

/** The class that colours a segment: grey for "other", else its `color` (or position) of 8. */
function segmentClass(segment: Segment, i: number): string {
  return segment.kind === 'other' ? 'jo-other' : `jo-color-${(segment.color ?? i) % 8}`;
}

/** A horizontal bar of segments over `total`; the rest is free. */
export function stackedBar(total: number, segments: Segment[], formatValue: (n: number) => string): HTMLElement {
  const bar = h('div', { class: 'jo-bar', role: 'img' });
  const sum = segments.reduce((a, s) => a + Math.max(0, s.value), 0);
  bar.setAttribute('aria-label', `${formatValue(sum)} of ${formatValue(total)}`);
  segments.forEach((segment, i) => {
    if (!(segment.value > 0) || !(total > 0)) {
      return;
    }
    const width = Math.min(100, (100 * segment.value) / total);
    bar.append(
      h('div', {
        class: `jo-segment ${segmentClass(segment, i)}`,
        style: { width: `${width}%` },
        title: `${segment.label}: ${formatValue(segment.value)}`
      })
    );
  });
  return bar;
}

/** The key under a stacked bar: a swatch, name and size per segment. */
export function legend(segments: Segment[], formatValue: (n: number) => string): HTMLElement | null {
  const items = segments
    .map((segment, i) =>
      segment.value > 0
        ? h(
            'span',
            { class: 'jo-legend-item' },
            h('span', { class: `jo-swatch ${segmentClass(segment, i)}` }),
            h('span', { class: 'jo-legend-name' }, segment.label),
            h('span', { class: 'jo-muted' }, formatValue(segment.value))
          )
        : null
    )
    .filter((x): x is HTMLElement => x !== null);
  return items.length ? h('div', { class: 'jo-legend' }, items) : null;
}
