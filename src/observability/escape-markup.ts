const ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * `text` made safe to place in HTML or SVG, as element content or inside a quoted attribute: the
 * five characters that could end either are replaced by their entities. Anything a log holds
 * (inputs, outputs, error messages, step names) goes through it before it is drawn.
 * `<script>` becomes `&lt;script&gt;`.
 */
export function escapeMarkup(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}
