// A small, safe Markdown renderer for model replies: no dependencies, nothing fetched.
// The text is HTML-escaped first, so the only markup in the result is what this file writes.
// Covers what models write: paragraphs, headings, fenced and inline code, bold, italic,
// strike-through, lists (nested by indentation), block quotes, tables, rules and links.

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;
const QUOTE = /^ {0,3}&gt; ?/;
const ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const TABLE_RULE = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

/** `href` for a link, or null: only http(s) and mailto (no `javascript:`), and no escaped quotes or brackets. */
function safeUrl(escapedUrl) {
  const url = escapedUrl.trim();
  return /^(https?:\/\/|mailto:)/i.test(url) && !/&(?!amp;)/.test(url) ? url : null;
}

class Renderer {
  constructor() {
    this.stash = [];
  }

  keep(html) {
    return `\u0000${this.stash.push(html) - 1}\u0000`;
  }

  restore(text) {
    return text.replace(/\u0000(\d+)\u0000/g, (_, n) => this.restore(this.stash[Number(n)]));
  }

  inline(text) {
    // Code spans first: nothing inside them is formatting.
    text = text.replace(/(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/g, (_, ticks, code) =>
      this.keep(`<code>${code.replace(/^ (.*) $/, "$1")}</code>`));
    text = text.replace(/\[([^\]\n]+)\]\(\s*([^)\s]+)\s*\)/g, (match, label, url) => {
      const href = safeUrl(url);
      return href ? this.keep(`<a href="${href}" target="_blank" rel="noopener noreferrer">${this.inline(label)}</a>`) : match;
    });
    // Bare URLs; escaped quotes and brackets end one (`&amp;` is the only entity a URL keeps).
    text = text.replace(/(^|[\s(])(https?:\/\/(?:[^\s<&]|&amp;)*[^\s<&.,:;!?)'])/g, (_, before, url) =>
      before + this.keep(`<a href="${url}" target="_blank" rel="noopener noreferrer">${url}</a>`));
    text = text.replace(/(\*\*|__)(?=\S)([\s\S]*?\S)\1/g, "<strong>$2</strong>");
    text = text.replace(/(^|[^*\w])\*(?=[^\s*])([^*]*?[^\s*])\*(?![*\w])/g, "$1<em>$2</em>");
    text = text.replace(/(^|[^_\w])_(?=[^\s_])([^_]*?[^\s_])_(?![_\w])/g, "$1<em>$2</em>");
    text = text.replace(/~~(?=\S)([\s\S]*?\S)~~/g, "<del>$1</del>");
    return text.replace(/ {2,}\n|\\\n/g, "<br>").replace(/\n/g, "<br>");
  }

  blocks(lines) {
    const out = [];
    let i = 0;
    while (i < lines.length) {
      const line = lines[i];
      let m;
      if (!line.trim()) {
        i += 1;
      } else if ((m = FENCE.exec(line))) {
        const close = new RegExp(`^ {0,3}${m[1][0] === "`" ? "`" : "~"}{${m[1].length},}\\s*$`);
        const code = [];
        i += 1;
        while (i < lines.length && !close.test(lines[i])) code.push(lines[i++]);
        i += 1; // the closing fence (or the end, while a reply is still streaming)
        const lang = m[2] ? ` class="language-${m[2]}"` : "";
        out.push(`<pre><code${lang}>${code.join("\n")}</code></pre>`);
      } else if ((m = HEADING.exec(line))) {
        out.push(`<h${m[1].length}>${this.inline(m[2])}</h${m[1].length}>`);
        i += 1;
      } else if (RULE.test(line)) {
        out.push("<hr>");
        i += 1;
      } else if (QUOTE.test(line)) {
        const quoted = [];
        while (i < lines.length && QUOTE.test(lines[i])) quoted.push(lines[i++].replace(QUOTE, ""));
        out.push(`<blockquote>${this.blocks(quoted)}</blockquote>`);
      } else if (ITEM.test(line)) {
        i = this.list(lines, i, out);
      } else if (line.includes("|") && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1]) && lines[i + 1].includes("-")) {
        i = this.table(lines, i, out);
      } else {
        const para = [lines[i++]];
        while (i < lines.length && lines[i].trim() && !this.startsBlock(lines, i)) para.push(lines[i++]);
        out.push(`<p>${this.inline(para.join("\n").trim())}</p>`);
      }
    }
    return out.join("");
  }

  startsBlock(lines, i) {
    const line = lines[i];
    return FENCE.test(line) || HEADING.test(line) || QUOTE.test(line) || ITEM.test(line) || RULE.test(line);
  }

  list(lines, start, out) {
    const first = ITEM.exec(lines[start]);
    const indent = first[1].length;
    const ordered = /\d/.test(first[2]);
    const items = [];
    let i = start;
    while (i < lines.length) {
      const m = ITEM.exec(lines[i]);
      if (m && m[1].length <= indent + 1) {
        if (/\d/.test(m[2]) !== ordered) break;
        items.push([m[3]]);
        i += 1;
      } else if (lines[i].trim() && (/^\s/.test(lines[i]) || !this.startsBlock(lines, i)) && items.length) {
        items[items.length - 1].push(lines[i].slice(Math.min(indent + 2, lines[i].search(/\S/))));
        i += 1;
      } else if (!lines[i].trim() && i + 1 < lines.length && /^\s+\S/.test(lines[i + 1]) && items.length) {
        items[items.length - 1].push("");
        i += 1;
      } else if (!lines[i].trim() && i + 1 < lines.length && this.sameList(lines[i + 1], indent, ordered)) {
        i += 1; // a blank line between items of one list
      } else {
        break;
      }
    }
    const number = ordered ? parseInt(first[2], 10) : 1;
    const open = ordered ? (number !== 1 ? `<ol start="${number}">` : "<ol>") : "<ul>";
    const body = items.map((item) => {
      const [head, ...rest] = item;
      const nested = rest.length ? this.blocks(rest) : "";
      return `<li>${this.inline(head)}${nested}</li>`;
    });
    out.push(`${open}${body.join("")}${ordered ? "</ol>" : "</ul>"}`);
    return i;
  }

  sameList(line, indent, ordered) {
    const m = ITEM.exec(line);
    return Boolean(m) && m[1].length <= indent + 1 && /\d/.test(m[2]) === ordered;
  }

  table(lines, start, out) {
    const cells = (row) => row.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim());
    const header = cells(lines[start]);
    const align = cells(lines[start + 1]).map((c) => (c.endsWith(":") ? (c.startsWith(":") ? "center" : "right") : ""));
    const style = (k) => (align[k] ? ` style="text-align:${align[k]}"` : "");
    let i = start + 2;
    const rows = [];
    while (i < lines.length && lines[i].includes("|") && lines[i].trim()) rows.push(cells(lines[i++]));
    const head = header.map((c, k) => `<th${style(k)}>${this.inline(c)}</th>`).join("");
    const body = rows.map((r) => `<tr>${header.map((_, k) => `<td${style(k)}>${this.inline(r[k] || "")}</td>`).join("")}</tr>`).join("");
    out.push(`<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`);
    return i;
  }
}

/** HTML for `source` Markdown; safe to assign to innerHTML. */
export function renderMarkdown(source) {
  const renderer = new Renderer();
  const text = escapeHtml(String(source ?? "").replace(/\u0000/g, "").replace(/\r\n?/g, "\n"));
  return renderer.restore(renderer.blocks(text.split("\n")));
}
