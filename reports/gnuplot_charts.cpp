#include "reports/gnuplot_charts.h"

#include <sys/wait.h>

#include <algorithm>
#include <optional>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "engines/core/error.h"
#include "reports/units.h"

namespace fs = std::filesystem;

namespace qbench::report {

namespace {

std::string sh_quote(const std::string& s) {
  std::string o = "'";
  for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return o + "'";
}

// gnuplot strings in double quotes: escape backslash and quote.
std::string gp_str(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (c == '\n') continue;
    o += c;
  }
  return o + "\"";
}

void write(const fs::path& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  if (!f) throw Error(p.string() + ": cannot write");
  f << s;
}

// Row labels: the backend, plus workload / model only when they vary.
std::vector<std::string> row_labels(const std::vector<TradeoffRow>& rows) {
  std::set<std::string> models, workloads, devices;
  for (const auto& r : rows) {
    models.insert(r.m.key.model);
    workloads.insert(r.m.key.workload);
    devices.insert(r.m.key.device);
  }
  std::vector<std::string> out;
  for (const auto& r : rows) {
    std::string l = r.m.key.backend;
    if (devices.size() > 1) l += "@" + r.m.key.device;
    if (workloads.size() > 1) l += " " + r.m.key.workload;
    if (models.size() > 1) l = r.m.key.model + " " + l;
    out.push_back(l);
  }
  return out;
}

struct Box {
  double min, q1, med, q3, max;
};

std::optional<Box> box_of(const TradeoffRow& r, const std::string& metric) {
  auto it = r.m.samples.find(metric);
  if (it != r.m.samples.end() && !it->second.empty()) {
    const auto& v = it->second;
    return Box{*std::min_element(v.begin(), v.end()), percentile_of(v, 25), percentile_of(v, 50), percentile_of(v, 75),
               *std::max_element(v.begin(), v.end())};
  }
  auto s = row_stat(r, metric);
  if (!s) return std::nullopt;
  return Box{s->min, s->median, s->median, s->median, s->max};  // summary only: no quartiles
}

std::string terminals(const ChartOptions& o, const fs::path& stem, const std::string& plot) {
  std::ostringstream s;
  s << "set terminal pngcairo size " << o.width << "," << o.height << " noenhanced font 'sans,10'\n"
    << "set output " << gp_str(stem.string() + ".png") << "\n"
    << plot << "set output\n"
    << "set terminal svg size " << o.width << "," << o.height << " noenhanced font 'sans,10' background '#ffffff'\n"
    << "set output " << gp_str(stem.string() + ".svg") << "\n"
    << plot << "set output\n";
  return s.str();
}

void run_gnuplot(const std::string& gnuplot, const fs::path& script) {
  const std::string cmd = sh_quote(gnuplot) + " " + sh_quote(script.string()) + " 2>" + sh_quote(script.string() + ".log");
  const int rc = std::system(cmd.c_str());
  if (rc != 0) {
    std::ifstream in(script.string() + ".log");
    std::stringstream ss;
    ss << in.rdbuf();
    throw Error("gnuplot failed on " + script.string() + ": " + ss.str().substr(0, 1000));
  }
}

}  // namespace

bool gnuplot_available(const std::string& gnuplot) {
  const std::string cmd = sh_quote(gnuplot) + " --version >/dev/null 2>&1";
  const int rc = std::system(cmd.c_str());
  return rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
}

std::vector<size_t> pareto_front(const std::vector<std::pair<double, double>>& xy) {
  std::vector<size_t> front;
  for (size_t i = 0; i < xy.size(); ++i) {
    bool dominated = false;
    for (size_t j = 0; j < xy.size() && !dominated; ++j)
      dominated = j != i && xy[j].first <= xy[i].first && xy[j].second >= xy[i].second &&
                  (xy[j].first < xy[i].first || xy[j].second > xy[i].second);
    if (!dominated) front.push_back(i);
  }
  std::sort(front.begin(), front.end(), [&](size_t a, size_t b) { return xy[a].first < xy[b].first; });
  return front;
}

std::vector<Chart> draw_charts(const std::vector<TradeoffRow>& rows, const ChartOptions& o) {
  if (!gnuplot_available(o.gnuplot))
    throw Error("gnuplot not found ('" + o.gnuplot +
                "'): install it (Debian: apt-get install gnuplot-nox; scripts/setup.sh does) or pass --gnuplot PATH; "
                "tables were written without charts");
  const fs::path dir(o.dir);
  fs::create_directories(dir / "data");
  const auto labels = row_labels(rows);
  std::vector<Chart> charts;
  auto add = [&](const std::string& name, const std::string& title, const std::string& data, const std::string& plot) {
    write(dir / "data" / (name + ".dat"), data);
    const fs::path script = dir / "data" / (name + ".gp");
    write(script, "# qbench report chart: gnuplot " + name + ".gp (run from this directory's parent)\n" +
                      terminals(o, dir / name, "set title " + gp_str(title) + "\n" + plot));
    run_gnuplot(o.gnuplot, script);
    charts.push_back({name, title, (dir / (name + ".png")).string(), (dir / (name + ".svg")).string()});
  };
  auto dat = [&](const std::string& n) { return gp_str((dir / "data" / (n + ".dat")).string()); };

  // 1. Speed vs quality loss; the x axis is the best quality measure present.
  {
    std::string xkey, xlabel;
    auto xval = [&](const TradeoffRow& r) -> std::optional<double> {
      if (xkey == "mmlu_drop") return r.mmlu_drop_pp;
      auto s = row_stat(r, xkey);
      return s ? std::optional<double>(s->median) : std::nullopt;
    };
    for (const auto& r : rows)
      if (r.mmlu_drop_pp) xkey = "mmlu_drop";
    if (xkey.empty())
      for (const auto& r : rows)
        if (row_stat(r, "kl_mean")) xkey = "kl_mean";
    if (xkey.empty()) xkey = "memory_mb";
    xlabel = label(xkey, o.lang);
    std::vector<std::pair<double, double>> xy;
    std::vector<size_t> idx;
    for (size_t i = 0; i < rows.size(); ++i) {
      auto x = xval(rows[i]);
      auto y = row_stat(rows[i], "decode_tokens_per_s");
      if (x && y) {
        xy.emplace_back(*x, y->median);
        idx.push_back(i);
      }
    }
    if (!xy.empty()) {
      std::ostringstream d;
      d << "# x y label\n";
      for (size_t k = 0; k < xy.size(); ++k) d << xy[k].first << " " << xy[k].second << " " << gp_str(labels[idx[k]]) << "\n";
      d << "\n\n# pareto front\n";
      for (size_t k : pareto_front(xy)) d << xy[k].first << " " << xy[k].second << "\n";
      std::ostringstream p;
      p << "set xlabel " << gp_str(xlabel) << "\nset ylabel " << gp_str(label("decode_tokens_per_s", o.lang))
        << "\nset grid\nset key top right\nset offsets graph 0.1, graph 0.1, graph 0.1, graph 0.1\n"
        << "plot " << dat("pareto") << " index 1 with linespoints lw 2 lc rgb '#d62728' pt 6 ps 2 title "
        << gp_str(label("pareto_front", o.lang)) << ", \\\n  '' index 0 using 1:2 with points pt 7 ps 1.5 lc rgb '#1f77b4' notitle, \\\n"
        << "  '' index 0 using 1:2:3 with labels offset 0,1.2 notitle\n";
      add("pareto", label("chart_pareto", o.lang), d.str(), p.str());
    }
  }
  // 2. Memory stacked bars.
  {
    std::ostringstream d;
    int n = 0;
    d << "# label weights kv_cache activations (MB)\n";
    for (size_t i = 0; i < rows.size(); ++i)
      if (rows[i].m.memory) {
        const auto& m = *rows[i].m.memory;
        d << gp_str(labels[i]) << " " << m.weights / 1e6 << " " << m.kv_cache / 1e6 << " " << m.activations / 1e6 << "\n";
        ++n;
      }
    if (n) {
      std::ostringstream p;
      p << "set style data histograms\nset style histogram rowstacked\nset style fill solid 0.8 border -1\nset boxwidth 0.6\n"
        << "set ylabel " << gp_str(label("memory_mb", o.lang)) << "\nset yrange [0:*]\nset grid ytics\nset key top right\n"
        << "set xtics rotate by -30\n"
        << "plot " << dat("memory") << " using 2:xtic(1) title " << gp_str(label("weights", o.lang)) << " lc rgb '#1f77b4', \\\n"
        << "  '' using 3 title " << gp_str(label("kv_cache", o.lang)) << " lc rgb '#ff7f0e', \\\n"
        << "  '' using 4 title " << gp_str(label("activations", o.lang)) << " lc rgb '#2ca02c'\n";
      add("memory", label("chart_memory", o.lang), d.str(), p.str());
    }
  }
  // 3-4. TTFT and TPOT distributions: box (quartiles) and whiskers (min/max) per row.
  for (const std::string metric : {"ttft_ms", "tpot_ms"}) {
    std::ostringstream d;
    int n = 0;
    d << "# x min q1 median q3 max label\n";
    for (size_t i = 0; i < rows.size(); ++i)
      if (auto b = box_of(rows[i], metric)) {
        d << n << " " << b->min << " " << b->q1 << " " << b->med << " " << b->q3 << " " << b->max << " " << gp_str(labels[i]) << "\n";
        ++n;
      }
    if (!n) continue;
    const std::string name = metric == "ttft_ms" ? "ttft" : "tpot";
    std::ostringstream p;
    p << "set style fill solid 0.4 border -1\nset boxwidth 0.5\nset xrange [-0.6:" << n - 0.4 << "]\n"
      << "set ylabel " << gp_str(label(metric, o.lang)) << "\nset grid ytics\nset xtics rotate by -30\nunset key\n"
      << "plot " << dat(name) << " using 1:3:2:6:5:xtic(7) with candlesticks whiskerbars 0.5 lc rgb '#1f77b4', \\\n"
      << "  '' using 1:4:4:4:4 with candlesticks lw 2 lc rgb '#d62728'\n";
    add(name, label(metric == "ttft_ms" ? "chart_ttft" : "chart_tpot", o.lang), d.str(), p.str());
  }
  // 5. Throughput vs concurrency, when a throughput workload measured it.
  {
    std::ostringstream d, p;
    int series = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
      if (rows[i].m.concurrency.empty()) continue;
      d << "# " << labels[i] << "\n";
      for (const auto& [c, t] : rows[i].m.concurrency) d << c << " " << t << "\n";
      d << "\n\n";
      p << (series ? ", \\\n  " : "plot ") << dat("concurrency") << " index " << series << " with linespoints lw 2 title "
        << gp_str(labels[i]);
      ++series;
    }
    if (series) {
      add("concurrency", label("chart_concurrency", o.lang), d.str(),
          "set xlabel " + gp_str(label("concurrency", o.lang)) + "\nset ylabel " + gp_str(label("output_tokens_per_s", o.lang)) +
              "\nset grid\nset logscale x 2\nset key top left\n" + p.str() + "\n");
    }
  }
  return charts;
}

}  // namespace qbench::report
