/** Model replies as Markdown: rendered by `marked` (GitHub's dialect), then sanitized by DOMPurify. */

import DOMPurify from 'dompurify';
import { Marked } from 'marked';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

const SAFE_URL = /^(https?:\/\/|mailto:)/i;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, c => ESCAPES[c]);
}

// HTML that a model writes is shown as text, as a terminal would show it; single newlines break
// lines as chat interfaces do. DOMPurify below is the second line of defence.
const marked = new Marked({
  async: false,
  gfm: true,
  breaks: true,
  renderer: {
    html: ({ text }) => escapeHtml(text),
    // Nothing is fetched from what a model wrote: an image shows as its description.
    image: ({ text }) => escapeHtml(text),
    // Only web and mail links are links; `javascript:` and the like are their text.
    link(token) {
      return SAFE_URL.test(token.href) ? false : this.parser.parseInline(token.tokens);
    }
  }
});

// Links open outside the notebook, never in its frame.
DOMPurify.addHook('afterSanitizeAttributes', node => {
  if (node.tagName === 'A' && node.getAttribute('href')) {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer');
  }
});

/** Safe HTML for a reply, complete or still streaming (an unclosed fence renders as code so far). */
export function renderMarkdown(source: string): string {
  const html = marked.parse(source) as string;
  // No images, forms or styles, even if a rule above is ever loosened.
  return DOMPurify.sanitize(html, { FORBID_TAGS: ['img', 'style', 'form', 'input'], FORBID_ATTR: ['style'] });
}
