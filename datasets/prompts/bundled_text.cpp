#include "datasets/prompts/bundled_text.h"

#include <algorithm>
#include <stdexcept>

namespace qbench {

std::string_view bundled_prompt_text() {
  // Plain English on varied topics so the token mix resembles real prompts.
  return R"(The harbour town woke slowly in the winter months. Fishing boats left before dawn, their lamps swinging over the black water, and by the time the bakery opened the first crates of mackerel were already stacked on the quay. Children walked to school along the sea wall, counting the gulls and arguing about whether the lighthouse keeper had ever really seen a whale.

A benchmark is only useful when somebody else can run it again and get the same answer. That means writing down the machine, the software revision, the model file, the exact prompt and the number of tokens generated, and it means reporting the spread of the measurements, not only the best run. A single number without its conditions is an anecdote.

Memory bandwidth sets the pace of token-by-token generation on most hardware. Every new token needs every weight of the model once, so a model that occupies four gigabytes on a device that reads one hundred gigabytes per second cannot produce more than about twenty-five tokens per second, however clever the arithmetic. Quantisation helps because it shrinks the bytes that must be read, and it hurts when the extra work of unpacking the numbers costs more time than the saved bytes.

In the old library on the hill there is a reading room with tall windows facing west. On clear evenings the light falls across the long oak tables, and the librarian, who has worked there for thirty-one years, turns on the green lamps one by one. Students come to revise for examinations in chemistry, law and music; retired engineers come to read the newspapers from three countries; a poet comes every Thursday and writes nothing at all.

To bake a simple loaf, mix five hundred grams of flour with ten grams of salt, seven grams of dried yeast and about three hundred and fifty millilitres of warm water. Knead the dough for ten minutes until it is smooth and springy, cover it, and leave it somewhere warm for an hour. Shape it, let it rise again, and bake it in a hot oven for thirty to thirty-five minutes, until the base sounds hollow when tapped.

The committee met on Tuesday to discuss the new timetable for the regional railway. Three proposals were on the table: more frequent trains in the morning peak, a later last train on Fridays and Saturdays, and a new stop at the hospital. The finance officer explained that the budget allowed for two of the three, and after a long debate the members voted for the hospital stop and the later weekend service.

Rivers carry more than water. They move sand, silt and stones from the mountains to the sea, they shape valleys over thousands of years, and they provide a path for fish that return from the ocean to spawn in the gravel beds where they were born. When a dam blocks a river, the sediment settles in the reservoir, the coast downstream slowly loses its beaches, and the fish must find another way or disappear.

def moving_average(values, window):
    """Return the moving average of a list of numbers."""
    if window <= 0:
        raise ValueError("window must be positive")
    out = []
    total = 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out

Question: A train leaves the station at 9:15 and travels at an average speed of 80 kilometres per hour. How far has it travelled by 11:45? Answer: two and a half hours at 80 kilometres per hour is 200 kilometres.
)";
}

std::vector<int32_t> build_prompt_tokens(const Tokenizer& tok, int64_t n) {
  if (n <= 0) throw std::invalid_argument("prompt length must be positive");
  const std::vector<int32_t> base = tok.encode(bundled_prompt_text(), /*parse_special=*/false);
  if (base.empty()) throw std::runtime_error("the tokenizer produced no tokens for the bundled text");
  std::vector<int32_t> out;
  out.reserve(size_t(n));
  while (int64_t(out.size()) < n) {
    const size_t take = std::min<size_t>(base.size(), size_t(n) - out.size());
    out.insert(out.end(), base.begin(), base.begin() + take);
  }
  return out;
}

std::vector<int32_t> build_random_prompt_tokens(int64_t n, int64_t vocab_limit, uint64_t seed) {
  std::vector<int32_t> out(static_cast<size_t>(n));
  uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
  for (auto& t : out) {
    s ^= s << 13; s ^= s >> 7; s ^= s << 17;
    t = int32_t(s % uint64_t(vocab_limit));
  }
  return out;
}

}  // namespace qbench
