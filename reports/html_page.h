#pragma once
// One self-contained HTML page: the trade-off table, cost and
// recommendations, and every chart's SVG embedded inline (no external files,
// scripts or fonts), so it can be attached to an issue or a CI run. The page
// is well-formed XML as well as HTML, which the tests check.
#include <string>
#include <vector>

#include "reports/cost_efficiency.h"
#include "reports/gnuplot_charts.h"

namespace qbench::report {

struct HtmlInputs {
  const std::vector<TradeoffRow>* rows = nullptr;
  const std::vector<CostRow>* costs = nullptr;            // may be empty
  const std::vector<Recommendation>* recs = nullptr;
  const std::vector<Chart>* charts = nullptr;             // SVGs are read from disk
  std::vector<std::string> notes;                         // e.g. "charts skipped: gnuplot not found"
  Lang lang = Lang::en;
};

std::string html_page(const HtmlInputs& in);

std::string html_escape(const std::string& s);

// The <svg ...>...</svg> element of an SVG file, without XML prolog/doctype.
std::string inline_svg(const std::string& svg_file_contents);

}  // namespace qbench::report
