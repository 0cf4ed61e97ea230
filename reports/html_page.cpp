#include "reports/html_page.h"

#include <fstream>
#include <sstream>

#include "engines/core/error.h"
#include "reports/metric_catalog.h"
#include "reports/units.h"

namespace qbench::report {

std::string html_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string inline_svg(const std::string& svg) {
  const auto start = svg.find("<svg");
  const auto end = svg.rfind("</svg>");
  if (start == std::string::npos || end == std::string::npos || end < start) throw Error("chart is not an SVG document");
  return svg.substr(start, end + 6 - start);
}

namespace {

const char* kStyle = R"(body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC",sans-serif;margin:2em;color:#222;background:#fff}
table{border-collapse:collapse;margin:1em 0;font-size:14px}
th,td{border:1px solid #ccc;padding:4px 8px}
th{background:#f0f3f7}
td.n{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1.5em 0}
figure svg{max-width:100%;height:auto;border:1px solid #eee}
.note{color:#666;font-size:13px})";

std::string cell(const std::string& s, bool num) { return std::string("<td") + (num ? " class=\"n\"" : "") + ">" + html_escape(s) + "</td>"; }

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw Error(p + ": cannot read chart");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string html_page(const HtmlInputs& in) {
  const Lang L = in.lang;
  const auto& rows = *in.rows;
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"" << (L == Lang::zh ? "zh" : "en") << "\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>"
    << html_escape(label("title", L)) << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n";
  o << "<h1>" << html_escape(label("title", L)) << "</h1>\n<table id=\"tradeoff\">\n<thead><tr>";
  for (const char* c : {"model", "backend", "format", "device", "workload", "memory_mb", "ttft_ms", "tpot_ms", "decode_tokens_per_s",
                        "mmlu_accuracy", "mmlu_drop", "kl_mean", "perplexity"})
    o << "<th>" << html_escape(label(c, L)) << "</th>";
  o << "</tr></thead>\n<tbody>\n";
  for (const auto& r : rows) {
    o << "<tr>" << cell(r.m.key.model, false) << cell(r.m.key.backend, false) << cell(r.m.format.empty() ? "–" : r.m.format, false)
      << cell(r.m.key.device, false) << cell(r.m.key.workload, false);
    for (const char* m : {"memory_mb", "ttft_ms", "tpot_ms", "decode_tokens_per_s", "mmlu_accuracy"})
      o << cell(format_stat(row_stat(r, m), find_metric(m)->decimals), true);
    o << cell(r.mmlu_drop_pp ? format_fixed(*r.mmlu_drop_pp, 2) : "–", true)
      << cell(format_stat(row_stat(r, "kl_mean"), find_metric("kl_mean")->decimals), true)
      << cell(format_stat(row_stat(r, "perplexity"), find_metric("perplexity")->decimals), true) << "</tr>\n";
  }
  o << "</tbody>\n</table>\n<p class=\"note\">" << html_escape(label("spread_note", L)) << "</p>\n";

  if (in.costs && !in.costs->empty()) {
    o << "<h2>" << html_escape(label("cost_title", L)) << "</h2>\n<table id=\"cost\">\n<thead><tr>";
    for (const char* c : {"model", "backend", "device", "price_per_hour", "cost_index", "cost_per_mtok", "requests_per_day"})
      o << "<th>" << html_escape(label(c, L)) << "</th>";
    o << "</tr></thead>\n<tbody>\n";
    for (const auto& c : *in.costs) {
      const auto& r = rows[c.row];
      o << "<tr>" << cell(r.m.key.model, false) << cell(r.m.key.backend, false) << cell(c.price_key, false)
        << cell(format_fixed(c.price.per_hour, 2) + " " + c.price.currency, true) << cell(c.index ? format_fixed(*c.index, 1) : "–", true)
        << cell(c.cost_per_mtok ? format_fixed(*c.cost_per_mtok, 3) + " " + c.price.currency : "–", true)
        << cell(c.requests_per_day ? format_fixed(*c.requests_per_day, 0) : "–", true) << "</tr>\n";
    }
    o << "</tbody>\n</table>\n";
  }
  if (in.recs && !in.recs->empty()) {
    o << "<h2>" << html_escape(label("recommend_title", L)) << "</h2>\n<table id=\"recommendations\">\n<thead><tr><th>"
      << html_escape(label("scenario", L)) << "</th><th>" << html_escape(label("choice", L)) << "</th><th>" << html_escape(label("rule", L))
      << "</th></tr></thead>\n<tbody>\n";
    for (const auto& r : *in.recs)
      o << "<tr>" << cell(label(r.scenario, L), false) << cell(r.row ? row_name(rows[*r.row]) : "–", false) << cell(r.rule, false)
        << "</tr>\n";
    o << "</tbody>\n</table>\n";
  }
  if (in.charts && !in.charts->empty()) {
    o << "<h2>" << html_escape(label("charts_title", L)) << "</h2>\n";
    for (const auto& c : *in.charts)
      o << "<figure id=\"chart-" << html_escape(c.name) << "\">\n" << inline_svg(slurp(c.svg)) << "\n<figcaption>" << html_escape(c.title)
        << "</figcaption>\n</figure>\n";
  }
  for (const auto& n : in.notes) o << "<p class=\"note\">" << html_escape(n) << "</p>\n";
  o << "</body>\n</html>\n";
  return o.str();
}

}  // namespace qbench::report
