#include "datasets/calibration/calibration_text.h"

#include <fstream>
#include <sstream>

#include "engines/core/error.h"

namespace qbench {

std::string_view bundled_calibration_text() {
  // Written for qbench. Varied on purpose: quantizers see activations of
  // prose, lists, dialogue, code, arithmetic and non-Latin script.
  static constexpr std::string_view kText = R"TXT(The river had been rising for three days before anyone in the valley thought to move the grain. By the fourth morning the water reached the mill steps, and the miller, a patient man who had seen floods before, began carrying sacks up to the loft one at a time. His daughter counted them as they passed: forty-one, forty-two, forty-three. Neither of them spoke about the bridge, which everyone could hear groaning in the current.

A short guide to measuring bread dough by weight. Flour: 500 grams. Water: 350 grams, which is a hydration of seventy percent. Salt: 10 grams. Yeast: 3 grams if the kitchen is warm, 5 grams if it is cold. Mix the flour and water first and let them rest for thirty minutes; the dough becomes easier to knead once the flour has absorbed the water. Fold it every half hour for two hours, then shape it and let it rise overnight in a cool place.

Q: Why does the sky look blue during the day but red at sunset?
A: Sunlight contains every color. Air molecules scatter short wavelengths, like blue, much more strongly than long ones, like red. At noon, light crosses a thin layer of air and the scattered blue reaches us from every direction. At sunset, light travels through far more air, most of the blue is scattered away before it arrives, and the remaining light is dominated by orange and red.

def moving_average(values, window):
    """Return the mean of each run of `window` consecutive values."""
    if window <= 0:
        raise ValueError("window must be positive")
    total = sum(values[:window])
    out = [total / window]
    for i in range(window, len(values)):
        total += values[i] - values[i - window]
        out.append(total / window)
    return out

for (int i = 0; i < n; ++i) {
    sum += a[i] * b[i];
}
printf("dot product = %f\n", sum);

The committee met on Tuesday, 14 March, at 10:30. Present were the chair, the treasurer and four members. The treasurer reported a balance of 12,480.75, an increase of 3.2 percent over the previous quarter, mainly from membership fees. It was agreed to repair the roof of the east hall before winter, to invite three contractors to quote, and to postpone the purchase of new chairs until the spring.

"Are you sure this is the right road?" she asked, folding the map for the third time.
"No," he said, "but it is the only road, and that makes it right enough for now."

Compound interest grows a deposit by a fixed fraction each period. With a rate of 5 percent a year, 1000 becomes 1050 after one year, 1102.50 after two and about 1628.89 after ten. The rule of seventy-two says the money doubles in roughly 72 / 5 = 14.4 years.

春天来了，山上的雪慢慢融化，小河里的水也多了起来。村子里的人开始在田里播种，孩子们在河边放风筝。老人们说，今年的雨水应该不错，收成也会比去年好。

Photosynthesis converts light energy into chemical energy. In the chloroplasts of plant cells, water is split, oxygen is released, and carbon dioxide is fixed into sugars. The overall reaction can be written as 6 CO2 + 6 H2O -> C6H12O6 + 6 O2, although the real process runs through dozens of intermediate steps driven by enzymes.

SELECT customer_id, COUNT(*) AS orders, SUM(total) AS revenue
FROM orders
WHERE created_at >= '2024-01-01'
GROUP BY customer_id
ORDER BY revenue DESC
LIMIT 10;

Every lighthouse keeper kept a log. Wind from the south-west, force six. Visibility poor after midnight. Lamp trimmed at two, at four and at six. A fishing boat passed close to the rocks at half past three and answered the signal. Nothing else to report.
)TXT";
  return kText;
}

std::vector<std::vector<int32_t>> calibration_sequences(const Tokenizer& tok, const std::string& path, int64_t seq_len,
                                                        int64_t max_seqs) {
  if (seq_len <= 0 || max_seqs <= 0) throw Error("calibration: sequence length and count must be positive");
  std::string text;
  if (path.empty()) {
    text = std::string(bundled_calibration_text());
  } else {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error(path + ": cannot open calibration text");
    std::ostringstream ss;
    ss << f.rdbuf();
    text = ss.str();
  }
  const std::vector<int32_t> ids = tok.encode(text, /*parse_special=*/false);
  if (ids.size() < 16) throw Error((path.empty() ? std::string("bundled calibration text") : path) + ": too little text to calibrate on");
  std::vector<std::vector<int32_t>> out;
  for (size_t i = 0; i < ids.size() && int64_t(out.size()) < max_seqs; i += size_t(seq_len)) {
    const size_t end = std::min(ids.size(), i + size_t(seq_len));
    if (end - i < 16) break;
    out.emplace_back(ids.begin() + long(i), ids.begin() + long(end));
  }
  return out;
}

}  // namespace qbench
