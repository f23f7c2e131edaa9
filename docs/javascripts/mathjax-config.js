// MathJax 3 for pymdownx.arithmatex (generic mode), served from this site:
// no CDN, so the lessons render offline too.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex",
  },
};
// Typesets once on load: the theme's instant navigation is off, so every
// page is a fresh load.
