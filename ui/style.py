"""The look of the app: theme and the CSS for answers, source cards and tables.

Colours come from the theme's CSS variables where they exist, so the dark
mode stays readable; the highlight and warning colours are fixed on purpose
(a <mark> must look like a highlighter in both modes).
"""

from __future__ import annotations

import gradio as gr


def theme() -> gr.themes.Base:
    # Fonts served by Gradio itself: nothing is fetched from the internet. Gradio 6.31 ships
    # Source Sans Pro's SemiBold as a few-glyph subset (bold text mixed a lone "A" with a
    # fallback font), so only Regular and Bold are declared; semibold text then uses Bold.
    font: list[gr.themes.Font | str] = [
        gr.themes.LocalFont("Source Sans Pro", weights=(400, 700)),
        "ui-sans-serif",
        "system-ui",
        "sans-serif",
    ]
    base = gr.themes.Default(primary_hue="indigo", secondary_hue="slate", neutral_hue="slate", font=font)
    # WCAG AA (4.5:1 for body text, checked by axe-core in tests/test_browser_a11y.py): Gradio's
    # defaults put slate-400 subdued text (2.6:1 on white), indigo-500 on white and white on it
    # (4.47:1) and white on red-500 (3.8:1). Darker shades pass: slate-600 7.6:1, indigo-600 6.3:1,
    # red-700 6.5:1. The dark mode's own shades already passed.
    # The accent has no dark variant in the theme: CSS sets a lighter one for the dark mode.
    return base.set(
        body_text_color_subdued="*neutral_600",
        color_accent="*primary_600",
        button_primary_background_fill="*primary_600",
        button_primary_background_fill_hover="*primary_700",
        button_cancel_background_fill=gr.themes.colors.red.c700,
        button_cancel_background_fill_hover=gr.themes.colors.red.c800,
    )


CSS = """
/* The accent on the dark background: indigo-600 reads at 2.8:1 on slate-900, indigo-400 at 6.0:1. */
.dark { --color-accent: var(--primary-400) !important; }
.gradio-container { width: 100% !important; max-width: 1360px !important; margin: 0 auto !important; }
#rag-header h1 { margin: 0; font-size: 1.45rem; }
#rag-header p { margin: 2px 0 0; color: var(--body-text-color-subdued); }

.rag-question { white-space: pre-wrap; }
.rag-answer p { margin: 0 0 .5em; line-height: 1.6; }
.rag-answer p:last-child { margin-bottom: 0; }
a.rag-cite {
  font-size: .75em; font-weight: 600; vertical-align: super; line-height: 0;
  text-decoration: none !important; color: var(--color-accent) !important;
  padding: 0 1px; margin-left: 1px; border-radius: 3px;
}
a.rag-cite:hover { background: var(--color-accent-soft); }
.rag-flag {
  display: inline-block; font-size: .72em; font-weight: 600; line-height: 1.5;
  padding: 0 7px; margin-left: 4px; border-radius: 999px; vertical-align: middle; white-space: nowrap;
}
.rag-flag.rag-weak { background: #fef3c7; color: #92400e; border: 1px solid #fcd34d; }
.rag-flag.rag-unsupported { background: #fee2e2; color: #991b1b; border: 1px solid #fca5a5; }
.rag-sentence.rag-unsupported { text-decoration: underline wavy #ef4444; text-underline-offset: 3px; }
.rag-status { color: var(--body-text-color-subdued); font-style: italic; }
.rag-error {
  color: #991b1b; background: #fef2f2; border: 1px solid #fecaca;
  padding: 6px 10px; border-radius: 6px;
}
.rag-abstained { border-left: 3px solid #f59e0b; padding-left: 10px; }
.rag-abstained-label { font-weight: 600; color: #b45309; margin-bottom: 4px; }
.rag-note { color: var(--body-text-color-subdued); font-size: .9em; }
.rag-streaming p:last-child::after { content: "▍"; opacity: .6; }

details.rag-trace {
  margin-top: .7em; padding-top: .4em; font-size: .82em;
  border-top: 1px dashed var(--border-color-primary);
}
details.rag-trace summary { cursor: pointer; color: var(--body-text-color-subdued); font-weight: 600; }
details.rag-trace table { border-collapse: collapse; width: 100%; margin: .5em 0; }
details.rag-trace th, details.rag-trace td {
  border-style: solid !important; border-width: 0 0 1px 0 !important;
  border-color: var(--border-color-primary) !important;
  padding: 3px 6px; text-align: left; vertical-align: top;
}
details.rag-trace th { white-space: nowrap; font-weight: 600; }
details.rag-trace td:not(:last-child) { white-space: nowrap; width: 1%; font-variant-numeric: tabular-nums; }
.rag-source header, .rag-section-title { font-weight: 600; }
.rag-snippet { color: var(--body-text-color-subdued); }

/* h2 under the page's h1; sized as a card heading. */
.rag-sources h2 { font-size: 1rem; margin: 0 0 .6em; }
.rag-source {
  border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 10px 12px; margin-bottom: 10px;
  background: var(--background-fill-primary); box-shadow: 0 1px 2px rgba(0, 0, 0, .04);
}
.rag-source:target { outline: 2px solid var(--color-accent); }
.rag-source header { line-height: 1.35; }
.rag-num { color: var(--color-accent); margin-right: 2px; }
.rag-meta { font-size: .8em; color: var(--body-text-color-subdued); margin: 3px 0 8px; }
.rag-file { font-family: var(--font-mono); font-size: .95em; }
.rag-passage {
  position: relative; margin: 0 !important; padding: 0 0 0 10px; border-left: 3px solid var(--border-color-primary);
  font-size: .88em; line-height: 1.55; max-height: 22em; overflow-y: auto;
}
.rag-passage p { margin: 0 0 .5em !important; }
.rag-passage p:last-child { margin-bottom: 0 !important; }
.rag-section-title { font-size: 1.05rem; margin: 4px 0; }
mark.rag-supported { background: #fde68a; color: #1f2937; padding: 0 2px; border-radius: 3px; }
mark.rag-weak { background: #fef3c7; color: #1f2937; padding: 0 2px; border-bottom: 2px dashed #d97706; }
mark.rag-unsupported { background: #fee2e2; color: #1f2937; padding: 0 2px; }

/* The tip spans its paragraph, just above it: a link near either edge of the chat never pushes it out. */
.rag-answer p { position: relative; }
.rag-cite-tip {
  display: none; position: absolute; left: 0; right: 0; bottom: calc(100% + 4px); z-index: 30;
  padding: 6px 8px; border-radius: 6px; font-size: .82rem; line-height: 1.4;
  font-weight: 400; background: var(--background-fill-primary); color: var(--body-text-color);
  border: 1px solid var(--border-color-primary); box-shadow: 0 2px 8px rgba(0, 0, 0, .15); white-space: normal;
}
.rag-cite-wrap:hover .rag-cite-tip, .rag-cite-wrap:focus-within .rag-cite-tip { display: block; }
details.rag-more { margin: 4px 0 10px; }
details.rag-more summary {
  cursor: pointer; color: var(--body-text-color-subdued); font-weight: 600; margin-bottom: 8px;
}
.rag-sources-for { margin: -.4em 0 .6em; font-size: .9em; color: var(--body-text-color-subdued); }
.rag-copy { margin-top: .4em; }
.rag-copy-text { display: none; }
button.rag-copy-button {
  font-size: .8em; padding: 1px 10px; border-radius: 6px; cursor: pointer;
  border: 1px solid var(--border-color-primary); background: var(--background-fill-primary);
  color: var(--body-text-color);
}
#rag-chat-controls { gap: 6px; }
#rag-chat-controls button { min-width: 0; }
:focus-visible { outline: 2px solid var(--color-accent) !important; outline-offset: 2px; }

/* Long file names break anywhere rather than push the table past the screen's edge. */
table.rag-documents .rag-file, details.rag-trace .rag-file { overflow-wrap: anywhere; word-break: break-word; }
/* So do titles: an untitled document's is its file name (003_c00ce55952bfa148), one long word. */
table.rag-documents td:first-child, .rag-source .rag-title { overflow-wrap: anywhere; }
#rag-upload-results { min-height: 2.5em; }
#rag-remove-confirm { border: 1px solid #fca5a5; border-radius: 8px; padding: 8px; }
button.rag-remove-row {
  font-size: .85em; padding: 1px 8px; border-radius: 6px; cursor: pointer; white-space: nowrap;
  border: 1px solid var(--border-color-primary); background: var(--background-fill-primary);
  color: var(--body-text-color);
}
button.rag-remove-row:hover { border-color: #dc2626; color: #b91c1c; }
.dark button.rag-remove-row:hover { color: #fca5a5; }
.rag-row-actions { margin-top: 3px; }

/* The chat leaves room for the question box and the buttons under it on the first screen. */
#rag-chat { height: min(640px, calc(100vh - 300px)) !important; min-height: 360px; }

/* Phones: the chat leaves room for the question box and the first source, each trace row stacks
   (numbers on one line, the passage under them), and the documents table drops nothing. */
@media (max-width: 640px) {
  #rag-chat { height: 46vh !important; min-height: 300px; }
  #rag-header h1 { font-size: 1.2rem; }
  #rag-header p { font-size: .85rem; }
  details.rag-trace thead tr, details.rag-trace tbody tr {
    display: grid; grid-template-columns: repeat(5, auto); column-gap: 4px;
    border-bottom: 1px solid var(--border-color-primary);
  }
  details.rag-trace th, details.rag-trace td { border-width: 0 !important; padding: 2px 3px; }
  details.rag-trace td:not(:last-child) { width: auto; }
  details.rag-trace th:last-child { display: none; }
  details.rag-trace td:last-child { grid-column: 1 / -1; }
  table.rag-documents { font-size: .85em; }
  table.rag-documents th, table.rag-documents td { padding: 5px 4px; }
}

table.rag-documents, details.rag-trace table, table.rag-documents tr, details.rag-trace tr {
  border-width: 0 !important;
}
table.rag-documents { border-collapse: collapse; width: 100%; font-size: .92em; }
table.rag-documents caption { text-align: left; color: var(--body-text-color-subdued); padding-bottom: 6px; }
table.rag-documents th, table.rag-documents td {
  border-style: solid !important; border-width: 0 0 1px 0 !important;
  border-color: var(--border-color-primary) !important;
  padding: 6px 8px; text-align: left; vertical-align: top;
}
table.rag-documents th { font-weight: 600; }
ul.rag-results { list-style: none; padding: 0; margin: 0; }
ul.rag-results li { padding: 3px 0; }
.rag-ok { color: #15803d; font-weight: 600; }
.rag-skip { color: #b45309; font-weight: 600; }
/* On the dark background the light mode's green and amber read at 3.5:1: lighter shades pass AA.
   One selector a rule: Gradio's CSS scoping misplaces .dark in the second selector of a list. */
.dark .rag-ok { color: #4ade80; }
.dark .rag-skip { color: #fbbf24; }
.dark .rag-abstained-label { color: #fbbf24; }
"""
