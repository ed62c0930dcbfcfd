"""The script the page runs once it loads (``launch(js=...)``): what Gradio's components lack for
screen readers and the keyboard, and Copy.

Each fix names the Gradio behaviour it works around; tests/test_browser_a11y.py checks the result
with axe-core and the keyboard.
"""

from __future__ import annotations

JS = """
() => {
  // Gradio names each message after its content, which here is HTML: name it after its text,
  // without the trace, so that a screen reader reads the answer and not its markup.
  const plain = (element) => {
    const label = element.getAttribute('aria-label') || '';
    const colon = label.indexOf(': ');
    if (colon < 0 || !label.includes('<')) return;
    // Parsed into an inert document (nothing in it runs or loads), since the label can be set
    // before the message itself is rendered.
    const parsed = new DOMParser().parseFromString(label.slice(colon + 2), 'text/html').body;
    parsed.querySelectorAll('details, .rag-copy, .rag-cite-tip').forEach((part) => part.remove());
    element.setAttribute('aria-label', label.slice(0, colon + 2) + parsed.textContent.replace(/\\s+/g, ' ').trim());
  };
  // Gradio names its upload area "Click to upload or drop files" while it shows "Drop File Here
  // - or - Click to Upload": speech input users say what they see, so the name is the visible text.
  const visible = (element) => {
    const text = element.textContent.replace(/\\s+/g, ' ').trim();
    if (text && element.getAttribute('aria-label') !== text) element.setAttribute('aria-label', text);
  };
  // The empty chat's example questions are buttons in a role="list", which may hold only list
  // items: a named group says the same without the broken structure.
  const group = (element) => {
    element.setAttribute('role', 'group');
    element.setAttribute('aria-label', 'Example questions');
  };
  // Gradio slides a closed side panel off screen but leaves its controls in the tab order, so the
  // keyboard would land on buttons nobody sees: closed, its content is inert.
  const panel = (sidebar) => {
    if (sidebar.dataset.ragInert) return;
    sidebar.dataset.ragInert = '1';
    const sync = () => {
      const content = sidebar.querySelector('.sidebar-content');
      if (content) content.inert = !sidebar.classList.contains('open');
    };
    sync();
    new MutationObserver(sync).observe(sidebar, { attributes: true, attributeFilter: ['class'] });
  };
  // Clicking an answer brings its sources back: the keyboard gets it too (Tab to it, then Enter).
  const selectable = (message) => message.setAttribute('tabindex', '0');
  const UPLOAD = 'button.upload-container[aria-label]';
  const EXAMPLES = '.examples[role="list"]';
  const BOT = '#rag-chat [data-testid="bot"]:not([tabindex])';
  const all = (root) => {
    if (!root.querySelectorAll) return;
    root.querySelectorAll('[aria-label*="<"]').forEach(plain);
    const fixes = [[UPLOAD, visible], [EXAMPLES, group], ['#rag-sidebar', panel], [BOT, selectable]];
    for (const [selector, fix] of fixes) {
      if (root.matches && root.matches(selector)) fix(root);  // the document itself has no matches()
      root.querySelectorAll(selector).forEach(fix);
    }
  };
  new MutationObserver((records) => {
    for (const record of records) {
      if (record.type === 'attributes') plain(record.target);
      else record.addedNodes.forEach(all);
    }
  }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['aria-label'] });
  all(document);
  // Copy: the answer as plain text with its numbered sources, kept beside the button as text.
  document.addEventListener('click', (event) => {
    const button = event.target.closest && event.target.closest('.rag-copy-button');
    if (!button) return;
    event.stopPropagation();
    const text = button.parentElement.querySelector('.rag-copy-text').textContent;
    const done = () => {
      button.textContent = 'Copied';
      setTimeout(() => { button.textContent = 'Copy answer'; }, 1500);
    };
    const fallback = () => {  // plain http on another host offers no clipboard API
      const area = document.createElement('textarea');
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand('copy');
      area.remove();
      done();
    };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback);
    else fallback();
  }, true);
  document.addEventListener('keydown', (event) => {
    const target = event.target;
    const message = target.matches && target.matches('#rag-chat [data-testid="bot"]');
    if (message && (event.key === 'Enter' || event.key === ' ')) {
      event.preventDefault();
      target.click();
    }
  });
  // Focus the question box on wide screens without scrolling the header away; on a phone,
  // focusing would also open the keyboard over the page.
  if (window.matchMedia('(min-width: 641px)').matches) {
    const focus = (tries) => {
      const box = document.querySelector('#rag-question textarea');
      if (box) box.focus({ preventScroll: true });
      else if (tries > 0) setTimeout(() => focus(tries - 1), 100);
    };
    focus(50);
  }
}
"""
