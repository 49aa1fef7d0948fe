/* report_html_assets.h — the style and script of `report html` pages, generated at build time from
 * html/report.css and html/report.js by tools/build/embed_text.py (private to report/). */
#ifndef UG_REPORT_HTML_ASSETS_H
#define UG_REPORT_HTML_ASSETS_H

extern const char ug_report_css[];
extern const char ug_report_js[];

#endif
