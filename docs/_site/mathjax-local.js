/* MathJax 2.7 local configuration of the w2v-tf site (loaded as config=...,local/local).
 * Only the STIX-Web fonts ship with the vendored MathJax, so use them and never fetch others. */
MathJax.Hub.Config({
  "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null},
  SVG: {font: "STIX-Web"},
  messageStyle: "none",
  menuSettings: {zoom: "None"}
});
MathJax.Ajax.loadComplete("[MathJax]/config/local/local.js");
